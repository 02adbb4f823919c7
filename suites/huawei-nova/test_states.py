"""Which servers can be imaged, and what imaging leaves behind (seed 接口约束 and upstream)."""

from __future__ import annotations

import pytest

from imagecert.checks import check, expect_refusal, expect_success
from imagecert.suitekit import nothing_made
from imagecert.suitekit.huawei_nova import (
    IMAGE_STATES,
    create,
    make_image,
    not_verified_without,
    second_image,
    wait_until_idle,
    wait_until_made,
)


def _refused_and_nothing_made(world, server: str, rule_id: str) -> None:
    """createImage on `server` is refused, and made neither an image nor a volume snapshot."""
    with nothing_made(world, rule_id, kinds=("image", "snapshot")):
        expect_refusal(world.api, create(world, server), rule_id)


@pytest.mark.test_id("1a18cbae-9821-4dec-9328-fbcf84bf69b9")
@pytest.mark.constraint("NOVA-C001", "NOVA-R006")
def test_a_server_in_error_state_is_refused(world):
    _refused_and_nothing_made(world, world.make("instance", role="instance.error", status="ERROR"), "NOVA-C001")


@pytest.mark.test_id("142991e6-5081-4800-b797-97433f5b6b68")
@pytest.mark.constraint("NOVA-C001")
def test_an_active_server_is_imaged(world):
    make_image(world, world.make("instance", role="instance.running", status="ACTIVE"), "NOVA-C001")


@pytest.mark.test_id("ac2037d3-1f87-4d9a-bb21-9936fc838596")
@pytest.mark.constraint("NOVA-B003")
def test_a_server_with_a_task_in_progress_is_refused(world):
    server = world.make("instance", role="instance.busy", status="ACTIVE", task="rebooting")
    _refused_and_nothing_made(world, server, "NOVA-B003")


@pytest.mark.test_id("0a3bad26-c71f-43b3-beef-8546c91b8969")
@pytest.mark.constraint("NOVA-B003")
def test_a_second_image_waits_for_the_first(world):
    server = world.make("instance", role="instance.running")
    first = make_image(world, server, "NOVA-B003")
    again, status = second_image(world, server, first, "NOVA-B003")
    if status is not None:  # accepted: only right if the first image was already made
        check(world.api, "NOVA-B003", status == IMAGE_STATES["made"],
              f"createImage answered 202 while the server's first image was still {status!r}")
    else:
        expect_refusal(world.api, again, "NOVA-B003")
    wait_until_made(world, first, "NOVA-B003")
    wait_until_idle(world, server, "NOVA-B003")
    make_image(world, server, "NOVA-B003")


@pytest.mark.test_id("7b1dfc4f-64b7-4ce9-8202-c2e18280281f")
@pytest.mark.constraint("NOVA-B004")
@pytest.mark.parametrize("role, status", [
    ("instance.building", "BUILD"),
    ("instance.shelved", "SHELVED_OFFLOADED"),
])
def test_a_server_upstream_cannot_image_is_refused(world, role, status):
    _refused_and_nothing_made(world, world.make("instance", role=role, status=status), "NOVA-B004")


@pytest.mark.test_id("b9c9dbb1-49ec-4f7d-9f4d-3d079ef5fd4f")
@pytest.mark.constraint("NOVA-B004")
@pytest.mark.parametrize("role, status", [
    ("instance.stopped", "SHUTOFF"),
    ("instance.paused", "PAUSED"),
    ("instance.suspended", "SUSPENDED"),
])
def test_stopped_paused_and_suspended_servers_are_imaged(world, role, status):
    make_image(world, world.make("instance", role=role, status=status), "NOVA-B004")


@pytest.mark.test_id("fb008e0c-0835-455b-9d1e-4bfb55f738e2")
@pytest.mark.constraint("NOVA-C002")
def test_the_image_records_the_servers_az(world):
    not_verified_without(world, "reading the AZ an image records")
    az = "imagecert-az-1"
    image_id = make_image(world, world.make("instance", role="instance.running", az=az), "NOVA-C002")
    recorded = world.read(image_id).get("az")
    check(world.api, "NOVA-C002", recorded == az, f"the image records AZ {recorded!r}, the server is in {az!r}")


def image_of_a_volume_backed_server(world, rule_id: str) -> tuple[str, list[str]]:
    """An image made from a volume-backed server, and the volume snapshots that hold it."""
    not_verified_without(world, "listing volume snapshots")
    server = world.make("instance", role="instance.volume-backed.running",
                        system_disk={"category": "cloud", "attached": True, "size_gb": 40})
    image_id = make_image(world, server, rule_id)
    wait_until_made(world, image_id, rule_id)
    return image_id, [s["id"] for s in world.listed("snapshot", rule_id) if s["attributes"].get("image_id") == image_id]


@pytest.mark.test_id("33da9ede-e0bb-4a48-a5f3-8b1ceea748e3")
@pytest.mark.constraint("NOVA-C007")
def test_the_image_of_a_volume_backed_server_is_kept_as_snapshots(world):
    _, kept = image_of_a_volume_backed_server(world, "NOVA-C007")
    check(world.api, "NOVA-C007", bool(kept), "the image of a volume-backed server is kept as no snapshot")


@pytest.mark.test_id("58145d5a-a9e1-4967-8677-07d59ee9be16")
@pytest.mark.constraint("NOVA-C003")
def test_deleting_the_image_leaves_its_snapshots(world):
    image_id, made = image_of_a_volume_backed_server(world, "NOVA-C003")
    check(world.api, "NOVA-C003", bool(made), "imaging a volume-backed server made no volume snapshot")

    expect_success(world.api, world.api.call("deleteImage", path={"image_id": image_id}), "NOVA-C003", status=204)
    left = {s["id"] for s in world.listed("snapshot", "NOVA-C003")}
    check(world.api, "NOVA-C003", set(made) <= left,
          f"deleting the image deleted its snapshots {sorted(set(made) - left)}")
