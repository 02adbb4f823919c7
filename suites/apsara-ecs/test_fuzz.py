"""Fuzzing Ecs/CreateImage from the contract (see imagecert.fuzz).

What only this dialect knows: every parameter is a form field; RegionId (and its
lower-case twin) names the target's region; an image's source is InstanceId (a
running instance), SnapshotId or DiskDeviceMapping.N.SnapshotId (an accomplished
snapshot of a known disk family and size); each request has a ClientToken of its own
(a reused one with other parameters is refused, APS-B002). JSON Schema cannot say the
rules across flattened field names: tag N's two spellings are one tag, a tag value
needs its key, and a mapping's Size lies in its Device's family range, not below its
snapshot, whose family its Device must be. The image made is read with DescribeImages
until it is Available, and reads as an empty list once deleted.
"""

from __future__ import annotations

import re
import uuid

from imagecert.checks import check
from imagecert.contracts import load_contract, request_schema, resolve
from imagecert.fuzz import CatalogRule, Fill, FuzzTests, Fuzzer, Lifecycle

DIALECT = "apsara-ecs"
IMAGE_STATES = load_contract(DIALECT)["components"]["schemas"]["Image"]["properties"]["Status"]["x-imagecert-states"]
FORM = resolve(DIALECT, request_schema(DIALECT, "CreateImage"))
FAMILIES = {name: f for name, f in FORM["x-imagecert-disk-categories"].items() if isinstance(f, dict)}
WITHOUT_DEVICE = "other"  # the contract's family of a mapping that names no Device
SNAPSHOT_FAMILY = WITHOUT_DEVICE  # the fuzzer's snapshots: of that family, at its smallest size
SNAPSHOT_CATEGORY = FAMILIES[SNAPSHOT_FAMILY]["categories"][0]
SNAPSHOT_GB = FAMILIES[SNAPSHOT_FAMILY]["size"]["minimum"]
MAPPING_FIELD = re.compile(r"^DiskDeviceMapping\.(\d+)\.(\w+)$")


TAG_FIELD = re.compile(r"^Tag\.(\d+)\.(Key|key|Value|value)$")


def _tag_fields(body) -> dict[int, dict[str, list[str]]]:
    tags: dict[int, dict[str, list[str]]] = {}
    for name, value in (body or {}).items():
        match = TAG_FIELD.match(name)
        if match:
            part = tags.setdefault(int(match.group(1)), {"key": [], "value": []})
            part[match.group(2).lower()].append(value)
    return tags


def tag_value_without_key(body) -> bool:
    """APS-P003: a Tag.N.Value without its key is a tag whose key is empty."""
    return any(not part["key"] for part in _tag_fields(body).values())


def tag_spellings_disagree(body) -> bool:
    """APS-D004: Tag.N.Key and Tag.N.key given with different values."""
    return any(len(set(texts)) > 1 for part in _tag_fields(body).values() for texts in part.values())


def value_without_its_key(example) -> list:
    """The example with each tag's key left out (its value kept)."""
    keys = [name for name in example or {} if (m := TAG_FIELD.match(name)) and m.group(2) == "Key"]
    return [{k: v for k, v in example.items() if k != key} for key in keys[:1]]


def spellings_that_disagree(example) -> list:
    """The example with each tag's key given again in lower case: the same (accepted)
    and different (refused)."""
    keys = [name for name in example or {} if (m := TAG_FIELD.match(name)) and m.group(2) == "Key"]
    lower = {key: key[: -len("Key")] + "key" for key in keys[:1]}
    return [{**example, low: example[key] + suffix} for key, low in lower.items() for suffix in ("", "x")]


def region(world) -> str:
    return world.scope["region_id"]


def snapshot(world) -> str:
    return world.make("snapshot", role="snapshot.available", status="accomplished",
                      category=SNAPSHOT_CATEGORY, size_gb=SNAPSHOT_GB)


def _mappings(body) -> list[dict]:
    found: dict[int, dict] = {}
    for name, value in (body or {}).items():
        match = MAPPING_FIELD.match(name)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return list(found.values())


def _family_of_device(device) -> str | None:
    return next((name for name, f in FAMILIES.items() if isinstance(device, str) and re.search(f["device"], device)), None)


def size_outside_its_family(body) -> bool:
    """APS-P014: without a snapshot, Size within the range of the Device's disk family."""
    for mapping in _mappings(body):
        size = mapping.get("Size")
        if "SnapshotId" not in mapping and isinstance(size, int):
            limits = FAMILIES[_family_of_device(mapping.get("Device")) or WITHOUT_DEVICE]["size"]
            if not limits["minimum"] <= size <= limits["maximum"]:
                return True
    return False


def size_below_the_snapshot(body) -> bool:
    """APS-P015: with a snapshot, Size at least the snapshot's."""
    return any("SnapshotId" in m and isinstance(m.get("Size"), int) and m["Size"] < SNAPSHOT_GB for m in _mappings(body))


def _device_of(family: dict) -> str:
    """A device of a family: its pattern's fixed prefix and one letter."""
    return family["device"].removeprefix("^").split("[", 1)[0] + "b"


def _first_mapping(example) -> int | None:
    numbers = sorted(int(m.group(1)) for name in example or {} if (m := MAPPING_FIELD.match(name)))
    return numbers[0] if numbers else None


def sizes_at_the_family_edges(example) -> list:
    """The example's first mapping without its snapshot, on a Device of each family,
    with Size just under, at, and just over the family's range."""
    n = _first_mapping(example)
    if n is None:
        return []
    base = {k: v for k, v in example.items() if k != f"DiskDeviceMapping.{n}.SnapshotId"}
    return [{**base, f"DiskDeviceMapping.{n}.Device": _device_of(family), f"DiskDeviceMapping.{n}.Size": size}
            for family in FAMILIES.values()
            for limits in [family["size"]]
            for size in (limits["minimum"] - 1, limits["minimum"], limits["maximum"], limits["maximum"] + 1)]


def sizes_around_the_snapshot(example) -> list:
    """The example's first mapping with a snapshot, Size one under and at its size."""
    n = _first_mapping(example)
    if n is None or f"DiskDeviceMapping.{n}.SnapshotId" not in example:
        return []
    device = {f"DiskDeviceMapping.{n}.Device": _device_of(FAMILIES[SNAPSHOT_FAMILY])}
    return [{**example, **device, f"DiskDeviceMapping.{n}.Size": size} for size in (SNAPSHOT_GB - 1, SNAPSHOT_GB)]


def device_of_another_family(body) -> bool:
    """APS-P009: with a snapshot, a Device of the snapshot's disk family."""
    return any("SnapshotId" in m and "Device" in m and _family_of_device(m["Device"]) != SNAPSHOT_FAMILY
               for m in _mappings(body))


def image_of(world, created) -> str:
    image_id = (created.json() or {}).get("ImageId")
    check(world.api, "APS-B003", bool(image_id), f"an accepted CreateImage answers ImageId, not {created.text[:200]}")
    return image_id


def read(world, image_id):
    return world.api.call("DescribeImages", form={"RegionId": region(world), "ImageId": image_id})


def _images(body) -> list:
    return ((body or {}).get("Images") or {}).get("Image") or []


def available(body) -> bool:
    images = _images(body)
    return len(images) == 1 and images[0].get("Status") == IMAGE_STATES["made"]


FUZZ = Fuzzer(
    DIALECT,
    fills=[
        Fill("body", "RegionId", region, reusable=True),
        Fill("body", "regionId", region, reusable=True),
        Fill("body", "InstanceId", lambda world: world.make("instance", role="instance.running", status="Running")),
        Fill("body", "SnapshotId", snapshot, reusable=True),  # an image made from a snapshot leaves it as it was
        Fill("body", "DiskDeviceMapping.*.SnapshotId", snapshot, reusable=True),
        Fill("body", "ClientToken", lambda world: uuid.uuid4().hex),
    ],
    rules=[CatalogRule("APS-P003", tag_value_without_key, value_without_its_key),
           CatalogRule("APS-D004", tag_spellings_disagree, spellings_that_disagree),
           CatalogRule("APS-P014", size_outside_its_family, sizes_at_the_family_edges),
           CatalogRule("APS-P015", size_below_the_snapshot, sizes_around_the_snapshot),
           CatalogRule("APS-P009", device_of_another_family)],
    malformed_rule="APS-C007",
    lifecycle=Lifecycle(image_of=image_of, read=read, ready=available,
                        gone=lambda response: response.status_code == 200 and not _images(response.json())),
)

# the four tests (tests/test_fuzz.py and the cassettes know them by these names and ids)
TESTS = FuzzTests(FUZZ, examples="399941ea-1e9d-4c17-bdb8-823d710ca174", valid="dd9f30d3-7eee-4b36-8462-3070f25a91f2",
                  invalid="fb94fffc-f09a-4a64-b53c-13b7af01d1dc", lifecycle="e50d84ae-2d95-40fa-b275-0e5b1a8e9abb",
                  lifecycle_test="test_made_images_become_available_read_and_delete",
                  lifecycle_rules=("APS-B003",))
globals().update(TESTS.tests())
