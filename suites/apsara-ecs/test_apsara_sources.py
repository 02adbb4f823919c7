"""Where an image comes from: one source (an instance, a snapshot or disk mappings), each
naming something the account has, an instance in a state that can be imaged, and room
in the image quota."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check
from imagecert.suitekit import image_name, refused
from imagecert.suitekit.apsara_ecs import create, made, mappings, read_image


def missing(prefix: str) -> str:
    return f"{prefix}-imagecert-{uuid.uuid4().hex[:12]}"


@pytest.mark.test_id("9cbb7878-cfa9-4d3a-a947-2e48c9795c3d")
@pytest.mark.constraint("APS-C001")
def test_a_request_without_any_source_is_refused(world):
    refused(world, "APS-C001", create, world)


@pytest.mark.test_id("85fd968d-70e0-49a8-8c3a-e1e558e869ac")
@pytest.mark.constraint("APS-C002", "APS-D008")
def test_two_sources_at_once_are_refused(world):
    instance = world.make("instance", role="instance.running")
    snapshot = world.make("snapshot", role="snapshot.available")
    refused(world, "APS-C002", create, world, InstanceId=instance, SnapshotId=snapshot)
    refused(world, "APS-C002", create, world, InstanceId=instance, **{"DiskDeviceMapping.1.SnapshotId": snapshot})
    refused(world, "APS-C002", create, world, SnapshotId=snapshot, **{"DiskDeviceMapping.1.SnapshotId": snapshot})


@pytest.mark.test_id("4b7cba78-1545-45dc-b8a3-100e7c23514a")
@pytest.mark.constraint("APS-P008")
def test_an_instance_the_account_does_not_have_is_not_found(world):
    refused(world, "APS-P008", create, world, InstanceId=missing("i"))


@pytest.mark.test_id("a0316a59-b7f7-464f-926a-180158d2ac6b")
@pytest.mark.constraint("APS-P012")
def test_an_image_from_a_snapshot(world):
    refused(world, "APS-P012", create, world, SnapshotId=missing("s"))
    snapshot = world.make("snapshot", role="snapshot.available")
    name = image_name("p012")
    found = read_image(world, made(world, create(world, SnapshotId=snapshot, ImageName=name), "APS-P012"), "APS-P012")
    sources = [m.get("SnapshotId") for m in mappings(found)]
    check(world.api, "APS-P012", snapshot in sources, f"the image's disks {sources} do not come from {snapshot}")


@pytest.mark.test_id("bbeab8f7-3755-4e73-9fbf-21f430c6d38c")
@pytest.mark.constraint("APS-P011")
def test_a_mapping_names_a_snapshot_the_account_has(world):
    refused(world, "APS-P011", create, world, **{"DiskDeviceMapping.1.SnapshotId": missing("s")})
    snapshot = world.make("snapshot", role="snapshot.available")
    made(world, create(world, **{"DiskDeviceMapping.1.SnapshotId": snapshot}), "APS-P011")


@pytest.mark.test_id("ef9d37a9-2880-4d61-9007-04f109936535")
@pytest.mark.constraint("APS-C003")
@pytest.mark.parametrize("role, status", [("instance.running", "Running"), ("instance.stopped", "Stopped")])
def test_a_running_or_stopped_instance_can_be_imaged(world, role, status):
    name = image_name("c003")
    response = create(world, InstanceId=world.make("instance", role=role, status=status), ImageName=name)
    made(world, response, "APS-C003")


@pytest.mark.test_id("24d77b2a-312d-4bf5-8072-9716d56c7893")
@pytest.mark.constraint("APS-C003")
@pytest.mark.parametrize("status, task", [("Starting", None), ("Stopping", None), ("Running", "ResizeDisk")],
                         ids=["starting", "stopping", "busy"])
def test_an_instance_in_another_state_or_busy_is_refused(world, status, task):
    role = "instance.busy" if task else None  # static fixtures give a busy instance only
    refused(world, "APS-C003", create, world, InstanceId=world.make("instance", role=role, status=status, task=task))


@pytest.mark.test_id("4051ee02-019e-48c8-8d58-efe0469b5662")
@pytest.mark.constraint("APS-C004")
def test_no_image_beyond_the_quota(world):
    world.quota(images=0)
    refused(world, "APS-C004", create, world, InstanceId=world.make("instance", role="instance.running"))
