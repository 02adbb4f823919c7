"""Which ECSs and CSBS backups can be made into a full-ECS image (seed 约束与限制 /
Constraints, and the state rules of 错误码)."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check
from imagecert.suitekit import refused
from imagecert.suitekit.huawei_ims import accepted, create, document_for, from_backup, from_ecs, job_outcome, make_image


# -- from an ECS --------------------------------------------------------------------------


@pytest.mark.test_id("c8cb9bbe-b594-406b-a6dd-c17bf2a12230")
@pytest.mark.constraint("IMS-C002")
@pytest.mark.parametrize("role, status", [("instance.running", "ACTIVE"), ("instance.stopped", "SHUTOFF")])
def test_a_running_or_stopped_ecs_is_imaged(world, role, status):
    make_image(world, from_ecs(world.make("instance", role=role, status=status)), "IMS-C002")


@pytest.mark.test_id("8da24e86-7b3b-40d9-8ddf-f4e3a9a930f6")
@pytest.mark.constraint("IMS-C002")
@pytest.mark.parametrize("role, status", [("instance.error", "ERROR"), (None, "BUILD"), (None, "REBOOT")])
def test_an_ecs_neither_running_nor_stopped_is_refused(world, role, status):
    instance = world.make("instance", role=role, status=status)
    refused(world, "IMS-C002", create, world, from_ecs(instance))


@pytest.mark.test_id("be45a95a-74c1-4d23-be3d-ce1e15588458")
@pytest.mark.constraint("IMS-C019")
def test_an_ecs_with_a_task_in_progress_is_refused(world):
    instance = world.make("instance", role="instance.busy", status="ACTIVE", task="rebooting")
    refused(world, "IMS-C019", create, world, from_ecs(instance))


@pytest.mark.test_id("9b6c4f88-f98a-448c-a01b-56d5ca8735ee")
@pytest.mark.constraint("IMS-C030")
def test_an_ecs_being_backed_up_is_refused(world):
    instance = world.make("instance", role="instance.backing-up", status="ACTIVE", task="backing_up")
    refused(world, "IMS-C030", create, world, from_ecs(instance))


@pytest.mark.test_id("50f13fb3-ede9-4ac1-ab37-65561be65a25")
@pytest.mark.constraint("IMS-C006")
def test_an_ecs_whose_system_disk_is_detached_is_refused(world):
    instance = world.make("instance", role="instance.system-disk-detached", status="SHUTOFF",
                          system_disk={"category": "cloud", "attached": False})
    refused(world, "IMS-C006", create, world, from_ecs(instance))


@pytest.mark.test_id("4a907bba-3559-44d3-a8a0-cb958125bbc9")
@pytest.mark.constraint("IMS-D003")
def test_an_ecs_with_a_dedicated_storage_disk_follows_the_chosen_document(world):
    instance = world.make("instance", role="instance.dss-disk", status="ACTIVE", data_disks=[
        {"device": "/dev/vdb", "category": "cloud", "size_gb": 10, "status": "in-use", "dedicated_storage": True},
    ])
    if document_for(world, "IMS-D003") == "zh":  # only the zh Constraints list the DSS rule
        refused(world, "IMS-D003", create, world, from_ecs(instance))
    else:
        make_image(world, from_ecs(instance), "IMS-D003")


@pytest.mark.test_id("8ca72ade-2038-4e34-b489-f92325977eea")
@pytest.mark.constraint("IMS-C017")
def test_an_ecs_that_does_not_exist_is_refused(world):
    refused(world, "IMS-C017", create, world, from_ecs(str(uuid.uuid4())))


@pytest.mark.test_id("0ea7d016-eb15-4995-9663-ad120e31f07a")
@pytest.mark.constraint("IMS-C017")
def test_another_tenants_ecs_is_refused(world):
    stranger = world.client_as("full")
    theirs = world.make("instance", status="ACTIVE")  # ours; the stranger may not use it
    refused(world, "IMS-C017", create, world, from_ecs(theirs), api=stranger)


@pytest.mark.test_id("e9d10465-8235-4045-8ecb-0b1a27785cf7")
@pytest.mark.constraint("IMS-C020")
def test_no_image_beyond_the_quota(world):
    instance = world.make("instance", status="ACTIVE")
    backup = world.make("backup", status="available")
    world.quota(images=0)  # the test's tenant is new: it owns no image, and may own none
    refused(world, "IMS-C020", create, world, from_ecs(instance))
    refused(world, "IMS-C020", create, world, from_backup(backup))
    check(world.api, "IMS-C020", not world.read(backup).get("image_id"), "a refused call used the backup")


# -- from a CSBS backup ----------------------------------------------------------------------


@pytest.mark.test_id("3b185f38-b6ed-414b-ae41-f346345b2886")
@pytest.mark.constraint("IMS-C013")
def test_an_available_backup_is_imaged(world):
    make_image(world, from_backup(world.make("backup", role="backup.available", status="available")), "IMS-C013")


@pytest.mark.test_id("91833929-1249-4eae-9ff7-8c72f48e350f")
@pytest.mark.constraint("IMS-C013")
@pytest.mark.parametrize("role, status", [("backup.unavailable", "protecting"), (None, "error")])
def test_a_backup_that_is_not_available_is_refused(world, role, status):
    backup = world.make("backup", role=role, status=status)
    refused(world, "IMS-C013", create, world, from_backup(backup))


@pytest.mark.test_id("3bf881b7-409d-47eb-86c4-815a5d586387")
@pytest.mark.constraint("IMS-C012")
def test_a_backup_with_shared_disks_is_refused(world):
    backup = world.make("backup", role="backup.shared-disks", status="available", shared_disks=["/dev/vdb"])
    refused(world, "IMS-C012", create, world, from_backup(backup))
    check(world.api, "IMS-C012", world.controlled is False or not world.read(backup).get("image_id"),
          "a refused call used the backup")


@pytest.mark.test_id("9303ec21-4c33-4c64-aa1d-d098b271a4d6")
@pytest.mark.constraint("IMS-C014")
def test_a_backup_already_imaged_is_refused(world):
    backup = world.make("backup", role="backup.used", status="available", image_id=str(uuid.uuid4()))
    refused(world, "IMS-C014", create, world, from_backup(backup))


@pytest.mark.test_id("42561982-6164-4e99-a790-99d60cd33b98")
@pytest.mark.constraint("IMS-C014")
def test_a_backup_makes_one_image_only(world):
    backup = world.make("backup", role="backup.available", status="available")
    job = job_outcome(world, accepted(world, create(world, from_backup(backup)), "IMS-C014"), "IMS-C014")
    check(world.api, "IMS-C014", bool(job["entities"].get("image_id")), f"the first image was not made: {job}")
    refused(world, "IMS-C014", create, world, from_backup(backup))


@pytest.mark.test_id("6c5f3e13-97fa-410a-9104-89b3833f41e6")
@pytest.mark.constraint("IMS-C018")
def test_a_backup_that_does_not_exist_is_refused(world):
    refused(world, "IMS-C018", create, world, from_backup(str(uuid.uuid4())))
