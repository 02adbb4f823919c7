"""Fuzzing createWholeImage from the contract (see imagecert.fuzz).

What only this dialect knows: a full-ECS image names its source in the body —
`instance_id` (an ECS that is running, nothing in progress) or `backup_id` (an
available CSBS backup never imaged before) — and the image it makes is read through
the job (showJob: SUCCESS with entities.image_id), then Glance (active, and a
full-ECS image).
"""

from __future__ import annotations

from imagecert.checks import check, expect_success
from imagecert.contracts import load_contract
from imagecert.fuzz import Fill, FuzzTests, Fuzzer, Lifecycle

SCHEMAS = load_contract("huawei-ims")["components"]["schemas"]
JOB_STATES = SCHEMAS["Job"]["properties"]["status"]["x-imagecert-states"]
IMAGE_STATES = SCHEMAS["Image"]["properties"]["status"]["x-imagecert-states"]


def image_of(world, created) -> str:
    job_id = created.json()["job_id"]
    job = expect_success(world.api, world.api.call("showJob", path={"job_id": job_id}), "IMS-B002")
    check(world.api, "IMS-B002", job.get("status") not in JOB_STATES["pending"],
          f"the job is {job.get('status')!r} after the jobs were settled")
    check(world.api, "IMS-B003",
          job.get("status") == JOB_STATES["succeeded"] and bool((job.get("entities") or {}).get("image_id")),
          f"a settled job of a valid request ends {JOB_STATES['succeeded']} with entities.image_id, not {job}")
    return job["entities"]["image_id"]


FUZZ = Fuzzer(
    "huawei-ims",
    fills=[
        Fill("body", "instance_id", lambda world: world.make("instance", role="instance.running", status="ACTIVE")),
        Fill("body", "backup_id", lambda world: world.make("backup", role="backup.available", status="available")),
    ],
    malformed_rule="IMS-C028",
    empty_body_rule="IMS-C029",
    lifecycle=Lifecycle(
        image_of=image_of,
        read=lambda world, image_id: world.api.call("glanceShowImage", path={"image_id": image_id}),
        # usable, and a full-ECS image (IMS-B004: the boolean or its string)
        ready=lambda image: image.get("status") == IMAGE_STATES["usable"]
        and str(image.get("__whole_image")).lower() == "true",
    ),
)

# the four tests (tests/test_fuzz.py and the cassettes know them by these names and ids)
TESTS = FuzzTests(FUZZ, examples="78d2a1a7-092a-475a-a686-ab6e145cdb68", valid="3542ae9b-f6ad-40ee-9243-1347f0d57f03",
                  invalid="d6123c35-a6ce-4b8d-aebd-a01468b976ad", lifecycle="cf9a8f4c-d813-41f8-a901-902d2d14b2d2",
                  lifecycle_test="test_made_images_end_active_read_and_delete",
                  lifecycle_rules=("IMS-B001", "IMS-B002", "IMS-B003", "IMS-B004", "IMS-B006"))
globals().update(TESTS.tests())
