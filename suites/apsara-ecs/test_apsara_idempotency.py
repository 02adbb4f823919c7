"""ClientToken makes CreateImage idempotent: the same token with the same parameters
answers as the first call did and makes nothing new, also when the calls race; the
same token with other parameters is refused."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from imagecert.checks import check, expect_success
from imagecert.suitekit import image_name, refused
from imagecert.suitekit.apsara_ecs import describe, form

RACERS = 4


def token() -> str:
    return f"imagecert-{uuid.uuid4()}"


def listed(world, name: str, rule_id: str) -> list[str]:
    return [i["ImageId"] for i in describe(world, rule_id, ImageName=name)["Images"]["Image"]]


def one_image(world, body, answers, calls: str) -> None:
    """The calls with `body` (one ClientToken) made one image, and every answer names it."""
    made = listed(world, body["ImageName"], "APS-B001")
    for image_id in made:
        world.made_image(image_id)
    check(world.api, "APS-B001", len(made) == 1, f"{calls} with one ClientToken made {len(made)} images")
    ids = {a.get("ImageId") for a in answers}
    check(world.api, "APS-B001", len(ids) == 1, f"{calls} with one ClientToken answered different images: {ids}")


@pytest.mark.test_id("7a0f6fe3-e414-498d-ac97-204273173721")
@pytest.mark.constraint("APS-B001")
def test_the_same_token_and_parameters_make_one_image(world):
    body = form(world, InstanceId=world.make("instance", role="instance.running"), ClientToken=token())
    answers = [expect_success(world.api, world.api.call("CreateImage", form=body), "APS-B001", status=200)
               for _ in range(2)]
    one_image(world, body, answers, "two calls")


@pytest.mark.test_id("c650fa44-b5d1-4f91-96a4-32373c922e18")
@pytest.mark.constraint("APS-B001")
def test_racing_calls_with_one_token_make_one_image(world):
    body = form(world, InstanceId=world.make("instance", role="instance.running"), ClientToken=token())
    clients = [world.client(world.auth) for _ in range(RACERS)]
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(lambda api: api.call("CreateImage", form=body), clients))
    answers = [expect_success(world.api, r, "APS-B001", status=200) for r in responses]
    one_image(world, body, answers, f"{RACERS} racing calls")


@pytest.mark.test_id("77af20e5-e102-4311-a627-9477b8e0814a")
@pytest.mark.constraint("APS-B002")
def test_the_same_token_with_other_parameters_is_refused(world):
    body = form(world, InstanceId=world.make("instance", role="instance.running"), ClientToken=token())
    expect_success(world.api, world.api.call("CreateImage", form=body), "APS-B002", status=200)
    for image_id in listed(world, body["ImageName"], "APS-B002"):
        world.made_image(image_id)
    other = {**body, "ImageName": image_name("other")}
    refused(world, "APS-B002", world.api.call, "CreateImage", form=other)
