"""Which instances can be imaged (接口说明 and the FAILED_PRECONDITION rows of 返回码)."""

from __future__ import annotations

import pytest

from imagecert.checks import check, expect_refusal
from imagecert.suitekit import refused
from imagecert.suitekit.jdcloud_vm import ROOT_DEVICE_TYPES as ROOT, cloud_disk, create, made, wait_until_ended

LOCAL_SYSTEM_DISK = {"category": "local", "attached": True, "mount_state": "attached"}


@pytest.mark.test_id("cbce6b4b-1837-46ae-a08a-0e6574e1f86a")
@pytest.mark.constraint("JD-C001", "JD-R002")
def test_an_instance_with_a_task_in_progress_is_refused(world):
    instance = world.make("instance", role="instance.busy", status="running", task="resizing")
    refused(world, "JD-C001", create, world, instance)


@pytest.mark.test_id("7ed35cc8-9db7-4b94-8b49-4bfb2876e672")
@pytest.mark.constraint("JD-C002", "JD-R004")
def test_a_running_instance_with_a_local_system_disk_must_be_stopped_first(world):
    instance = world.make("instance", role="instance.local-disk.running", status="running",
                          system_disk=LOCAL_SYSTEM_DISK)
    refused(world, "JD-C002", create, world, instance)


@pytest.mark.test_id("42533dbe-c25c-4908-ba37-ef0d5690a834")
@pytest.mark.constraint("JD-C002", "JD-C004", "JD-R001")
def test_a_stopped_instance_with_a_local_system_disk_makes_a_local_disk_image(world):
    instance = world.make("instance", role="instance.local-disk.stopped", status="stopped",
                          system_disk=LOCAL_SYSTEM_DISK)
    image_id = made(world, create(world, instance), "JD-C002")
    image = wait_until_ended(world, image_id, "JD-C004")
    check(world.api, "JD-C004", image.get("rootDeviceType") == ROOT["local"],
          f"rootDeviceType is {image.get('rootDeviceType')!r}, not {ROOT['local']!r}")


@pytest.mark.test_id("c9f404e1-62ff-4f88-b25d-9219b5c62bf7")
@pytest.mark.constraint("JD-C003", "JD-C004", "JD-R001", "JD-P001")
@pytest.mark.parametrize("status, role", [("running", "instance.running"), ("stopped", "instance.stopped")])
def test_an_instance_with_a_cloud_system_disk_is_imaged_running_or_stopped(world, status, role):
    instance = world.make("instance", role=role, status=status)
    image_id = made(world, create(world, instance), "JD-C003")
    image = wait_until_ended(world, image_id, "JD-C004")
    check(world.api, "JD-C004", image.get("rootDeviceType") == ROOT["cloud"],
          f"rootDeviceType is {image.get('rootDeviceType')!r}, not {ROOT['cloud']!r}")


@pytest.mark.test_id("cb9a1747-f965-40ba-a0da-6ac71845cd8c")
@pytest.mark.constraint("JD-C003", "JD-R003")
def test_an_instance_in_another_status_is_refused(world):
    instance = world.make("instance", role="instance.error", status="error")
    refused(world, "JD-C003", create, world, instance)


@pytest.mark.test_id("d6a39708-7792-4195-a0e6-45cd3f0f3d8c")
@pytest.mark.constraint("JD-R005")
def test_an_instance_without_a_system_disk_is_refused(world):
    instance = world.make("instance", status="running", system_disk={"category": "cloud", "attached": False})
    expect_refusal(world.api, create(world, instance), "JD-R005")


@pytest.mark.test_id("573fd8b9-683d-450f-9bd9-8eccb969e340")
@pytest.mark.constraint("JD-R006")
def test_a_system_disk_in_a_bad_mount_state_is_refused(world):
    instance = world.make("instance", status="running",
                          system_disk={"category": "cloud", "attached": True, "mount_state": "error_attach"})
    expect_refusal(world.api, create(world, instance), "JD-R006")


@pytest.mark.test_id("c778f45c-c6bb-4722-8019-11ef4eac9d53")
@pytest.mark.constraint("JD-R011")
def test_a_busy_cloud_data_disk_is_refused(world):
    instance = world.make("instance", status="running", data_disks=[cloud_disk("vdb", 40, task="resizing")])
    refused(world, "JD-R011", create, world, instance)


@pytest.mark.test_id("80dcb8ba-3787-4caa-95fa-153e0b526894")
@pytest.mark.constraint("JD-R012")
def test_a_cloud_data_disk_in_a_bad_status_is_refused(world):
    instance = world.make("instance", status="running", data_disks=[cloud_disk("vdb", 40, status="error")])
    expect_refusal(world.api, create(world, instance), "JD-R012")


@pytest.mark.test_id("f5bc54e4-5dcf-4d28-80f6-138b767d94a2")
@pytest.mark.constraint("JD-B002", "JD-C001")
def test_the_imaging_is_the_instance_task_until_it_ends(world):
    instance = world.make("instance", role="instance.running", status="running")
    first = made(world, create(world, instance), "JD-B002")
    expect_refusal(world.api, create(world, instance), "JD-B002")
    wait_until_ended(world, first, "JD-B002")
    made(world, create(world, instance), "JD-B002")

