"""The reference provider answers concurrent calls as it answers them one by one.

Many createImage calls at once on one instance: exactly one is accepted, the others
are refused as the documents say (the imaging is the instance's own task); a quota of N
images is never exceeded however many calls race for it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from imagecert.checks import expect_refusal, expect_success
from imagecert.target import parse_target
from imagecert.world import World

DIALECT = "jdcloud-vm"
CALLS = 16


@pytest.fixture
def world(provider):
    made = World(parse_target(provider.targets()[DIALECT]))
    yield made
    made.close()


def create_all(world: World, instances: list[str]):
    def create(instance: str):
        return world.api.call("createImage", path={"instanceId": instance}, json={"name": "racing-image"})

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        return list(pool.map(create, instances))


def test_racing_calls_on_one_instance_make_exactly_one_image(world):
    instance = world.make("instance", status="running")
    answers = create_all(world, [instance] * CALLS)
    accepted = [a for a in answers if a.status_code == 200]
    assert len(accepted) == 1, [a.status_code for a in answers]
    expect_success(world.api, accepted[0])
    for refused in (a for a in answers if a.status_code != 200):
        expect_refusal(world.api, refused, "JD-C001")
    assert len(world.resources("image")) == 1


def test_racing_calls_never_exceed_the_image_quota(world):
    world.quota(images=3)
    instances = [world.make("instance", status="running") for _ in range(CALLS)]
    answers = create_all(world, instances)
    assert sum(a.status_code == 200 for a in answers) == 3, [a.status_code for a in answers]
    for refused in (a for a in answers if a.status_code != 200):
        expect_refusal(world.api, refused, "JD-R016")
    assert len(world.resources("image")) == 3
