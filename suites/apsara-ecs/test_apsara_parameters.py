"""Each row of the seed's parameter table: values just under, at and over every documented
limit, the documented refusal for each broken rule, and nothing made by a refusal."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check
from imagecert.suitekit import image_name, refused
from imagecert.suitekit.apsara_ecs import (
    FAMILIES,
    FIELDS,
    create,
    device_of,
    field,
    form,
    made,
    numbered,
    read_image,
    spare_instance,
    tags,
)

WIDE = "镜"  # one Chinese character: the seed counts characters, "English or Chinese"


def sized(length: int, first: str = "n") -> str:
    """A unique text of exactly `length` characters that starts with `first`."""
    unique = first + uuid.uuid4().hex
    return (unique + "a" * length)[:length]


def running(world) -> str:
    return world.make("instance", role="instance.running")


def accepted(world, rule_id: str, **params) -> str:
    """CreateImage from a running instance is accepted; the image id."""
    params.setdefault("ImageName", image_name("ok"))
    response = create(world, InstanceId=spare_instance(world), **params)
    return made(world, response, rule_id)


# -- ImageName, Description ---------------------------------------------------------------
@pytest.mark.constraint("APS-P013")
def test_image_name_length_and_first_character(world):
    spec = field("ImageName")
    accepted(world, "APS-P013", ImageName=sized(spec["maxLength"]))
    accepted(world, "APS-P013", ImageName=sized(spec["minLength"]))
    accepted(world, "APS-P013", ImageName=f"{WIDE}{uuid.uuid4().hex[:6]}:a_b-1")
    for bad in (sized(spec["minLength"] - 1), sized(spec["maxLength"] + 1), "1" + sized(5), "_" + sized(5),
                sized(5) + ".c", sized(5) + " b", "http://" + sized(5)):
        refused(world, "APS-P013", create, world, InstanceId=spare_instance(world), ImageName=bad)


@pytest.mark.constraint("APS-P001")
def test_description_length_and_prefix(world):
    spec = field("Description")
    accepted(world, "APS-P001", Description=sized(spec["maxLength"]))
    accepted(world, "APS-P001", Description=WIDE * spec["minLength"])
    for bad in ("a" * (spec["minLength"] - 1), sized(spec["maxLength"] + 1), "http://example.test/x",
                "https://example.test/x"):
        refused(world, "APS-P001", create, world, InstanceId=spare_instance(world), Description=bad)


@pytest.mark.constraint("APS-D007")
def test_a_description_may_start_with_https_without_a_scheme(world):
    accepted(world, "APS-D007", Description="https is how the image was fetched")
    refused(world, "APS-P001", create, world, InstanceId=spare_instance(world), Description="https://example.test")


# -- Tag.N ----------------------------------------------------------------------------------
@pytest.mark.constraint("APS-P003")
def test_tag_key_rules(world):
    limit = field("Tag.1.Key")["maxLength"]
    longest = sized(limit, "k")
    found = read_image(world, accepted(world, "APS-P003", **{"Tag.1.Key": longest, "Tag.1.Value": "v"}), "APS-P003")
    check(world.api, "APS-P003", tags(found) == {longest: "v"}, f"a {limit}-character tag key became {tags(found)}")
    for bad in ("", sized(limit + 1, "k"), "aliyun-team", "acs:team", "see http://x", "see https://x"):
        refused(world, "APS-P003", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": bad, "Tag.1.Value": "v"})
    refused(world, "APS-P003", create, world, InstanceId=spare_instance(world), **{"Tag.1.Value": "a value without its key"})


@pytest.mark.constraint("APS-P020")
def test_tag_value_rules(world):
    limit = field("Tag.1.Value")["maxLength"]
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": ""})
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": "aliyun"})
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": sized(limit, "v")})
    for bad in (sized(limit + 1, "v"), "acs:value", "see http://x", "see https://x"):
        refused(world, "APS-P020", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": "k", "Tag.1.Value": bad})


@pytest.mark.constraint("APS-P002", "APS-P018")
def test_lower_case_tag_spellings_follow_the_same_rules(world):
    refused(world, "APS-P002", create, world, InstanceId=spare_instance(world), **{"Tag.1.key": "aliyun-team"})
    refused(world, "APS-P018", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": "k", "Tag.1.value": "acs:value"})


@pytest.mark.constraint("APS-D004")
def test_two_spellings_of_one_tag_must_agree(world):
    found = read_image(world, accepted(world, "APS-D004", **{"Tag.1.Key": "team", "Tag.1.key": "team"}), "APS-D004")
    check(world.api, "APS-D004", list(tags(found)) == ["team"], f"one tag in two spellings became {tags(found)}")
    refused(world, "APS-D004", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": "team", "Tag.1.key": "other"})
    refused(world, "APS-D004", create, world, InstanceId=spare_instance(world),
            **{"Tag.1.Key": "team", "Tag.1.Value": "a", "Tag.1.value": "b"})


@pytest.mark.constraint("APS-P004")
def test_tags_are_numbered_within_the_documented_range(world):
    numbers = numbered("Tag.{}.Key")
    accepted(world, "APS-P004", **{f"Tag.{numbers[-1]}.Key": "last"})
    refused(world, "APS-P004", create, world, InstanceId=spare_instance(world), **{f"Tag.{numbers[-1] + 1}.Key": "one-too-many"})
    refused(world, "APS-P004", create, world, InstanceId=spare_instance(world), **{f"Tag.{numbers[0] - 1}.Value": "v"})


# -- Platform, Architecture -----------------------------------------------------------------
@pytest.mark.constraint("APS-P005")
def test_platform_outside_the_value_range_is_refused(world):
    refused(world, "APS-P005", create, world, InstanceId=spare_instance(world), Platform="Plan 9")


@pytest.mark.constraint("APS-P006")
def test_architecture_outside_the_value_range_is_refused(world):
    accepted(world, "APS-P006", Architecture=FIELDS["Architecture"]["enum"][0])
    refused(world, "APS-P006", create, world, InstanceId=spare_instance(world), Architecture="arm64")


# -- DiskDeviceMapping.N ----------------------------------------------------------------------
def mapping(n: int = 1, **fields) -> dict[str, object]:
    return {f"DiskDeviceMapping.{n}.{name}": value for name, value in fields.items()}


@pytest.mark.constraint("APS-P009")
def test_device_names_follow_the_disk_family(world):
    other, ordinary = FAMILIES["other"], FAMILIES["ordinary"]
    refused(world, "APS-P009", create, world, **mapping(Device="/dev/sda"))
    essd = world.make("snapshot", role="snapshot.available", category=other["categories"][-1])
    plain = world.make("snapshot", role="snapshot.ordinary.available", category=ordinary["categories"][0])
    refused(world, "APS-P009", create, world, **mapping(SnapshotId=essd, Device=device_of(ordinary)))
    refused(world, "APS-P009", create, world, **mapping(SnapshotId=plain, Device=device_of(other)))
    made(world, create(world, **mapping(SnapshotId=essd, Device=device_of(other))), "APS-P009")


@pytest.mark.constraint("APS-P014")
@pytest.mark.parametrize("family", ["ordinary", "other"])
def test_size_without_a_snapshot_is_within_the_familys_range(world, family):
    spec = FAMILIES[family]
    device = device_of(spec)
    for size in (spec["size"]["minimum"], spec["size"]["maximum"]):
        name = image_name("p014")
        made(world, create(world, ImageName=name, **mapping(Device=device, Size=size)), "APS-P014")
    for size in (spec["size"]["minimum"] - 1, spec["size"]["maximum"] + 1, "forty"):
        refused(world, "APS-P014", create, world, **mapping(Device=device, Size=size))


@pytest.mark.constraint("APS-P015")
def test_size_with_a_snapshot_is_not_smaller_than_the_snapshot(world):
    other = FAMILIES["other"]
    size = other["size"]["minimum"] + 20
    snapshot = world.make("snapshot", size_gb=size, category=other["categories"][-1])
    refused(world, "APS-P015", create, world, **mapping(SnapshotId=snapshot, Size=size - 1))
    made(world, create(world, **mapping(SnapshotId=snapshot, Size=size)), "APS-P015")


@pytest.mark.constraint("APS-P017")
def test_disk_type_outside_the_value_range_is_refused(world):
    snapshot = world.make("snapshot", role="snapshot.available")
    refused(world, "APS-P017", create, world, **mapping(SnapshotId=snapshot, DiskType="root"))


# -- ClientToken ------------------------------------------------------------------------------
@pytest.mark.constraint("APS-P023")
def test_client_token_is_short_ascii(world):
    limit = field("ClientToken")["maxLength"]
    accepted(world, "APS-P023", ClientToken=sized(limit, "t"))
    refused(world, "APS-P023", create, world, InstanceId=spare_instance(world), ClientToken=sized(limit + 1, "t"))
    refused(world, "APS-P023", create, world, InstanceId=spare_instance(world), ClientToken="令牌-not-ascii")


# -- RegionId / regionId ----------------------------------------------------------------------
@pytest.mark.constraint("APS-P021", "APS-D005")
def test_region_id_is_required_in_the_body(world):
    refused(world, "APS-P021", create, world, InstanceId=spare_instance(world), RegionId=None)
    refused(world, "APS-P021", world.api.call, "CreateImage",
            form=form(world, InstanceId=spare_instance(world), RegionId=None), query={"RegionId": world.scope["region_id"]})


@pytest.mark.constraint("APS-P019")
def test_lower_case_region_id_alone_is_enough(world):
    accepted(world, "APS-P019", RegionId=None, regionId=world.scope["region_id"])


@pytest.mark.constraint("APS-D003")
def test_both_region_spellings_must_agree(world):
    region = world.scope["region_id"]
    accepted(world, "APS-D003", regionId=region)
    refused(world, "APS-D003", create, world, InstanceId=spare_instance(world), regionId=region + "-other")


@pytest.mark.constraint("APS-P022")
def test_a_region_the_account_does_not_have_is_refused(world):
    refused(world, "APS-P022", create, world, InstanceId=spare_instance(world), RegionId=world.scope["region_id"] + "-nowhere")
