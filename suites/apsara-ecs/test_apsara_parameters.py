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
@pytest.mark.test_id("932e284a-4212-4268-b557-2bd0338a64eb")
@pytest.mark.constraint("APS-P013")
def test_image_name_length_and_first_character(world):
    spec = field("ImageName")
    accepted(world, "APS-P013", ImageName=sized(spec["maxLength"]))
    accepted(world, "APS-P013", ImageName=sized(spec["minLength"]))
    accepted(world, "APS-P013", ImageName=f"{WIDE}{uuid.uuid4().hex[:6]}:a_b-1")
    for bad in (sized(spec["minLength"] - 1), sized(spec["maxLength"] + 1), "1" + sized(5), "_" + sized(5),
                sized(5) + ".c", sized(5) + " b", "http://" + sized(5)):
        refused(world, "APS-P013", create, world, InstanceId=spare_instance(world), ImageName=bad)


@pytest.mark.test_id("0ee00d28-e4f5-4afa-a4df-273af1b2f3b0")
@pytest.mark.constraint("APS-P001")
def test_description_length_and_prefix(world):
    spec = field("Description")
    accepted(world, "APS-P001", Description=sized(spec["maxLength"]))
    accepted(world, "APS-P001", Description=WIDE * spec["minLength"])
    for bad in ("a" * (spec["minLength"] - 1), sized(spec["maxLength"] + 1), "http://example.test/x",
                "https://example.test/x"):
        refused(world, "APS-P001", create, world, InstanceId=spare_instance(world), Description=bad)


@pytest.mark.test_id("40cb0be4-1979-4a05-8820-1fe4d30c31e7")
@pytest.mark.constraint("APS-D007")
def test_a_description_may_start_with_https_without_a_scheme(world):
    accepted(world, "APS-D007", Description="https is how the image was fetched")
    refused(world, "APS-P001", create, world, InstanceId=spare_instance(world), Description="https://example.test")


# -- Tag.N ----------------------------------------------------------------------------------
@pytest.mark.test_id("a9ed692b-6611-4ea6-a53f-724bc401af2a")
@pytest.mark.constraint("APS-P003")
def test_tag_key_rules(world):
    limit = field("Tag.1.Key")["maxLength"]
    longest = sized(limit, "k")
    found = read_image(world, accepted(world, "APS-P003", **{"Tag.1.Key": longest, "Tag.1.Value": "v"}), "APS-P003")
    check(world.api, "APS-P003", tags(found) == {longest: "v"}, f"a {limit}-character tag key became {tags(found)}")
    for bad in ("", sized(limit + 1, "k"), "aliyun-team", "acs:team", "see http://x", "see https://x"):
        refused(world, "APS-P003", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": bad, "Tag.1.Value": "v"})
    refused(world, "APS-P003", create, world, InstanceId=spare_instance(world), **{"Tag.1.Value": "a value without its key"})


@pytest.mark.test_id("3215bcf6-86f6-45c6-9b40-a2176a05f967")
@pytest.mark.constraint("APS-P020")
def test_tag_value_rules(world):
    limit = field("Tag.1.Value")["maxLength"]
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": ""})
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": "aliyun"})
    accepted(world, "APS-P020", **{"Tag.1.Key": "k", "Tag.1.Value": sized(limit, "v")})
    for bad in (sized(limit + 1, "v"), "acs:value", "see http://x", "see https://x"):
        refused(world, "APS-P020", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": "k", "Tag.1.Value": bad})


@pytest.mark.test_id("88d18c70-d118-41f1-8234-7065b275bef8")
@pytest.mark.constraint("APS-P002", "APS-P018")
def test_lower_case_tag_spellings_follow_the_same_rules(world):
    refused(world, "APS-P002", create, world, InstanceId=spare_instance(world), **{"Tag.1.key": "aliyun-team"})
    refused(world, "APS-P018", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": "k", "Tag.1.value": "acs:value"})


@pytest.mark.test_id("604d57d5-827a-4aa6-9529-3e850744959d")
@pytest.mark.constraint("APS-D004")
def test_two_spellings_of_one_tag_must_agree(world):
    found = read_image(world, accepted(world, "APS-D004", **{"Tag.1.Key": "team", "Tag.1.key": "team"}), "APS-D004")
    check(world.api, "APS-D004", list(tags(found)) == ["team"], f"one tag in two spellings became {tags(found)}")
    refused(world, "APS-D004", create, world, InstanceId=spare_instance(world), **{"Tag.1.Key": "team", "Tag.1.key": "other"})
    refused(world, "APS-D004", create, world, InstanceId=spare_instance(world),
            **{"Tag.1.Key": "team", "Tag.1.Value": "a", "Tag.1.value": "b"})


@pytest.mark.test_id("b6a6ac79-12cb-4765-a55c-6964fe20b16f")
@pytest.mark.constraint("APS-P004")
def test_tags_are_numbered_within_the_documented_range(world):
    numbers = numbered("Tag.{}.Key")
    accepted(world, "APS-P004", **{f"Tag.{numbers[-1]}.Key": "last"})
    refused(world, "APS-P004", create, world, InstanceId=spare_instance(world), **{f"Tag.{numbers[-1] + 1}.Key": "one-too-many"})
    refused(world, "APS-P004", create, world, InstanceId=spare_instance(world), **{f"Tag.{numbers[0] - 1}.Value": "v"})


# -- Platform, Architecture -----------------------------------------------------------------
@pytest.mark.test_id("aed0a91e-576c-4b93-a958-211ac4714243")
@pytest.mark.constraint("APS-P005")
def test_platform_outside_the_value_range_is_refused(world):
    refused(world, "APS-P005", create, world, InstanceId=spare_instance(world), Platform="Plan 9")


@pytest.mark.test_id("286d39ac-e49c-449e-8e7d-62c8f4e581c5")
@pytest.mark.constraint("APS-P006")
def test_architecture_outside_the_value_range_is_refused(world):
    accepted(world, "APS-P006", Architecture=FIELDS["Architecture"]["enum"][0])
    refused(world, "APS-P006", create, world, InstanceId=spare_instance(world), Architecture="arm64")


# -- DiskDeviceMapping.N ----------------------------------------------------------------------
def mapping(n: int = 1, **fields) -> dict[str, object]:
    return {f"DiskDeviceMapping.{n}.{name}": value for name, value in fields.items()}


@pytest.mark.test_id("c8fafc1f-9cb8-4632-8a0b-da3a69bce6f2")
@pytest.mark.constraint("APS-P009")
def test_device_names_follow_the_disk_family(world):
    other, ordinary = FAMILIES["other"], FAMILIES["ordinary"]
    refused(world, "APS-P009", create, world, **mapping(Device="/dev/sda"))
    essd = world.make("snapshot", role="snapshot.available", category=other["categories"][-1])
    plain = world.make("snapshot", role="snapshot.ordinary.available", category=ordinary["categories"][0])
    refused(world, "APS-P009", create, world, **mapping(SnapshotId=essd, Device=device_of(ordinary)))
    refused(world, "APS-P009", create, world, **mapping(SnapshotId=plain, Device=device_of(other)))
    made(world, create(world, **mapping(SnapshotId=essd, Device=device_of(other))), "APS-P009")


@pytest.mark.test_id("08e28a4f-733e-4ead-b35f-5648863949c9")
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


@pytest.mark.test_id("f097f4a6-413c-4ce0-b846-6479b7b5296e")
@pytest.mark.constraint("APS-P015")
def test_size_with_a_snapshot_is_not_smaller_than_the_snapshot(world):
    other = FAMILIES["other"]
    size = other["size"]["minimum"] + 20
    snapshot = world.make("snapshot", size_gb=size, category=other["categories"][-1])
    refused(world, "APS-P015", create, world, **mapping(SnapshotId=snapshot, Size=size - 1))
    made(world, create(world, **mapping(SnapshotId=snapshot, Size=size)), "APS-P015")


@pytest.mark.test_id("05ba32a5-1f1b-4422-8e5f-5dc3239345c9")
@pytest.mark.constraint("APS-P017")
def test_disk_type_outside_the_value_range_is_refused(world):
    snapshot = world.make("snapshot", role="snapshot.available")
    refused(world, "APS-P017", create, world, **mapping(SnapshotId=snapshot, DiskType="root"))


# -- ClientToken ------------------------------------------------------------------------------
@pytest.mark.test_id("cf8329b0-cff7-476b-8788-de909e20c371")
@pytest.mark.constraint("APS-P023")
def test_client_token_is_short_ascii(world):
    limit = field("ClientToken")["maxLength"]
    accepted(world, "APS-P023", ClientToken=sized(limit, "t"))
    refused(world, "APS-P023", create, world, InstanceId=spare_instance(world), ClientToken=sized(limit + 1, "t"))
    refused(world, "APS-P023", create, world, InstanceId=spare_instance(world), ClientToken="令牌-not-ascii")


# -- RegionId / regionId ----------------------------------------------------------------------
@pytest.mark.test_id("9093022b-4511-40bb-b898-95f00db0b915")
@pytest.mark.constraint("APS-P021", "APS-D005")
def test_region_id_is_required_in_the_body(world):
    refused(world, "APS-P021", create, world, InstanceId=spare_instance(world), RegionId=None)
    refused(world, "APS-P021", world.api.call, "CreateImage",
            form=form(world, InstanceId=spare_instance(world), RegionId=None), query={"RegionId": world.scope["region_id"]})


@pytest.mark.test_id("ba3f490a-1d56-44c4-ac20-491cdc06f26e")
@pytest.mark.constraint("APS-P019")
def test_lower_case_region_id_alone_is_enough(world):
    accepted(world, "APS-P019", RegionId=None, regionId=world.scope["region_id"])


@pytest.mark.test_id("c6bf49a9-a22e-40b4-bae5-6c66521dbf79")
@pytest.mark.constraint("APS-D003")
def test_both_region_spellings_must_agree(world):
    region = world.scope["region_id"]
    accepted(world, "APS-D003", regionId=region)
    refused(world, "APS-D003", create, world, InstanceId=spare_instance(world), regionId=region + "-other")


@pytest.mark.test_id("4ba7e6f2-fa2d-4b5b-aff6-eb7d9d56cd70")
@pytest.mark.constraint("APS-P022")
def test_a_region_the_account_does_not_have_is_refused(world):
    refused(world, "APS-P022", create, world, InstanceId=spare_instance(world), RegionId=world.scope["region_id"] + "-nowhere")
