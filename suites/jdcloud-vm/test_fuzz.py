"""Fuzzing createImage from the contract (see imagecert.fuzz).

What only this dialect knows: the path's instanceId names a running instance with
nothing in progress; a data disk's cloudDiskSpec.snapshotId names an available
snapshot of the smallest documented disk size (so every documented size fits it); a
deviceName named twice is refused (JD-R007, which JSON Schema cannot say); the image
made is followed through describeImage until it is ready.
"""

from __future__ import annotations

from imagecert.checks import check
from imagecert.contracts import decodes_to, resolve
from imagecert.fuzz import Ambiguity, CatalogRule, Fill, FuzzTests, Fuzzer, Lifecycle

DIALECT = "jdcloud-vm"
SMALLEST_DISK_GB = resolve(DIALECT, {"$ref": "#/components/schemas/DiskSpec"})["properties"]["diskSizeGB"]["minimum"]
READY = resolve(DIALECT, {"$ref": "#/components/schemas/Image"})["properties"]["status"]["x-imagecert-states"]["done"]


def names_a_device_twice(body) -> bool:
    """JD-R007: uniqueness of one field across array items is beyond JSON Schema."""
    devices = [disk.get("deviceName") for disk in (body or {}).get("dataDisks") or [] if isinstance(disk, dict)]
    named = [device for device in devices if device]
    return len(named) != len(set(named))


def device_named_twice(example) -> list:
    """The example with its second data disk renamed as its first."""
    disks = [d for d in (example or {}).get("dataDisks") or [] if isinstance(d, dict) and d.get("deviceName")]
    if len(disks) < 2:
        return []
    disks[1]["deviceName"] = disks[0]["deviceName"]
    return [example]


def _disk_specs(body) -> list:
    disks = [d for d in (body or {}).get("dataDisks") or [] if isinstance(d, dict)]
    return [d.get("cloudDiskSpec") or d.get("CloudDiskSpec") for d in disks]


def disk_without_type_or_snapshot(body) -> bool:
    """JD-D003: a data disk with neither a type nor a snapshot (`dataDisks: [{}]`)."""
    return any(not isinstance(spec, dict) or not (spec.get("diskType") or spec.get("snapshotId"))
               for spec in _disk_specs(body))


def iops_where_it_has_no_effect(body) -> bool:
    """JD-D009: iops given on a disk that is not ssd.io1 (ignored, or refused)."""
    return any(isinstance(spec, dict) and spec.get("iops") is not None and spec.get("diskType") != "ssd.io1"
               for spec in _disk_specs(body))


VOUCHER = resolve(DIALECT, {"$ref": "#/components/schemas/ChargeSpec"})["properties"]["buyScenario"]["x-imagecert-decoded"]


def voucher_of_another_shape(body) -> bool:
    """JD-D011: a buyScenario that does not decode to the seed's activity (refused, or passed on)."""
    charges = [spec.get("charge") for spec in _disk_specs(body) if isinstance(spec, dict)]
    vouchers = [c.get("buyScenario") for c in charges if isinstance(c, dict)]
    return any(isinstance(v, str) and not decodes_to(DIALECT, VOUCHER, v) for v in vouchers)


def image_of(world, created) -> str:
    image_id = (created.json().get("result") or {}).get("imageId")
    check(world.api, "JD-B001", bool(image_id), f"an accepted createImage answers result.imageId, not {created.text[:200]}")
    return image_id


def read(world, image_id):
    return world.api.call("describeImage", path={"imageId": image_id})


FUZZ = Fuzzer(
    DIALECT,
    fills=[
        Fill("path", "instanceId", lambda world: world.make("instance", role="instance.running", status="running")),
        Fill("body", "dataDisks.*.cloudDiskSpec.snapshotId",
             lambda world: world.make("snapshot", role="snapshot.available", status="available",
                                      size_gb=SMALLEST_DISK_GB),
             reusable=True),  # an image made with a disk from a snapshot leaves the snapshot as it was
    ],
    rules=[CatalogRule("JD-R007", names_a_device_twice, device_named_twice)],
    ambiguities=[Ambiguity("JD-D003", disk_without_type_or_snapshot),
                 Ambiguity("JD-D009", iops_where_it_has_no_effect),
                 Ambiguity("JD-D011", voucher_of_another_shape)],
    malformed_rule="JD-C012",
    lifecycle=Lifecycle(image_of=image_of, read=read,
                        ready=lambda body: ((body.get("result") or {}).get("image") or {}).get("status") == READY),
)

# the four tests (tests/test_fuzz.py and the cassettes know them by these names and ids)
TESTS = FuzzTests(FUZZ, examples="dbedf9c8-03d8-4ca2-a476-561aff227853", valid="f7fc7297-5df2-4918-9930-538f21816b09",
                  invalid="d3530a46-e101-4d17-9e69-36f6854ba1d6", lifecycle="0cf63cf5-7ecf-4a9f-8dca-fe2399183c59",
                  lifecycle_test="test_made_images_become_ready_read_and_delete",
                  lifecycle_rules=("JD-B001",))
globals().update(TESTS.tests())
