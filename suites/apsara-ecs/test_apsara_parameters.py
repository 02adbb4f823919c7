"""Each row of the seed's parameter table: values just under, at and over every documented
limit, the documented refusal for each broken rule, and nothing made by a refusal."""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import check
from apsara_support import (
    FAMILIES,
    FIELDS,
    create,
    created,
    device_of,
    field,
    form,
    image,
    image_name,
    numbered,
    refused,
    refuses,
    images_now,
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
    return created(world, response, rule_id, params["ImageName"])


# -- ImageName, Description ---------------------------------------------------------------
@pytest.mark.constraint("APS-P013")
def test_image_name_length_and_first_character(world):
    spec = field("ImageName")
    accepted(world, "APS-P013", ImageName=sized(spec["maxLength"]))
    accepted(world, "APS-P013", ImageName=sized(spec["minLength"]))
    accepted(world, "APS-P013", ImageName=f"{WIDE}{uuid.uuid4().hex[:6]}:a_b-1")
    for bad in (sized(spec["minLength"] - 1), sized(spec["maxLength"] + 1), "1" + sized(5), "_" + sized(5),
                sized(5) + ".c", sized(5) + " b", "http://" + sized(5)):
        refuses(world, "APS-P013", InstanceId=spare_instance(world), ImageName=bad)


@pytest.mark.constraint("APS-P001")
def test_description_length_and_prefix(world):
    spec = field("Description")
    accepted(world, "APS-P001", Description=sized(spec["maxLength"]))
    accepted(world, "APS-P001", Description=WIDE * spec["minLength"])
    for bad in ("a" * (spec["minLength"] - 1), sized(spec["maxLength"] + 1), "http://example.test/x",
                "https://example.test/x"):
        refuses(world, "APS-P001", InstanceId=spare_instance(world), Description=bad)


@pytest.mark.constraint("APS-D007")
def test_a_description_may_start_with_https_without_a_scheme(world):
    accepted(world, "APS-D007", Description="https is how the image was fetched")
    refuses(world, "APS-P001", InstanceId=spare_instance(world), Description="https://example.test")


# -- Tag.N ----------------------------------------------------------------------------------
@pytest.mark.constraint("APS-P003")
def test_tag_key_rules(world):
    limit = field("Tag.1.Key")["maxLength"]
    longest = sized(limit, "k")
    found = image(world, accepted(world, "APS-P003", **{"Tag.1.Key": longest, "Tag.1.Value": "v"}), "APS-P003")
    check(world.api, "APS-P003", tags(found) == {longest: "v"}, f"a {limit}-character tag key became {tags(found)}")
    for bad in ("", sized(limit + 1, "k"), "aliyun-team", "acs:team", "see http://x", "see https://x"):
        refuses(world, "APS-P003", InstanceId=spare_instance(world), **{"Tag.1.Key": bad, "Tag.1.Value": "v"})
    refuses(world, "APS-P003", InstanceId=spare_instance(world), **{"Tag.1.Value": "a value without its key"})


@pytest.mark.constraint("APS-P020")
def test_tag_value_rules(world):
    limit = field("Tag.1.Value")["maxLength"]
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": ""})
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": "aliyun"})
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": sized(limit, "v")})
    for bad in (sized(limit + 1, "v"), "acs:value", "see http://x", "see https://x"):
        refuses(world, "APS-P020", InstanceId=spare_instance(world), **{"Tag.1.Key": "k", "Tag.1.Value": bad})


@pytest.mark.constraint("APS-P002", "APS-P018")
def test_lower_case_tag_spellings_follow_the_same_rules(world):
    refuses(world, "APS-P002", InstanceId=spare_instance(world), **{"Tag.1.key": "aliyun-team"})
    refuses(world, "APS-P018", InstanceId=spare_instance(world), **{"Tag.1.Key": "k", "Tag.1.value": "acs:value"})


@pytest.mark.constraint("APS-D004")
def test_two_spellings_of_one_tag_must_agree(world):
    found = image(world, accepted(world, "APS-D004", **{"Tag.1.Key": "team", "Tag.1.key": "team"}), "APS-D004")
    check(world.api, "APS-D004", list(tags(found)) == ["team"], f"one tag in two spellings became {tags(found)}")
    refuses(world, "APS-D004", InstanceId=spare_instance(world), **{"Tag.1.Key": "team", "Tag.1.key": "other"})
    refuses(world, "APS-D004", InstanceId=spare_instance(world),
            **{"Tag.1.Key": "team", "Tag.1.Value": "a", "Tag.1.value": "b"})


@pytest.mark.constraint("APS-P004")
def test_tags_are_numbered_within_the_documented_range(world):
    numbers = numbered("Tag.{}.Key")
    accepted(world, "APS-P004", **{f"Tag.{numbers[-1]}.Key": "last"})
    refuses(world, "APS-P004", InstanceId=spare_instance(world), **{f"Tag.{numbers[-1] + 1}.Key": "one-too-many"})
    refuses(world, "APS-P004", InstanceId=spare_instance(world), **{f"Tag.{numbers[0] - 1}.Value": "v"})


# -- Platform, Architecture -----------------------------------------------------------------
@pytest.mark.constraint("APS-P005")
def test_platform_outside_the_value_range_is_refused(world):
    refuses(world, "APS-P005", InstanceId=spare_instance(world), Platform="Plan 9")


@pytest.mark.constraint("APS-P006")
def test_architecture_outside_the_value_range_is_refused(world):
    accepted(world, "APS-P006", Architecture=FIELDS["Architecture"]["enum"][0])
    refuses(world, "APS-P006", InstanceId=spare_instance(world), Architecture="arm64")


# -- DiskDeviceMapping.N ----------------------------------------------------------------------
def mapping(n: int = 1, **fields) -> dict[str, object]:
    return {f"DiskDeviceMapping.{n}.{name}": value for name, value in fields.items()}


@pytest.mark.constraint("APS-P009")
def test_device_names_follow_the_disk_family(world):
    other, ordinary = FAMILIES["other"], FAMILIES["ordinary"]
    refuses(world, "APS-P009", **mapping(Device="/dev/sda"))
    essd = world.make("snapshot", role="snapshot.available", category=other["categories"][-1])
    plain = world.make("snapshot", role="snapshot.ordinary.available", category=ordinary["categories"][0])
    refuses(world, "APS-P009", **mapping(SnapshotId=essd, Device=device_of(ordinary)))
    refuses(world, "APS-P009", **mapping(SnapshotId=plain, Device=device_of(other)))
    created(world, create(world, **mapping(SnapshotId=essd, Device=device_of(other))), "APS-P009")


@pytest.mark.constraint("APS-P014")
@pytest.mark.parametrize("family", ["ordinary", "other"])
def test_size_without_a_snapshot_is_within_the_familys_range(world, family):
    spec = FAMILIES[family]
    device = device_of(spec)
    for size in (spec["size"]["minimum"], spec["size"]["maximum"]):
        name = image_name("p014")
        created(world, create(world, ImageName=name, **mapping(Device=device, Size=size)), "APS-P014", name)
    for size in (spec["size"]["minimum"] - 1, spec["size"]["maximum"] + 1, "forty"):
        refuses(world, "APS-P014", **mapping(Device=device, Size=size))


@pytest.mark.constraint("APS-P015")
def test_size_with_a_snapshot_is_not_smaller_than_the_snapshot(world):
    other = FAMILIES["other"]
    size = other["size"]["minimum"] + 20
    snapshot = world.make("snapshot", size_gb=size, category=other["categories"][-1])
    refuses(world, "APS-P015", **mapping(SnapshotId=snapshot, Size=size - 1))
    created(world, create(world, **mapping(SnapshotId=snapshot, Size=size)), "APS-P015")


@pytest.mark.constraint("APS-P017")
def test_disk_type_outside_the_value_range_is_refused(world):
    snapshot = world.make("snapshot", role="snapshot.available")
    refuses(world, "APS-P017", **mapping(SnapshotId=snapshot, DiskType="root"))


# -- ClientToken ------------------------------------------------------------------------------
@pytest.mark.constraint("APS-P023")
def test_client_token_is_short_ascii(world):
    limit = field("ClientToken")["maxLength"]
    accepted(world, "APS-P023", ClientToken=sized(limit, "t"))
    refuses(world, "APS-P023", InstanceId=spare_instance(world), ClientToken=sized(limit + 1, "t"))
    refuses(world, "APS-P023", InstanceId=spare_instance(world), ClientToken="令牌-not-ascii")


# -- RegionId / regionId ----------------------------------------------------------------------
@pytest.mark.constraint("APS-P021", "APS-D005")
def test_region_id_is_required_in_the_body(world):
    refuses(world, "APS-P021", InstanceId=spare_instance(world), RegionId=None)
    before = images_now(world)
    query_only = world.api.call("CreateImage", form=form(world, InstanceId=spare_instance(world), RegionId=None),
                                query={"RegionId": world.scope["region_id"]})
    refused(world, query_only, "APS-P021", before)


@pytest.mark.constraint("APS-P019")
def test_lower_case_region_id_alone_is_enough(world):
    accepted(world, "APS-P019", RegionId=None, regionId=world.scope["region_id"])


@pytest.mark.constraint("APS-D003")
def test_both_region_spellings_must_agree(world):
    region = world.scope["region_id"]
    accepted(world, "APS-D003", regionId=region)
    refuses(world, "APS-D003", InstanceId=spare_instance(world), regionId=region + "-other")


@pytest.mark.constraint("APS-P022")
def test_a_region_the_account_does_not_have_is_refused(world):
    refuses(world, "APS-P022", InstanceId=spare_instance(world), RegionId=world.scope["region_id"] + "-nowhere")
