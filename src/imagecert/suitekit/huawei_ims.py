"""The huawei-ims suite's own calls: reading the contract and the catalog, calling
createWholeImage, following its job to the image, and the zh/en document choice (the
shared names: `imagecert.suitekit`).

Nothing here knows a limit, a code or a status word of the contract by heart: they are
read from contracts/huawei-ims/openapi.yaml and constraints.yaml.
"""

from __future__ import annotations

from typing import Any, Iterator

import requests

from imagecert.checks import check, expect_success
from imagecert.contracts import load_catalog, load_contract, resolve
from imagecert.suitekit import image_name, wait
from imagecert.world import World

DIALECT = "huawei-ims"
CATALOG = load_catalog(DIALECT)
CONTRACT = load_contract(DIALECT)
SCHEMAS = CONTRACT["components"]["schemas"]
JOB_STATES = SCHEMAS["Job"]["properties"]["status"]["x-imagecert-states"]
JOB_SUCCESS, JOB_FAIL = JOB_STATES["succeeded"], JOB_STATES["failed"]
IMAGE_USABLE = SCHEMAS["Image"]["properties"]["status"]["x-imagecert-states"]["usable"]


# -- the contract ----------------------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    node = resolve(DIALECT, node)
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def carried_by(rule_id: str, keyword: str) -> Any:
    """The value of `keyword` on the request-schema part marked `x-constraint: rule_id`
    (the first one that has it)."""
    for node in _walk(SCHEMAS["CreateWholeImageRequest"]):
        marks = node.get("x-constraint")
        if (marks == rule_id or (isinstance(marks, list) and rule_id in marks)) and keyword in node:
            return node[keyword]
    raise LookupError(f"no part of the request schema carries {rule_id} with {keyword}")


def shape_default(shape: str, field: str) -> Any:
    """A field's documented default in one body shape (`WholeImageFromEcs` / `…FromBackup`)."""
    return SCHEMAS[shape]["properties"][field]["default"]


def seed_examples() -> dict[str, dict[str, Any]]:
    """The seeds' request examples kept in the contract, by name."""
    body = CONTRACT["paths"]["/v1/cloudimages/wholeimages/action"]["post"]["requestBody"]
    return body["content"]["application/json"]["examples"]


def document_for(world: World, rule_id: str) -> str:
    """The document (zh | en) the target is held to where the two disagree: the profile
    option `--ims-document`, else the rule's catalog `choice`."""
    return world.option("ims_document") or CATALOG[rule_id].raw["choice"]


# -- calls -------------------------------------------------------------------------------


def from_ecs(instance: str, **fields: Any) -> dict[str, Any]:
    return {"name": image_name("ecs"), "instance_id": instance, **fields}


def from_backup(backup: str, **fields: Any) -> dict[str, Any]:
    return {"name": image_name("backup"), "backup_id": backup, **fields}


def create(world: World, body: Any = None, raw: bytes | None = None, api=None) -> requests.Response:
    """createWholeImage with a JSON body, or with `raw` bytes sent as application/json."""
    api = api or world.api
    if raw is not None:
        return api.call("createWholeImage", data=raw, headers={"Content-Type": "application/json"})
    return api.call("createWholeImage", json=body)


def show_job(world: World, job_id: str) -> requests.Response:
    return world.api.call("showJob", path={"job_id": job_id})


def show_image(world: World, image_id: str) -> requests.Response:
    return world.api.call("glanceShowImage", path={"image_id": image_id})


def accepted(world: World, response: requests.Response, rule_id: str) -> str:
    """A 200 {"job_id"}: the job id."""
    body = expect_success(world.api, response, rule_id, status=200)
    return body["job_id"]


def job_outcome(world: World, job_id: str, rule_id: str) -> dict[str, Any]:
    """The job once it has ended. Every image a SUCCESS job names is registered for clean-up."""
    job = wait(world, lambda: expect_success(world.api, show_job(world, job_id), rule_id, status=200),
               lambda job: job["status"] in (JOB_SUCCESS, JOB_FAIL))
    image_id = (job.get("entities") or {}).get("image_id")
    if job["status"] == JOB_SUCCESS and image_id:
        world.made_image(image_id)
    return job


def made(world: World, response: requests.Response, rule_id: str) -> str:
    """The image a successful create makes: its job followed to SUCCESS, and the image it names."""
    job = job_outcome(world, accepted(world, response, rule_id), rule_id)
    check(world.api, rule_id, job["status"] == JOB_SUCCESS,
          f"the job ended {job['status']!r} ({job.get('error_code')}: {job.get('fail_reason')}), not {JOB_SUCCESS!r}")
    image_id = (job.get("entities") or {}).get("image_id")
    check(world.api, rule_id, bool(image_id), "the SUCCESS job names no entities.image_id")
    return image_id


def make_image(world: World, body: dict[str, Any], rule_id: str) -> str:
    """createWholeImage with `body`, followed to its image: the image id."""
    return made(world, create(world, body), rule_id)


def read_image(world: World, image_id: str, rule_id: str) -> dict[str, Any]:
    """The image as glanceShowImage shows it."""
    return expect_success(world.api, show_image(world, image_id), rule_id, status=200)
