"""The 返回码 rows not covered with their rules elsewhere: unknown resources, quotas and
server errors, and the supporting calls' not-found."""

from __future__ import annotations

import pytest

from imagecert.checks import check, expect_refusal
from imagecert.suitekit import refused
from imagecert.suitekit.jdcloud_vm import CATALOG, cloud_disk, create, made


@pytest.mark.test_id("78c6677d-de44-4b8f-9c73-49535f08ea00")
@pytest.mark.constraint("JD-R014", "JD-P002")
def test_an_unknown_instance_is_not_found(world):
    expect_refusal(world.api, create(world, "i-doesnotexist"), "JD-R014")


@pytest.mark.test_id("4559bd6f-d9df-4de3-92e7-ecca70906a17")
@pytest.mark.constraint("JD-R016")
def test_no_room_for_another_image_is_refused(world):
    instance = world.make("instance", status="running")
    world.quota(images=0)
    refused(world, "JD-R016", create, world, instance)


@pytest.mark.test_id("ff39c8c9-8329-4da3-a685-3358f5904ad9")
@pytest.mark.constraint("JD-R017")
def test_no_room_for_the_data_disk_snapshots_is_refused(world):
    with_disk = world.make("instance", status="running", data_disks=[cloud_disk("vdb", 40)])
    without_disk = world.make("instance", status="running")
    world.quota(snapshots=0)
    expect_refusal(world.api, create(world, with_disk), "JD-R017")
    made(world, create(world, without_disk), "JD-R017")


@pytest.mark.test_id("b5aa1433-bf45-44ab-84f2-b0d0d78de2e7")
@pytest.mark.constraint("JD-R018")
def test_an_internal_error_answers_its_documented_body(world):
    instance = world.make("instance", status="running")
    world.fault("createImage", CATALOG["JD-R018"].http_status)
    expect_refusal(world.api, create(world, instance), "JD-R018")


@pytest.mark.test_id("37de1f77-7fa0-439e-9ba5-4e5781e0bb23")
@pytest.mark.constraint("JD-R019")
def test_an_unknown_server_error_answers_its_documented_body(world):
    """The second 500 row: only a fault with a code (the control extension faults.code)
    chooses it over JD-R018's; without the extension the row is not verified."""
    row = CATALOG["JD-R019"]
    instance = world.make("instance", status="running")
    world.fault("createImage", row.http_status, code=row.code)
    expect_refusal(world.api, create(world, instance), "JD-R019")


@pytest.mark.test_id("072baa28-9617-496b-a7c5-663e81e4bab0")
@pytest.mark.constraint("JD-C010")
def test_the_supporting_calls_answer_not_found_for_an_unknown_image(world):
    for operation in ("describeImage", "deleteImage"):
        expect_refusal(world.api, world.api.call(operation, path={"imageId": "img-doesnotexist"}), "JD-C010")


@pytest.mark.test_id("e826fc37-3791-4f62-84d6-1fc1b63e9804")
@pytest.mark.constraint("JD-C010")
def test_a_deleted_image_is_gone(world):
    instance = world.make("instance", role="instance.running", status="running")
    image_id = made(world, create(world, instance), "JD-C010")
    deleted = world.api.call("deleteImage", path={"imageId": image_id})
    check(world.api, "JD-C010", deleted.status_code == CATALOG["JD-R001"].http_status,
          f"deleteImage answered {deleted.status_code}")
    expect_refusal(world.api, world.api.call("describeImage", path={"imageId": image_id}), "JD-C010")
