"""The create is asynchronous: its job, and the full-ECS image the job makes
(seed 功能介绍 / Function; 异步任务查询; 镜像属性)."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check, expect_refusal, expect_success
from imagecert.world import not_verified
from imagecert.suitekit.huawei_ims import (
    IMAGE_USABLE,
    JOB_FAIL,
    JOB_STATES,
    JOB_SUCCESS,
    accepted,
    create,
    from_backup,
    from_ecs,
    job_outcome,
    make_image,
    read_image,
    show_image,
    show_job,
)


@pytest.mark.test_id("c6cbc57c-eca3-4fee-9668-322864c843ae")
@pytest.mark.constraint("IMS-B001", "IMS-P017", "IMS-B002")
def test_the_answer_is_a_job_that_ends_in_an_image(world):
    instance = world.make("instance", role="instance.running")
    job_id = accepted(world, create(world, from_ecs(instance)), "IMS-P017")
    check(world.api, "IMS-P017", isinstance(job_id, str) and job_id != "", f"job_id {job_id!r} is not a non-empty string")

    first = expect_success(world.api, show_job(world, job_id), "IMS-P017", status=200)
    check(world.api, "IMS-P017", first["job_id"] == job_id, f"the job query answers job {first['job_id']!r}")

    job = job_outcome(world, job_id, "IMS-B001")
    check(world.api, "IMS-B001", job["status"] == JOB_SUCCESS,
          f"the job of an accepted create ended {job['status']!r}, not {JOB_SUCCESS!r}")
    image_id = job["entities"].get("image_id")
    expect_success(world.api, show_image(world, image_id), "IMS-B001", status=200)


@pytest.mark.test_id("5b34d7d5-c58d-4a09-97e7-ec1618b0fd32")
@pytest.mark.constraint("IMS-B002")
def test_an_ended_job_stays_ended(world):
    backup = world.make("backup", role="backup.available")
    job_id = accepted(world, create(world, from_backup(backup)), "IMS-B002")
    ended = job_outcome(world, job_id, "IMS-B002")["status"]
    check(world.api, "IMS-B002", ended in (JOB_SUCCESS, JOB_FAIL), f"the job did not end (still {ended!r})")
    again = expect_success(world.api, show_job(world, job_id), "IMS-B002", status=200)
    check(world.api, "IMS-B002", again["status"] == ended, f"an ended job went from {ended!r} to {again['status']!r}")


@pytest.mark.test_id("1a6a336d-a2c4-4bb3-bfb4-2674a3fcd817")
@pytest.mark.constraint("IMS-B003", "IMS-B004", "IMS-B005", "IMS-B006")
def test_a_successful_job_names_a_full_ecs_image_made_from_the_ecs(world):
    instance = world.make("instance", role="instance.stopped", status="SHUTOFF")
    image = read_image(world, make_image(world, from_ecs(instance), "IMS-B003"), "IMS-B003")
    check(world.api, "IMS-B004", image.get("__whole_image") in (True, "true"),
          f"__whole_image is {image.get('__whole_image')!r}, not true")
    check(world.api, "IMS-B005", image.get("__backup_id") in (None, ""),
          f"an image made from an ECS has __backup_id {image.get('__backup_id')!r}")
    check(world.api, "IMS-B006", image["status"] == IMAGE_USABLE,
          f"the image of a {JOB_SUCCESS} job is {image['status']!r}, not {IMAGE_USABLE!r}")


@pytest.mark.test_id("ad9c63c2-a958-4501-863c-6773c5956796")
@pytest.mark.constraint("IMS-B003", "IMS-B004", "IMS-B005", "IMS-B006")
def test_a_successful_job_names_a_full_ecs_image_made_from_the_backup(world):
    backup = world.make("backup", role="backup.available")
    image = read_image(world, make_image(world, from_backup(backup), "IMS-B003"), "IMS-B003")
    check(world.api, "IMS-B004", image.get("__whole_image") in (True, "true"),
          f"__whole_image is {image.get('__whole_image')!r}, not true")
    check(world.api, "IMS-B005", image.get("__backup_id") == backup,
          f"__backup_id is {image.get('__backup_id')!r}, not the backup {backup!r}")
    check(world.api, "IMS-B006", image["status"] == IMAGE_USABLE,
          f"the image of a {JOB_SUCCESS} job is {image['status']!r}, not {IMAGE_USABLE!r}")


@pytest.mark.test_id("dc928b3b-15f2-4928-a6e7-35b0ea096b7f")
@pytest.mark.constraint("IMS-B002", "IMS-B006")
def test_while_the_job_runs_its_states_are_documented_ones(world):
    instance = world.make("instance", role="instance.running")
    job_id = accepted(world, create(world, from_ecs(instance)), "IMS-B002")
    job = expect_success(world.api, show_job(world, job_id), "IMS-B002", status=200)  # schema: status enum
    image_id = job["entities"].get("image_id")
    if image_id:  # the image read's schema holds its status to the five documented words
        expect_success(world.api, show_image(world, image_id), "IMS-B006", status=200)
    job_outcome(world, job_id, "IMS-B002")


@pytest.mark.test_id("4bf9fe7f-4f69-458f-a595-8c8975c59f8f")
@pytest.mark.constraint("IMS-B003")
def test_a_job_whose_backup_breaks_meanwhile_fails_with_a_reason(world):
    backup = world.make("backup")  # no static role: breaking a backup mid-job needs the control protocol
    job_id = accepted(world, create(world, from_backup(backup)), "IMS-B003")
    if expect_success(world.api, show_job(world, job_id), "IMS-B003")["status"] not in JOB_STATES["pending"]:
        not_verified("the job had ended before its backup could be broken")
    world.patch(backup, status="error")
    fails_with_a_reason(world, job_id, "IMS-B003", "its backup broke while it ran")


@pytest.mark.test_id("71a703e4-4922-4a20-9e1a-76d71b60944b")
@pytest.mark.constraint("IMS-B003", "IMS-C006")
def test_a_job_whose_ecs_loses_its_system_disk_meanwhile_fails_with_a_reason(world):
    # 使用弹性云服务器创建整机镜像的时候不能卸载系统卷 (IMS-C006) while the job runs, not only at the call
    instance = world.make("instance", status="SHUTOFF")  # detaching mid-job needs the control protocol
    job_id = accepted(world, create(world, from_ecs(instance)), "IMS-B003")
    if expect_success(world.api, show_job(world, job_id), "IMS-B003")["status"] not in JOB_STATES["pending"]:
        not_verified("the job had ended before the system disk could be detached")
    world.patch(instance, system_disk={"category": "cloud", "attached": False})
    fails_with_a_reason(world, job_id, "IMS-C006", "the ECS's system disk was detached while it ran")


@pytest.mark.test_id("4a6d23fd-9e1b-438a-b743-d477b4ad6606")
@pytest.mark.constraint("IMS-B008")
def test_an_unknown_job_is_refused(world):
    expect_refusal(world.api, show_job(world, uuid.uuid4().hex), "IMS-B008")


@pytest.mark.test_id("8bfffb2a-be42-4102-80b7-0b4156af08e4")
@pytest.mark.constraint("IMS-C007", "IMS-C008")
@pytest.mark.parametrize("source", ["ecs", "backup"])
def test_the_image_made_is_neither_shared_nor_a_market_image(world, source):
    # 镜像属性: visibility private / public / shared; __imagetype gold / private / shared / market
    if source == "ecs":
        body = from_ecs(world.make("instance", role="instance.stopped", status="SHUTOFF"))
    else:
        body = from_backup(world.make("backup", role="backup.available"))
    image = read_image(world, make_image(world, body, "IMS-C007"), "IMS-C007")
    check(world.api, "IMS-C007", image.get("visibility") == "private",
          f"a full-ECS image is visible as {image.get('visibility')!r}, not private")
    check(world.api, "IMS-C007", image.get("__imagetype") != "shared", "a full-ECS image is a shared image")
    check(world.api, "IMS-C008", image.get("__imagetype") != "market", "a full-ECS image is a market image")


def fails_with_a_reason(world, job_id: str, rule_id: str, why: str) -> None:
    """The job ends FAIL (the breach is `rule_id`'s), with a code and a reason (IMS-B003), and no image."""
    job = job_outcome(world, job_id, "IMS-B003")
    check(world.api, rule_id, job["status"] == JOB_FAIL, f"the job ended {job['status']!r} although {why}")
    check(world.api, "IMS-B003", bool(job.get("error_code")) and bool(job.get("fail_reason")),
          f"a {JOB_FAIL} job gives error_code {job.get('error_code')!r} and fail_reason {job.get('fail_reason')!r}")
    check(world.api, rule_id, not job["entities"].get("image_id"), f"a job that failed because {why} names an image")
