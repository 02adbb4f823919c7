"""The apsara-ecs suite's own calls: building CreateImage forms, finding the image an
answer names, and reading it with DescribeImages (the shared names: `imagecert.suitekit`).

Nothing here knows a limit or a status by heart: lengths, enums, the tag numbering,
the disk families' size ranges and the image's status words are read from
contracts/apsara-ecs/openapi.yaml.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from imagecert.checks import check, expect_success
from imagecert.contracts import load_catalog, load_contract, request_schema, resolve
from imagecert.suitekit import image_name, named, wait
from imagecert.world import World, not_verified

DIALECT = "apsara-ecs"
CATALOG = load_catalog(DIALECT)
CONTRACT = load_contract(DIALECT)
FORM = resolve(DIALECT, request_schema(DIALECT, "CreateImage"))
FIELDS: dict[str, Any] = FORM["properties"]
FAMILIES: dict[str, dict[str, Any]] = {
    name: family for name, family in FORM["x-imagecert-disk-categories"].items() if isinstance(family, dict)
}
IMAGE_STATES = CONTRACT["components"]["schemas"]["Image"]["properties"]["Status"]["x-imagecert-states"]


# -- the contract ---------------------------------------------------------------------
def field(name: str) -> dict[str, Any]:
    """The schema of a form field, flattened names (Tag.3.Key) included."""
    if name in FIELDS:
        return FIELDS[name]
    for pattern, schema in FORM.get("patternProperties", {}).items():
        if re.search(pattern, name) and "not" not in schema:
            return schema
    raise KeyError(f"the CreateImage form has no field {name}")


def numbered(template: str) -> range:
    """The numbers N the contract accepts in a flattened name ("Tag.{}.Key")."""
    accepted = [n for n in range(0, 1000) if _accepts(template.format(n))]
    return range(accepted[0], accepted[-1] + 1)


def _accepts(name: str) -> bool:
    try:
        field(name)
    except KeyError:
        return False
    return True


def device_of(family: dict[str, Any], letter: str = "b") -> str:
    """A device name of a family (its pattern's fixed prefix and one letter)."""
    return family["device"].removeprefix("^").split("[", 1)[0] + letter


# -- calls ------------------------------------------------------------------------------
def form(world: World, **params: Any) -> dict[str, Any]:
    """A CreateImage form in the target's region, with a fresh image name unless given;
    a parameter given as None is left out."""
    body = {"RegionId": world.scope["region_id"], "ImageName": image_name("img")}
    body.update(params)
    return {k: v for k, v in body.items() if v is not None}


def create(world: World, api=None, **params: Any) -> requests.Response:
    return (api or world.api).call("CreateImage", form=form(world, **params))


def made(world: World, response: requests.Response, rule_id: str) -> str:
    """The image a successful CreateImage made (registered for clean-up). The seed's answer
    is {"RequestID"} alone (APS-D001): without ImageId, the image is found by the name the
    request gave."""
    body = expect_success(world.api, response, rule_id, status=200)
    image_id = body.get("ImageId")
    name = _sent(response).get("ImageName")
    if not image_id and not name:
        not_verified("the answer names no image (APS-D001) and the request gave no name to find it by")
    if not image_id:
        found = describe(world, rule_id, ImageName=name)["Images"]["Image"]
        image_id = found[0]["ImageId"] if len(found) == 1 else None
    return named(world, rule_id, image_id, body)


def _sent(response: requests.Response) -> dict[str, str]:
    """The form the request sent (its body, else its query)."""
    request = response.request
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return dict(parse_qsl(body or urlsplit(request.url).query))


def make_image(world: World, rule_id: str, **params: Any) -> str:
    """CreateImage (from a new running instance unless a source is given) → the image id."""
    if not {"InstanceId", "SnapshotId"} & set(params) and not any(k.startswith("DiskDeviceMapping.") for k in params):
        params["InstanceId"] = world.make("instance", role="instance.running")
    return made(world, create(world, **params), rule_id)


def describe(world: World, rule_id: str, api=None, **filters: Any) -> dict[str, Any]:
    answer = (api or world.api).call("DescribeImages", form={"RegionId": world.scope["region_id"], **filters})
    return expect_success(world.api, answer, rule_id, status=200)


def read_image(world: World, image_id: str, rule_id: str) -> dict[str, Any]:
    """The one image DescribeImages lists for an id."""
    found = describe(world, rule_id, ImageId=image_id)["Images"]["Image"]
    check(world.api, rule_id, [i.get("ImageId") for i in found] == [image_id],
          f"DescribeImages(ImageId={image_id}) lists {[i.get('ImageId') for i in found]}, not the image made")
    return found[0]


def wait_until_made(world: World, image_id: str, rule_id: str) -> dict[str, Any]:
    """The image once it is made (checked: it ended Available)."""
    found = wait(world, lambda: read_image(world, image_id, rule_id),
                 lambda found: found.get("Status") not in IMAGE_STATES["making"])
    check(world.api, rule_id, found.get("Status") == IMAGE_STATES["made"],
          f"the image ended {found.get('Status')!r}, not {IMAGE_STATES['made']!r}")
    return found


def mappings(found: dict[str, Any]) -> list[dict[str, Any]]:
    return (found.get("DiskDeviceMappings") or {}).get("DiskDeviceMapping") or []


def tags(found: dict[str, Any]) -> dict[str, str]:
    return {t.get("TagKey"): t.get("TagValue") for t in (found.get("Tags") or {}).get("Tag") or []}


# -- refusals ---------------------------------------------------------------------------
def spare_instance(world: World) -> str:
    """One running instance per test for the calls that must be refused: a refused call
    changes nothing, so they can all name it (and a static pool stays small)."""
    if not hasattr(world, "apsara_spare_instance"):
        world.apsara_spare_instance = world.make("instance", role="instance.running")
    return world.apsara_spare_instance
