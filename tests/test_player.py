"""The offline player's rules (imagecert.cassettes.player): a request gets the first
unplayed recorded answer to the same request, each answer once, whether the request is
found as it was sent or only through its match key (ids and dates masked)."""

from __future__ import annotations

import json

import pytest
import requests

from imagecert.cassettes import API_ORIGIN, Interaction, Redactor, default_directory, replay_targets
from imagecert.cassettes.player import NotRecorded, Player, playing

URL = f"{API_ORIGIN}/v1/regions/r1/instances/i-0000000001:createImage"
RECORDED_ID = "00000000-0000-4000-8000-000000000001"
OTHER_ID = "11111111-2222-4333-8444-555555555555"  # another uuid: masked, the same match key


def recorded(body: dict, answer: str) -> Interaction:
    return Interaction("POST", URL, {"Content-Type": "application/json"}, json.dumps(body), 200, "OK",
                       {"Content-Type": ["application/json"]}, json.dumps({"answer": answer}))


def player_of(*interactions: Interaction) -> Player:
    target = replay_targets(default_directory())["jdcloud-vm"]
    return Player(list(interactions), Redactor(target))


def send(body: dict) -> str:
    return requests.post(URL, json=body, timeout=5).json()["answer"]


def test_the_same_request_again_gets_the_recorded_answers_in_order_each_once():
    body = {"name": "a", "id": RECORDED_ID}
    player = player_of(recorded(body, "first"), recorded(body, "second"))
    with playing(player):
        assert [send(body), send(body)] == ["first", "second"]
        with pytest.raises(NotRecorded):
            send(body)
    assert player.played == 2


def test_a_request_that_differs_only_in_masked_values_is_found_by_its_match_key():
    player = player_of(recorded({"name": "a", "id": RECORDED_ID}, "masked"))
    with playing(player):
        assert send({"name": "a", "id": OTHER_ID}) == "masked"
        with pytest.raises(NotRecorded):  # played once, by whichever lookup found it
            send({"name": "a", "id": RECORDED_ID})


def test_another_request_gets_no_answer():
    player = player_of(recorded({"name": "a", "id": RECORDED_ID}, "a"))
    with playing(player):
        with pytest.raises(NotRecorded):
            send({"name": "b", "id": RECORDED_ID})
    assert player.played == 0


def test_an_answer_found_one_way_is_not_played_again_the_other_way():
    as_recorded, other = {"name": "a", "id": RECORDED_ID}, {"name": "a", "id": OTHER_ID}
    player = player_of(recorded(as_recorded, "first"), recorded(other, "second"), recorded(as_recorded, "third"))
    with playing(player):
        # a third uuid: the first unplayed of the three equal requests, by match key
        assert send({"name": "a", "id": "22222222-3333-4444-8555-666666666666"}) == "first"
        # sent as recorded: the first unplayed of its own kind, the first answer is gone
        assert send(as_recorded) == "third"
        assert send(as_recorded) == "second"  # none left as sent: the last one by match key
        with pytest.raises(NotRecorded):
            send(other)
    assert player.played == 3
