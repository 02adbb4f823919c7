"""The jdcloud-vm suite's own calls: reading the contract, calling createImage, reading
the image it made, and waiting for it (the shared names: `imagecert.suitekit`).

Nothing here knows a limit, a disk type or a status word by heart: they are read from
contracts/jdcloud-vm/openapi.yaml.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from imagecert.checks import check, error_of, expect_success
from imagecert.contracts import Expectation, load_catalog, load_contract, request_schema, resolve
from imagecert.suitekit import wait
from imagecert.world import World, image_name as run_image_name

DIALECT = "jdcloud-vm"
CATALOG = load_catalog(DIALECT)
CONTRACT = load_contract(DIALECT)
SCHEMAS = CONTRACT["components"]["schemas"]
IMAGE_FIELDS = SCHEMAS["Image"]["properties"]
IMAGE_STATES = IMAGE_FIELDS["status"]["x-imagecert-states"]
ROOT_DEVICE_TYPES = IMAGE_FIELDS["rootDeviceType"]["x-imagecert-system-disk-categories"]

# A running instance only ever sent calls that must be refused: a refusal changes nothing,
# so a static target may list the same id many times in this pool.
FOR_REFUSALS = "instance.running.for-refusals"


# -- the contract ----------------------------------------------------------------------
def body_fields() -> dict[str, Any]:
    """createImage's body properties (name, description, dataDisks, …)."""
    return resolve(DIALECT, request_schema(DIALECT, "createImage"))["properties"]


def fields_of(schema_name: str) -> dict[str, Any]:
    return SCHEMAS[schema_name]["properties"]


def disk_types() -> list[str]:
    return [t for t in fields_of("DiskSpec")["diskType"]["enum"] if t is not None]


def size_range(disk_type: str) -> tuple[int, int, int]:
    """(smallest, largest, step) GiB of a disk type: the base bounds, narrowed by the
    DiskSpec allOf part whose `if` names the type."""
    base = fields_of("DiskSpec")["diskSizeGB"]
    low, high, step = base["minimum"], base["maximum"], base["multipleOf"]
    for part in SCHEMAS["DiskSpec"].get("allOf", []):
        named = part.get("if", {}).get("properties", {}).get("diskType", {}).get("const")
        if named == disk_type:
            narrowed = part["then"]["properties"]["diskSizeGB"]
            low, high = narrowed.get("minimum", low), narrowed.get("maximum", high)
    return low, high, step


def device_names(count: int) -> list[str]:
    """`count` data-disk devices the contract's pattern allows, from vdx on (the seed's
    example of a new disk) and then the two-letter ones."""
    pattern = re.compile(fields_of("InstanceDiskAttachmentSpec")["deviceName"]["pattern"])
    letters = "xyzbcdefghijklmnopqrstuvw"
    candidates = [f"vd{c}" for c in letters] + [f"vda{c}" for c in letters]
    found = [d for d in candidates if pattern.match(d)]
    return found[:count]


def image_name(label: str) -> str:
    """A unique image name of this run (its prefix: imagecert.world.image_name) inside the
    contract's length and character rules."""
    return run_image_name(label, body_fields()["name"]["maxLength"])


def new_disk(device: str, disk_type: str | None = None, size_gb: int | None = None, **spec: Any) -> dict[str, Any]:
    """A dataDisks entry adding a new cloud disk; by default the first type at its smallest size."""
    disk_type = disk_type or disk_types()[0]
    cloud = {"diskType": disk_type, "diskSizeGB": size_gb if size_gb is not None else size_range(disk_type)[0], **spec}
    return {"deviceName": device, "cloudDiskSpec": cloud}


def cloud_disk(device: str, size_gb: int, **more: Any) -> dict[str, Any]:
    """A cloud data disk of an instance, for the control protocol."""
    return {"device": device, "category": "cloud", "disk_type": disk_types()[0], "size_gb": size_gb,
            "status": "in-use", "task": None, **more}


# -- calls ---------------------------------------------------------------------------
def create(world: World, instance: str, body: dict[str, Any] | None = None, api=None, **fields: Any) -> requests.Response:
    """createImage on an instance; the body is `body`, else {name, **fields}."""
    sent = body if body is not None else {"name": image_name("img"), **fields}
    response = (api or world.api).call("createImage", path={"instanceId": instance}, json=sent)
    image_id = _image_id(response)
    if image_id:
        world.made_image(image_id)
    return response


def _image_id(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    result = body.get("result") if isinstance(body, dict) else None
    return result.get("imageId") if isinstance(result, dict) else None


def made(world: World, response: requests.Response, rule_id: str = "JD-R001") -> str:
    """The id of the image a successful createImage names (checked against the contract)."""
    body = expect_success(world.api, response, rule_id, status=CATALOG["JD-R001"].http_status)
    image_id = _image_id(response)  # `create` registered it for clean-up
    check(world.api, rule_id, bool(image_id), f"the 200 body names no image: {body}")
    return image_id


def read_image(world: World, image_id: str, rule_id: str = "JD-P029") -> dict[str, Any]:
    response = world.api.call("describeImage", path={"imageId": image_id})
    body = expect_success(world.api, response, rule_id)
    return body["result"]["image"]


def wait_until_ended(world: World, image_id: str, rule_id: str) -> dict[str, Any]:
    """The image once it is no longer in progress, whatever it ended as."""
    return wait(world, lambda: read_image(world, image_id, rule_id),
                lambda image: image["status"] not in IMAGE_STATES["in-progress"])


def data_disks(image: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The image's data disks by device name."""
    return {d.get("deviceName"): d for d in image.get("dataDisks") or [] if isinstance(d, dict)}


def expect_error_body(world: World, response: requests.Response, rule_id: str) -> None:
    """A refusal outside any operation (an unknown path): the rule's status and code in
    the dialect's error body."""
    entry = CATALOG[rule_id]
    want: Expectation = entry.expect
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = error_of(DIALECT, body) if body is not None else (None, None)
    check(world.api, rule_id, response.status_code == want.status, f"expected HTTP {want.status}, got {response.status_code}")
    check(world.api, rule_id, code == want.code, f"expected error code {want.code!r}, got {code!r}")
    check(world.api, rule_id, isinstance(message, str), "the error body carries no message")
