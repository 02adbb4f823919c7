"""The huawei-nova suite's own calls: reading the contract, calling createImage at a
microversion, finding the image a 202 names, and waiting for it (the shared names:
`imagecert.suitekit`).

Nothing here knows a limit or a status by heart: the microversions, the byte limits and
the image's status words are read from contracts/huawei-nova/openapi.yaml.
"""

from __future__ import annotations

from typing import Any

import requests

from imagecert.checks import check, expect_success
from imagecert.contracts import load_catalog, load_contract, request_schema, resolve
from imagecert.suitekit import image_name, named, wait
from imagecert.world import World, not_verified

DIALECT = "huawei-nova"
CATALOG = load_catalog(DIALECT)
CONTRACT = load_contract(DIALECT)
MICROVERSIONS: dict[str, str] = {k: str(v) for k, v in CONTRACT["info"]["x-imagecert-microversions"].items()}
IMAGE_STATES = CONTRACT["components"]["schemas"]["Image"]["properties"]["status"]["x-imagecert-states"]

LEGACY_VERSION_HEADER = "X-OpenStack-Nova-API-Version"
VERSION_HEADER = "OpenStack-API-Version"
WIDE_CHAR = "中"  # one character, three UTF-8 bytes: tells a byte limit from a character limit


def create_image_fields() -> dict[str, Any]:
    """The createImage object's property schemas (name, metadata)."""
    action = resolve(DIALECT, request_schema(DIALECT, "createImage"))
    return resolve(DIALECT, action["properties"]["createImage"])["properties"]


def bound(schema: dict[str, Any], keyword: str) -> Any:
    """A keyword of a schema, or of the allOf part that says it."""
    if keyword in schema:
        return schema[keyword]
    return next(part[keyword] for part in schema.get("allOf", []) if keyword in part)


def version_parts(name: str) -> tuple[int, int]:
    major, minor = MICROVERSIONS[name].split(".")
    return int(major), int(minor)


def served_versions(world: World) -> dict[str, str]:
    """The microversion range the target serves, from its own version document (GET /v2.1):
    {"min": …, "max": …}. Never assumed from the contract, whose range is the reference's."""
    document = expect_success(world.api, world.api.call("getVersion"), "NOVA-B005", status=200)["version"]
    return {"min": str(document["min_version"]), "max": str(document["version"])}


def split_version(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def at(version: str) -> dict[str, str]:
    """The request header that asks for a microversion."""
    return {LEGACY_VERSION_HEADER: version}


def create(world: World, server: str, name: str | None = None, metadata: dict[str, Any] | None = None,
           version: str | None = None, api=None, operation: str = "createImage") -> requests.Response:
    """createImage on a server; `version` None sends no microversion header (2.1). `operation`
    "createImageV2" sends it to the seed's /v2 path instead (NOVA-C008)."""
    spec: dict[str, Any] = {"name": name or image_name("img")}
    if metadata is not None:
        spec["metadata"] = metadata
    return (api or world.api).call(operation, path={"server_id": server}, json={"createImage": spec},
                                   headers=at(version) if version else None)


def image_id_of(response: requests.Response) -> str | None:
    """The image a 202 names: the image_id body (from 2.45) or Location's last segment."""
    if response.content:
        try:
            found = response.json().get("image_id")
        except (ValueError, AttributeError):
            found = None
        if found:
            return found
    location = response.headers.get("Location")
    return location.rstrip("/").rsplit("/", 1)[-1] if location else None


def made(world: World, response: requests.Response, rule_id: str) -> str:
    """A 202 that names its image: the image id, registered for clean-up."""
    if response.content:
        expect_success(world.api, response, rule_id, status=202)
    else:
        check(world.api, rule_id, response.status_code == 202, f"expected HTTP 202, got {response.status_code}")
    return named(world, rule_id, image_id_of(response), "neither an image_id body nor Location")


def make_image(world: World, server: str, rule_id: str, **kwargs: Any) -> str:
    """createImage at the image_id microversion; the new image's id."""
    return made(world, create(world, server, version=MICROVERSIONS["image_id_from"], **kwargs), rule_id)


def second_image(world: World, server: str, first: str, rule_id: str) -> tuple[requests.Response, str | None]:
    """createImage again on a server whose first image (`first`) is being made: the answer
    and, where it was accepted (the new image registered for clean-up), the first image's
    status at that moment."""
    again = create(world, server)
    if again.status_code != 202:
        return again, None
    world.made_image(image_id_of(again))
    return again, expect_success(world.api, show(world, first), rule_id, status=200)["image"]["status"]


def show(world: World, image_id: str) -> requests.Response:
    """showImage without a microversion header: the image proxy is gone from 2.36."""
    return world.api.call("showImage", path={"image_id": image_id})


def wait_until_made(world: World, image_id: str, rule_id: str) -> dict[str, Any]:
    """The image once it is made (checked: it ended ACTIVE)."""
    image = wait(world, lambda: expect_success(world.api, show(world, image_id), rule_id, status=200)["image"],
                 lambda image: image["status"] not in IMAGE_STATES["making"])
    check(world.api, rule_id, image["status"] == IMAGE_STATES["made"],
          f"the image ended {image['status']!r}, not {IMAGE_STATES['made']!r}")
    return image


def wait_until_idle(world: World, server: str, rule_id: str) -> None:
    """Until the server's task is over (showServer's OS-EXT-STS:task_state null): upstream
    marks the image ACTIVE a moment before it ends the snapshot task."""
    wait(world, lambda: expect_success(world.api, world.api.call("showServer", path={"server_id": server}), rule_id,
                                       status=200)["server"],
         lambda server: server.get("OS-EXT-STS:task_state") is None)


def not_verified_without(world: World, what: str) -> None:
    """Skip as "not verified" where only the control protocol can show the outcome."""
    if not world.controlled:
        not_verified(f"{what} needs the control protocol (static mode)")
