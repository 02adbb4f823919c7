"""Which ECSs and CSBS backups can be made into a full-ECS image (seed 约束与限制 /
Constraints, and the state rules of 错误码)."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check
from imagecert.suitekit import refused
from imagecert.suitekit.huawei_ims import accepted, create, document_for, from_backup, from_ecs, job_outcome, make_image


# -- from an ECS --------------------------------------------------------------------------


@pytest.mark.constraint("IMS-C002")
@pytest.mark.parametrize("role, status", [("instance.running", "ACTIVE"), ("instance.stopped", "SHUTOFF")])
def test_a_running_or_stopped_ecs_is_imaged(world, role, status):
    make_image(world, from_ecs(world.make("instance", role=role, status=status)), "IMS-C002")


@pytest.mark.constraint("IMS-C002")
@pytest.mark.parametrize("role, status", [("instance.error", "ERROR"), (None, "BUILD"), (None, "REBOOT")])
def test_an_ecs_neither_running_nor_stopped_is_refused(world, role, status):
    instance = world.make("instance", role=role, status=status)
    refused(world, "IMS-C002", create, world, from_ecs(instance))


@pytest.mark.constraint("IMS-C019")
def test_an_ecs_with_a_task_in_progress_is_refused(world):
    instance = world.make("instance", role="instance.busy", status="ACTIVE", task="rebooting")
    refused(world, "IMS-C019", create, world, from_ecs(instance))


@pytest.mark.constraint("IMS-C030")
def test_an_ecs_being_backed_up_is_refused(world):
    instance = world.make("instance", role="instance.backing-up", status="ACTIVE", task="backing_up")
    refused(world, "IMS-C030", create, world, from_ecs(instance))


@pytest.mark.constraint("IMS-C006")
def test_an_ecs_whose_system_disk_is_detached_is_refused(world):
    instance = world.make("instance", role="instance.system-disk-detached", status="SHUTOFF",
                          system_disk={"category": "cloud", "attached": False})
    refused(world, "IMS-C006", create, world, from_ecs(instance))


@pytest.mark.constraint("IMS-D003")
def test_an_ecs_with_a_dedicated_storage_disk_follows_the_chosen_document(world):
    instance = world.make("instance", role="instance.dss-disk", status="ACTIVE", data_disks=[
        {"device": "/dev/vdb", "category": "cloud", "size_gb": 10, "status": "in-use", "dedicated_storage": True},
    ])
    if document_for(world, "IMS-D003") == "zh":  # only the zh Constraints list the DSS rule
        refused(world, "IMS-D003", create, world, from_ecs(instance))
    else:
        make_image(world, from_ecs(instance), "IMS-D003")


@pytest.mark.constraint("IMS-C017")
def test_an_ecs_that_does_not_exist_is_refused(world):
    refused(world, "IMS-C017", create, world, from_ecs(str(uuid.uuid4())))


@pytest.mark.constraint("IMS-C017")
def test_another_tenants_ecs_is_refused(world):
    stranger = world.client_as("full")
    theirs = world.make("instance", status="ACTIVE")  # ours; the stranger may not use it
    refused(world, "IMS-C017", create, world, from_ecs(theirs), api=stranger)


@pytest.mark.constraint("IMS-C020")
def test_no_image_beyond_the_quota(world):
    instance = world.make("instance", status="ACTIVE")
    backup = world.make("backup", status="available")
    world.quota(images=0)  # the test's tenant is new: it owns no image, and may own none
    refused(world, "IMS-C020", create, world, from_ecs(instance))
    refused(world, "IMS-C020", create, world, from_backup(backup))
    check(world.api, "IMS-C020", not world.read(backup).get("image_id"), "a refused call used the backup")


# -- from a CSBS backup ----------------------------------------------------------------------


@pytest.mark.constraint("IMS-C013")
def test_an_available_backup_is_imaged(world):
    make_image(world, from_backup(world.make("backup", role="backup.available", status="available")), "IMS-C013")


@pytest.mark.constraint("IMS-C013")
@pytest.mark.parametrize("role, status", [("backup.unavailable", "protecting"), (None, "error")])
def test_a_backup_that_is_not_available_is_refused(world, role, status):
    backup = world.make("backup", role=role, status=status)
    refused(world, "IMS-C013", create, world, from_backup(backup))


@pytest.mark.constraint("IMS-C012")
def test_a_backup_with_shared_disks_is_refused(world):
    backup = world.make("backup", role="backup.shared-disks", status="available", shared_disks=["/dev/vdb"])
    refused(world, "IMS-C012", create, world, from_backup(backup))
    check(world.api, "IMS-C012", world.controlled is False or not world.read(backup).get("image_id"),
          "a refused call used the backup")


@pytest.mark.constraint("IMS-C014")
def test_a_backup_already_imaged_is_refused(world):
    backup = world.make("backup", role="backup.used", status="available", image_id=str(uuid.uuid4()))
    refused(world, "IMS-C014", create, world, from_backup(backup))


@pytest.mark.constraint("IMS-C014")
def test_a_backup_makes_one_image_only(world):
    backup = world.make("backup", role="backup.available", status="available")
    job = job_outcome(world, accepted(world, create(world, from_backup(backup)), "IMS-C014"), "IMS-C014")
    check(world.api, "IMS-C014", bool(job["entities"].get("image_id")), f"the first image was not made: {job}")
    refused(world, "IMS-C014", create, world, from_backup(backup))


@pytest.mark.constraint("IMS-C018")
def test_a_backup_that_does_not_exist_is_refused(world):
    refused(world, "IMS-C018", create, world, from_backup(str(uuid.uuid4())))
