"""Where an image comes from: one source (an instance, a snapshot or disk mappings), each
naming something the account has, an instance in a state that can be imaged, and room
in the image quota."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check
from apsara_support import create, created, image, image_name, mappings, refuses


def missing(prefix: str) -> str:
    return f"{prefix}-imagecert-{uuid.uuid4().hex[:12]}"


@pytest.mark.constraint("APS-C001")
def test_a_request_without_any_source_is_refused(world):
    refuses(world, "APS-C001")


@pytest.mark.constraint("APS-C002", "APS-D008")
def test_two_sources_at_once_are_refused(world):
    instance = world.make("instance", role="instance.running")
    snapshot = world.make("snapshot", role="snapshot.available")
    refuses(world, "APS-C002", InstanceId=instance, SnapshotId=snapshot)
    refuses(world, "APS-C002", InstanceId=instance, **{"DiskDeviceMapping.1.SnapshotId": snapshot})
    refuses(world, "APS-C002", SnapshotId=snapshot, **{"DiskDeviceMapping.1.SnapshotId": snapshot})


@pytest.mark.constraint("APS-P008")
def test_an_instance_the_account_does_not_have_is_not_found(world):
    refuses(world, "APS-P008", InstanceId=missing("i"))


@pytest.mark.constraint("APS-P012")
def test_an_image_from_a_snapshot(world):
    refuses(world, "APS-P012", SnapshotId=missing("s"))
    snapshot = world.make("snapshot", role="snapshot.available")
    name = image_name("p012")
    found = image(world, created(world, create(world, SnapshotId=snapshot, ImageName=name), "APS-P012", name), "APS-P012")
    sources = [m.get("SnapshotId") for m in mappings(found)]
    check(world.api, "APS-P012", snapshot in sources, f"the image's disks {sources} do not come from {snapshot}")


@pytest.mark.constraint("APS-P011")
def test_a_mapping_names_a_snapshot_the_account_has(world):
    refuses(world, "APS-P011", **{"DiskDeviceMapping.1.SnapshotId": missing("s")})
    snapshot = world.make("snapshot", role="snapshot.available")
    created(world, create(world, **{"DiskDeviceMapping.1.SnapshotId": snapshot}), "APS-P011")


@pytest.mark.constraint("APS-C003")
@pytest.mark.parametrize("role, status", [("instance.running", "Running"), ("instance.stopped", "Stopped")])
def test_a_running_or_stopped_instance_can_be_imaged(world, role, status):
    name = image_name("c003")
    response = create(world, InstanceId=world.make("instance", role=role, status=status), ImageName=name)
    created(world, response, "APS-C003", name)


@pytest.mark.constraint("APS-C003")
@pytest.mark.parametrize("status, task", [("Starting", None), ("Stopping", None), ("Running", "ResizeDisk")],
                         ids=["starting", "stopping", "busy"])
def test_an_instance_in_another_state_or_busy_is_refused(world, status, task):
    role = "instance.busy" if task else None  # static fixtures give a busy instance only
    refuses(world, "APS-C003", InstanceId=world.make("instance", role=role, status=status, task=task))


@pytest.mark.constraint("APS-C004")
def test_no_image_beyond_the_quota(world):
    world.quota(images=0)
    refuses(world, "APS-C004", InstanceId=world.make("instance", role="instance.running"))
