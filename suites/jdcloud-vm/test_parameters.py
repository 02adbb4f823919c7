"""The request body: every field of 请求参数, InstanceDiskAttachmentSpec, DiskSpec and
ChargeSpec, at and around its documented limits (all read from the contract)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from imagecert.checks import check, expect_refusal
from imagecert.contracts import operations
from imagecert.suitekit import refused
from imagecert.suitekit.jdcloud_vm import (
    CONTRACT,
    DIALECT,
    FOR_REFUSALS,
    body_fields,
    cloud_disk,
    create,
    data_disks,
    device_names,
    disk_types,
    fields_of,
    image_name,
    made,
    new_disk,
    read_image,
    size_range,
)

NAME = body_fields()["name"]
DESCRIPTION = body_fields()["description"]
CHARGE = fields_of("ChargeSpec")
WIDE = "镜"  # a Chinese character: the name rule allows them


def ruled(rule_id: str, value: Any):
    """A parameter case that proves one rule (its id goes on that case only)."""
    return pytest.param(rule_id, value, marks=pytest.mark.constraint(rule_id), id=f"{rule_id}-{value}")


def name_of(length: int, filler: str = "a") -> str:
    """A name of `length` characters using every kind of character the rule allows."""
    allowed = WIDE + "Az09_-."
    return (allowed + filler * length)[:length]


def body_refused(world, body: dict[str, Any], rule_id: str) -> None:
    """createImage with `body` on an instance kept for refusals is refused as `rule_id` says."""
    refused(world, rule_id, create, world, world.make("instance", role=FOR_REFUSALS, status="running"), body)


def with_disk(disk: dict[str, Any]) -> dict[str, Any]:
    return {"name": image_name("disk"), "dataDisks": [disk]}


def disk_with(**cloud: Any) -> dict[str, Any]:
    """A new disk whose cloudDiskSpec has `cloud` merged in."""
    disk = new_disk(device_names(1)[0])
    disk["cloudDiskSpec"].update(cloud)
    return disk


def charged(**charge: Any) -> dict[str, Any]:
    return with_disk(disk_with(charge=charge))


# -- name and description -----------------------------------------------------------
@pytest.mark.test_id("99e0e949-6e75-421f-9681-27b159c72963")
@pytest.mark.constraint("JD-P003")
@pytest.mark.parametrize("case", ["missing", "too-short", "too-long", "not-a-string", "space", "symbol"])
def test_a_bad_name_is_refused(world, case):
    names = {
        "too-short": name_of(NAME["minLength"] - 1),
        "too-long": name_of(NAME["maxLength"] + 1),
        "not-a-string": 12345,
        "space": "bad name",
        "symbol": "bad!name",
    }
    body = {} if case == "missing" else {"name": names[case]}
    body_refused(world, body, "JD-P003")


@pytest.mark.test_id("bb669a76-8799-4074-a4b1-7e8f6601fc68")
@pytest.mark.constraint("JD-P003", "JD-P029")
@pytest.mark.parametrize("length", ["minLength", "maxLength"])
def test_a_name_at_its_limits_with_every_allowed_character_is_kept(world, length):
    name = name_of(NAME[length])
    instance = world.make("instance", role="instance.running", status="running")
    image_id = made(world, create(world, instance, {"name": name}), "JD-P003")
    image = read_image(world, image_id)
    check(world.api, "JD-P029", image.get("imageId") == image_id, f"describeImage shows {image.get('imageId')!r}")
    check(world.api, "JD-P003", image.get("name") == name, f"the image is named {image.get('name')!r}, not {name!r}")


@pytest.mark.test_id("635cbef3-90ac-44be-b6e8-c99734341be0")
@pytest.mark.constraint("JD-P004")
def test_a_description_over_its_limit_is_refused(world):
    body_refused(world, {"name": image_name("desc"), "description": "d" * (DESCRIPTION["maxLength"] + 1)}, "JD-P004")


@pytest.mark.test_id("a1bfadc7-d741-4d7d-b991-3caa48d65b8a")
@pytest.mark.constraint("JD-P004")
def test_a_description_at_its_limit_is_kept(world):
    description = (WIDE + "d" * DESCRIPTION["maxLength"])[:DESCRIPTION["maxLength"]]
    instance = world.make("instance", role="instance.running", status="running")
    image_id = made(world, create(world, instance, {"name": image_name("desc"), "description": description}), "JD-P004")
    shown = read_image(world, image_id).get("desc")
    check(world.api, "JD-P004", shown == description, f"the image's desc is {shown!r}")


# -- dataDisks and InstanceDiskAttachmentSpec ---------------------------------------------
@pytest.mark.test_id("717adf8b-337e-45bc-a491-44282f81679c")
@pytest.mark.constraint("JD-P005")
def test_data_disks_that_is_not_a_list_is_refused(world):
    body_refused(world, {"name": image_name("dd"), "dataDisks": {"deviceName": "vdb"}}, "JD-P005")


@pytest.mark.test_id("16e793f9-8a1b-44d6-92fe-a0cb96cc59c9")
@pytest.mark.parametrize(
    "rule_id, disk",
    [
        ruled("JD-P006", {"diskCategory": "local"}),
        ruled("JD-P007", {"autoDelete": "yes"}),
        ruled("JD-P008", {"cloudDiskSpec": "ssd"}),
        ruled("JD-P009", {"deviceName": "vda"}),
        ruled("JD-P009", {"deviceName": "vdbn"}),
        ruled("JD-P009", {"deviceName": "sdb"}),
    ],
)
def test_a_bad_disk_attachment_field_is_refused(world, rule_id, disk):
    body_refused(world, with_disk({**new_disk(device_names(1)[0]), **disk}), rule_id)


@pytest.mark.test_id("50874ab5-55cb-488b-a054-bbc737761feb")
@pytest.mark.constraint("JD-P010")
def test_no_device_without_a_device_name_is_refused(world):
    body_refused(world, with_disk({"noDevice": True}), "JD-P010")


@pytest.mark.test_id("c4ec2ee6-3bdb-4845-8d0b-6d0fe4dc874b")
@pytest.mark.constraint("JD-R007")
def test_a_device_named_twice_is_refused(world):
    device = device_names(1)[0]
    body_refused(world, {"name": image_name("dup"), "dataDisks": [{"deviceName": device, "noDevice": True}] * 2}, "JD-R007")


@pytest.mark.test_id("1beaa4dd-df0e-4785-99f5-062193bd8ec3")
@pytest.mark.constraint("JD-P005", "JD-P006", "JD-P007", "JD-P009", "JD-C008", "JD-C006")
def test_new_disks_at_the_edges_of_the_device_range_are_added(world):
    pattern_edges = ("vdb", "vdz", "vdaa", "vdbm")  # the ends of [vdb~vdbm] and of its one-letter part
    instance = world.make("instance", role="instance.running", status="running")
    disks = [{**new_disk(d), "diskCategory": "cloud", "autoDelete": True} for d in pattern_edges]
    image_id = made(world, create(world, instance, {"name": image_name("edges"), "dataDisks": disks}), "JD-P009")
    shown = data_disks(read_image(world, image_id))
    check(world.api, "JD-C008", set(pattern_edges) <= set(shown), f"the image's data disks are {sorted(shown)}")


# -- DiskSpec ------------------------------------------------------------------------------
@pytest.mark.test_id("0e58a3b1-a0db-403e-a6d2-cca9caad3b65")
@pytest.mark.parametrize(
    "rule_id, cloud",
    [
        ruled("JD-P011", {"az": 5}),
        ruled("JD-P012", {"name": ["disk"]}),
        ruled("JD-P013", {"description": 5}),
        ruled("JD-P014", {"diskType": "nvme"}),
        ruled("JD-P018", {"policyId": 5}),
        ruled("JD-P019", {"charge": "prepaid"}),
        ruled("JD-P020", {"multiAttachable": "no"}),
        ruled("JD-P021", {"encrypt": 1}),
    ],
)
def test_a_bad_disk_spec_field_is_refused(world, rule_id, cloud):
    body_refused(world, with_disk(disk_with(**cloud)), rule_id)


@pytest.mark.test_id("fcd97368-476c-4671-be79-fd898876d2e8")
@pytest.mark.constraint("JD-R008", "JD-D003")
def test_a_new_disk_without_a_type_or_snapshot_is_refused(world):
    disk = new_disk(device_names(1)[0])
    del disk["cloudDiskSpec"]["diskType"]
    body_refused(world, with_disk(disk), "JD-R008")


@pytest.mark.test_id("ee42a6f9-1d6d-4e43-87c5-83b907393b62")
@pytest.mark.constraint("JD-R009", "JD-P015", "JD-D003")
def test_a_new_disk_without_a_size_or_snapshot_is_refused(world):
    disk = new_disk(device_names(1)[0])
    del disk["cloudDiskSpec"]["diskSizeGB"]
    body_refused(world, with_disk(disk), "JD-R009")


def sizes_out_of_range() -> list[tuple[str, int]]:
    cases = []
    for disk_type in disk_types():
        low, high, step = size_range(disk_type)
        cases += [(disk_type, low - step), (disk_type, high + step), (disk_type, low + step // 2)]
    return cases


@pytest.mark.test_id("2c673fb2-dbee-4b75-9c06-8ad9751e2c74")
@pytest.mark.constraint("JD-R009", "JD-P015")
@pytest.mark.parametrize("disk_type, size_gb", sizes_out_of_range())
def test_a_size_outside_its_type_range_or_step_is_refused(world, disk_type, size_gb):
    body_refused(world, with_disk(new_disk(device_names(1)[0], disk_type, size_gb)), "JD-R009")


@pytest.mark.test_id("a2ba7f1d-3910-42d9-a8b0-b6723105c151")
@pytest.mark.constraint("JD-P014", "JD-P015", "JD-C008")
def test_every_type_at_both_ends_of_its_range_is_accepted(world):
    ends = [(t, size) for t in disk_types() for size in size_range(t)[:2]]
    disks = [new_disk(device, t, size) for device, (t, size) in zip(device_names(len(ends)), ends)]
    instance = world.make("instance", role="instance.running", status="running")
    image_id = made(world, create(world, instance, {"name": image_name("sizes"), "dataDisks": disks}), "JD-P015")
    shown = data_disks(read_image(world, image_id))
    for disk in disks:
        got = (shown.get(disk["deviceName"]) or {}).get("cloudDisk") or {}
        want = disk["cloudDiskSpec"]
        check(world.api, "JD-P015", (got.get("diskType"), got.get("diskSizeGB")) == (want["diskType"], want["diskSizeGB"]),
              f"{disk['deviceName']} is {got}, asked {want}")


def io_disk(iops: int) -> dict[str, Any]:
    """A new disk of the one type iops applies to (the type the DiskSpec documents it for)."""
    io_type = next(t for t in disk_types() if t.endswith("io1"))
    return new_disk(device_names(1)[0], io_type, None, iops=iops)


@pytest.mark.test_id("b6715e44-bb29-48c6-b6cb-3729fac493c1")
@pytest.mark.constraint("JD-R013", "JD-P016")
def test_iops_off_its_step_is_refused(world):
    step = fields_of("DiskSpec")["iops"]["multipleOf"]
    body_refused(world, with_disk(io_disk(step * 50 + step // 2)), "JD-R013")


@pytest.mark.test_id("6da025f2-6827-41c4-b65c-d42f66433de9")
@pytest.mark.constraint("JD-P016")
def test_iops_on_its_step_is_accepted(world):
    step = fields_of("DiskSpec")["iops"]["multipleOf"]
    instance = world.make("instance", role="instance.running", status="running")
    made(world, create(world, instance, with_disk(io_disk(step * 50))), "JD-P016")


# -- snapshots -----------------------------------------------------------------------------
@pytest.mark.test_id("18a5738b-6ab8-41de-a555-ee5175d1d354")
@pytest.mark.constraint("JD-R015", "JD-P017")
def test_an_unknown_snapshot_is_refused(world):
    body_refused(world, with_disk({"deviceName": device_names(1)[0], "cloudDiskSpec": {"snapshotId": "snapshot-doesnotexist"}}),
            "JD-R015")


@pytest.mark.test_id("ebff05a0-7831-40e1-9695-b941b8b30125")
@pytest.mark.constraint("JD-P017", "JD-D003", "JD-C008")
def test_a_new_disk_from_a_snapshot_needs_no_type_or_size(world):
    snapshot = world.make("snapshot", role="snapshot.available", size_gb=size_range(disk_types()[0])[0], status="available")
    device = device_names(1)[0]
    instance = world.make("instance", role="instance.running", status="running")
    body = with_disk({"deviceName": device, "cloudDiskSpec": {"snapshotId": snapshot}})
    image_id = made(world, create(world, instance, body), "JD-P017")
    got = (data_disks(read_image(world, image_id)).get(device) or {}).get("cloudDisk") or {}
    check(world.api, "JD-P017", got.get("snapshotId") == snapshot, f"{device} is {got}, not made from {snapshot}")


@pytest.mark.test_id("6c06097e-d226-4f6a-b496-9749fd9e99de")
@pytest.mark.constraint("JD-R010")
def test_a_replacing_disk_smaller_than_the_original_is_refused(world):
    low, high, step = size_range(disk_types()[0])
    original = low + 4 * step
    instance = world.make("instance", status="running", data_disks=[cloud_disk("vdb", original)])
    body = with_disk(new_disk("vdb", disk_types()[0], original - step))
    refused(world, "JD-R010", create, world, instance, body)


@pytest.mark.test_id("887bac76-3e53-42a5-a137-6884a9414ad6")
@pytest.mark.constraint("JD-R010")
def test_a_disk_smaller_than_its_snapshot_is_refused(world):
    low, high, step = size_range(disk_types()[0])
    snapshot = world.make("snapshot", size_gb=low + 4 * step, status="available")
    instance = world.make("instance", status="running")
    body = with_disk(new_disk(device_names(1)[0], disk_types()[0], low + 3 * step, snapshotId=snapshot))
    expect_refusal(world.api, create(world, instance, body), "JD-R010")


# -- ChargeSpec ----------------------------------------------------------------------------
def durations() -> tuple[int, list[int]]:
    """(the longest month duration, the year durations) from the contract."""
    year = next(part["then"]["properties"]["chargeDuration"]["enum"] for part in CONTRACT["components"]["schemas"]
                ["ChargeSpec"]["allOf"])
    return CHARGE["chargeDuration"]["maximum"], [y for y in year if y is not None]


def enum_of(field: str) -> list[str]:
    return [v for v in CHARGE[field]["enum"] if v is not None]


@pytest.mark.test_id("ef462a22-cbed-4ddd-b5b0-bab237e4e26f")
@pytest.mark.parametrize(
    "rule_id, charge",
    [
        ruled("JD-P022", {"chargeMode": "monthly"}),
        ruled("JD-P023", {"chargeUnit": "week"}),
        ruled("JD-P024", {"chargeUnit": "month", "chargeDuration": durations()[0] + 1}),
        ruled("JD-P024", {"chargeUnit": "year", "chargeDuration": max(durations()[1]) + 1}),
        ruled("JD-P024", {"chargeDuration": 0}),
        ruled("JD-P025", {"autoRenew": "OPEN"}),
        ruled("JD-P026", {"buyScenario": "{not base64}"}),
        ruled("JD-P030", {"chargeMode": "prepaid_by_duration"}),
        ruled("JD-P030", {"chargeMode": "prepaid_by_duration", "chargeUnit": "month"}),
    ],
)
def test_a_bad_charge_field_is_refused(world, rule_id, charge):
    body_refused(world, charged(**charge), rule_id)


@pytest.mark.test_id("842bb9a5-59aa-46b0-b20c-d3539011e398")
@pytest.mark.constraint("JD-P019", "JD-P022", "JD-P023", "JD-P024", "JD-P025", "JD-P026")
@pytest.mark.parametrize("unit", ["month", "year"])
def test_a_full_charge_at_its_longest_duration_is_accepted(world, unit):
    longest = durations()[0] if unit == "month" else max(durations()[1])
    voucher = base64.b64encode(json.dumps({"activity": {"activityType": 1, "activityIdentifier": 1}}).encode()).decode()
    charge = {"chargeMode": enum_of("chargeMode")[0], "chargeUnit": unit, "chargeDuration": longest,
              "autoRenew": True, "buyScenario": voucher}
    instance = world.make("instance", role="instance.running", status="running")
    made(world, create(world, instance, charged(**charge)), "JD-P024")


def voucher(decoded: Any) -> str:
    """buyScenario: `decoded` (JSON, or raw bytes) in Base64, as the seed asks."""
    raw = decoded if isinstance(decoded, bytes) else json.dumps(decoded).encode()
    return base64.b64encode(raw).decode()


@pytest.mark.test_id("d2440a87-c899-429c-998a-ae7a74d7a6c0")
@pytest.mark.constraint("JD-D011", "JD-P026")
def test_a_voucher_is_refused_unless_it_decodes_to_the_documented_activity(world):
    """JD-D011's reading imagecert holds (level should): both activity fields are 必填字段.
    The other side, a voucher of the documented shape, is accepted by every reading (JD-P026)."""
    for decoded in (b"abc", {}, {"activity": {"activityType": 1}}, {"activity": {"activityIdentifier": "a"}},
                    {"activity": {"activityType": None, "activityIdentifier": "a"}}, {"activity": "a"}):
        body_refused(world, charged(buyScenario=voucher(decoded)), "JD-D011")
    instance = world.make("instance", role="instance.running", status="running")
    documented = {"activity": {"activityType": 1, "activityIdentifier": "a"}}
    made(world, create(world, instance, charged(buyScenario=voucher(documented))), "JD-P026")


# -- the documents' own examples and the SDK's body -------------------------------------------
def seed_example(name: str) -> dict[str, Any]:
    body = operations(DIALECT)["createImage"].spec["requestBody"]
    return json.loads(json.dumps(body["content"]["application/json"]["examples"][name]["value"]))


@pytest.mark.test_id("32d132f5-fc30-4497-8286-e9e2bf3521ca")
@pytest.mark.constraint("JD-D001")
def test_the_seed_example_as_written_is_refused(world):
    body_refused(world, seed_example("seed"), "JD-D001")


@pytest.mark.test_id("d179aa3f-e621-4613-8594-26b8db2e605e")
@pytest.mark.constraint("JD-D001", "JD-C007", "JD-C008")
def test_the_seed_example_with_the_tables_spelling_is_accepted(world):
    body = seed_example("seedAsTabled")
    from_snapshot = next(d for d in body["dataDisks"] if (d.get("cloudDiskSpec") or {}).get("snapshotId"))
    spec = from_snapshot["cloudDiskSpec"]
    spec["snapshotId"] = world.make("snapshot", role="snapshot.available", size_gb=spec["diskSizeGB"], status="available")
    body["name"] = image_name("seed")
    instance = world.make("instance", role="instance.running", status="running")
    image_id = made(world, create(world, instance, body), "JD-D001")
    shown = data_disks(read_image(world, image_id))
    excluded = [d["deviceName"] for d in body["dataDisks"] if d.get("noDevice")]
    added = [d["deviceName"] for d in body["dataDisks"] if not d.get("noDevice")]
    check(world.api, "JD-C007", not set(excluded) & set(shown), f"excluded {excluded} but the image has {sorted(shown)}")
    check(world.api, "JD-C008", set(added) <= set(shown), f"added {added} but the image has {sorted(shown)}")


def every_field_null(schema_name: str) -> dict[str, Any]:
    """A schema's object with every field sent as null, as jdcloud-sdk sends it (less the
    example's misspelling the schema lists only to refuse, JD-D001)."""
    return {field: None for field, schema in fields_of(schema_name).items() if "not" not in schema}


@pytest.mark.test_id("d04bfc66-cb3c-419e-85c8-26705714f772")
@pytest.mark.constraint("JD-D008")
def test_a_body_shaped_like_the_sdks_is_accepted(world):
    instance = world.make("instance", role="instance.running", status="running")
    disk = new_disk(device_names(1)[0])
    spec = {**every_field_null("DiskSpec"), **disk["cloudDiskSpec"], "charge": every_field_null("ChargeSpec")}
    attachment = {**every_field_null("InstanceDiskAttachmentSpec"), "deviceName": disk["deviceName"], "cloudDiskSpec": spec}
    body = {**every_field_null("CreateImageRequest"), "regionId": world.scope.get("region_id"), "instanceId": instance,
            "name": image_name("sdk"), "dataDisks": [attachment]}
    made(world, create(world, instance, body), "JD-D008")
