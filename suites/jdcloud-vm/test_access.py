"""Who may call, and what an unreadable or unknown request gets: signing, permissions,
malformed bodies, unknown paths — always a 4xx in JD's error body, never a 5xx."""

from __future__ import annotations

import json

import pytest

from imagecert.checks import expect_refusal
from imagecert.suitekit import refused
from imagecert.suitekit.jdcloud_vm import FOR_REFUSALS, create, expect_error_body, image_name

JSON = {"Content-Type": "application/json"}


@pytest.mark.test_id("b2ab02f7-3a32-47c4-aeab-94247103e1a1")
@pytest.mark.constraint("JD-C013")
def test_an_unsigned_call_is_refused(world):
    instance = world.make("instance", role=FOR_REFUSALS, status="running")
    expect_refusal(world.api, create(world, instance, api=world.client_without_credentials()), "JD-C013")


@pytest.mark.test_id("b109940a-d59d-4fe3-b97f-82ba0c31cdc0")
@pytest.mark.constraint("JD-C013")
def test_a_call_signed_with_a_wrong_secret_is_refused(world):
    instance = world.make("instance", role=FOR_REFUSALS, status="running")
    expect_refusal(world.api, create(world, instance, api=world.client_with_wrong_secret()), "JD-C013")


@pytest.mark.test_id("45c32167-0144-4521-ac6f-333a96f65079")
@pytest.mark.constraint("JD-C014", "JD-C010")
def test_an_account_that_may_only_read_cannot_make_an_image(world):
    reader = world.client_as("read-only")
    expect_refusal(world.api, create(world, "i-anyinstance", api=reader), "JD-C014")
    expect_refusal(world.api, reader.call("describeImage", path={"imageId": "img-doesnotexist"}), "JD-C010")


@pytest.mark.test_id("77c20c20-aa7e-4248-b367-998fe4d7e733")
@pytest.mark.constraint("JD-C012", "JD-P028")
@pytest.mark.parametrize(
    "case",
    ["not-json", "not-an-object", "unknown-field", "wrong-type-of-an-sdk-field", "huge"],
)
def test_an_unreadable_body_is_refused(world, case):
    bodies = {
        "not-json": b"{",
        "not-an-object": b"[]",
        "unknown-field": json.dumps({"name": image_name("x"), "colour": "red"}).encode(),
        "wrong-type-of-an-sdk-field": json.dumps({"name": image_name("x"), "regionId": 5}).encode(),
        "huge": json.dumps({"name": image_name("x"), "description": "d" * (2 << 20)}).encode(),
    }
    instance = world.make("instance", role=FOR_REFUSALS, status="running")
    refused(world, "JD-C012", world.api.call, "createImage", path={"instanceId": instance}, data=bodies[case],
            headers=JSON)


@pytest.mark.test_id("7448628d-1585-468d-b6c5-2d1e0a9fd9ec")
@pytest.mark.constraint("JD-C011")
def test_a_path_that_is_no_operation_answers_not_found_in_the_error_body(world):
    method, url = world.api.url_for("describeImage", {"imageId": "img-x"})
    response = world.api.send("GET", url.rsplit("/images/", 1)[0] + "/nothing-here")
    expect_error_body(world, response, "JD-C011")
