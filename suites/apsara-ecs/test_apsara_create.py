"""CreateImage succeeds as documented: the answer the seed gives, an image DescribeImages
lists with what was asked for (and the documented defaults), made asynchronously and
deletable."""

from __future__ import annotations

import pytest

from imagecert.checks import check, expect_success
from imagecert.suitekit import image_name
from imagecert.suitekit.apsara_ecs import (
    CONTRACT,
    FAMILIES,
    FIELDS,
    IMAGE_STATES,
    create,
    describe,
    device_of,
    made,
    make_image,
    mappings,
    read_image,
    tags,
    wait_until_made,
)


@pytest.mark.test_id("a6bae059-c1c3-4a6d-bfc2-f5d0e47c2ed4")
@pytest.mark.constraint("APS-P024", "APS-D001")
def test_the_answer_carries_the_seeds_request_id(world):
    name = image_name("p024")
    response = create(world, InstanceId=world.make("instance", role="instance.running"), ImageName=name)
    body = expect_success(world.api, response, "APS-P024", status=200)
    made(world, response, "APS-D001")
    check(world.api, "APS-P024", isinstance(body.get("RequestID"), str) and bool(body["RequestID"]),
          f"the answer has no RequestID string: {body}")


@pytest.mark.test_id("20becab8-6a69-4add-b18b-7f0e72ef8c50")
@pytest.mark.constraint("APS-B003")
def test_the_image_is_listed_at_once_becomes_available_and_is_deleted(world):
    image_id = make_image(world, "APS-B003")
    first = read_image(world, image_id, "APS-B003")
    known = IMAGE_STATES["making"] + [IMAGE_STATES["made"]]
    check(world.api, "APS-B003", first.get("Status") in known,
          f"a new image is {first.get('Status')!r}, neither being made nor made ({known})")
    wait_until_made(world, image_id, "APS-B003")
    if world.controlled:
        check(world.api, "APS-B003", world.read(image_id)["status"] == IMAGE_STATES["made"],
              "the control protocol and DescribeImages disagree on the image's status")

    deleted = world.api.call("DeleteImage", form={"RegionId": world.scope["region_id"], "ImageId": image_id})
    expect_success(world.api, deleted, "APS-B003", status=200)
    left = describe(world, "APS-B003", ImageId=image_id)
    check(world.api, "APS-B003", left["TotalCount"] == 0 and left["Images"]["Image"] == [],
          f"DescribeImages still lists the deleted image: {left['Images']['Image']}")


@pytest.mark.test_id("ac9034a5-8ed6-4097-8925-5d80d1e5a717")
@pytest.mark.constraint("APS-B003", "APS-P002", "APS-P018")
def test_the_image_has_the_name_description_and_tags_given_in_either_spelling(world):
    name = image_name("b003")
    image_id = make_image(world, "APS-B003", ImageName=name, Description="镜像 made by imagecert",
                          **{"Tag.1.Key": "team", "Tag.1.Value": "ops", "Tag.2.key": "env", "Tag.2.value": "test"})
    found = read_image(world, image_id, "APS-B003")
    check(world.api, "APS-B003", found.get("ImageName") == name, f"the image is named {found.get('ImageName')!r}")
    check(world.api, "APS-B003", found.get("Description") == "镜像 made by imagecert",
          f"the image's description is {found.get('Description')!r}")
    check(world.api, "APS-P002", tags(found).get("env") == "test" and tags(found).get("team") == "ops",
          f"the tags given (team=ops, and env=test in the lower-case spelling) are not all there: {tags(found)}")


@pytest.mark.test_id("494b8ae2-1bfc-45ad-87b1-1f67d5e6e3f2")
@pytest.mark.constraint("APS-P005", "APS-P006", "APS-P001", "APS-P013")
def test_what_is_not_given_takes_the_documented_default(world):
    response = create(world, InstanceId=world.make("instance", role="instance.running"), ImageName=None)
    found = read_image(world, made(world, response, "APS-P013"), "APS-P005")
    check(world.api, "APS-P005", found.get("Platform") == FIELDS["Platform"]["default"],
          f"the image's Platform is {found.get('Platform')!r}, not the default {FIELDS['Platform']['default']!r}")
    check(world.api, "APS-P006", found.get("Architecture") == FIELDS["Architecture"]["default"],
          f"the image's Architecture is {found.get('Architecture')!r}, not {FIELDS['Architecture']['default']!r}")
    check(world.api, "APS-P001", found.get("Description", "") == "",
          f"the image's description defaults to {found.get('Description')!r}, not empty")
    check(world.api, "APS-P013", found.get("ImageName", "") == "",
          f"the image's name defaults to {found.get('ImageName')!r}, not empty")


@pytest.mark.test_id("1a1b3f42-43c2-4f89-947a-0f7e0c32af44")
@pytest.mark.constraint("APS-P005", "APS-P006", "APS-P017")
def test_a_data_disk_snapshot_made_the_system_disk_keeps_platform_and_architecture(world):
    snapshot = world.make("snapshot", role="snapshot.data.available", disk_type="data")
    platform = [p for p in FIELDS["Platform"]["enum"] if p != FIELDS["Platform"]["default"]][-1]
    architecture = [a for a in FIELDS["Architecture"]["enum"] if a != FIELDS["Architecture"]["default"]][0]
    image_id = make_image(world, "APS-P005", Platform=platform, Architecture=architecture,
                          **{"DiskDeviceMapping.1.SnapshotId": snapshot, "DiskDeviceMapping.1.DiskType": "system"})
    found = read_image(world, image_id, "APS-P005")
    check(world.api, "APS-P005", found.get("Platform") == platform, f"Platform {platform!r} became {found.get('Platform')!r}")
    check(world.api, "APS-P006", found.get("Architecture") == architecture,
          f"Architecture {architecture!r} became {found.get('Architecture')!r}")
    types = [m.get("Type") for m in mappings(found)]
    check(world.api, "APS-P017", types == ["system"], f"the data snapshot made a {types} disk, not the system disk asked")


@pytest.mark.test_id("40133167-ada5-4712-9b9b-0ec6564cf58c")
@pytest.mark.constraint("APS-P017")
def test_a_mapping_without_disk_type_takes_its_snapshots(world):
    snapshot = world.make("snapshot", role="snapshot.data.available", disk_type="data")
    found = read_image(world, make_image(world, "APS-P017", **{"DiskDeviceMapping.1.SnapshotId": snapshot}), "APS-P017")
    types = [m.get("Type") for m in mappings(found)]
    check(world.api, "APS-P017", types == ["data"], f"a data disk's snapshot made a {types} disk without DiskType")


@pytest.mark.test_id("a086db65-f0eb-46e5-8dba-122d49cfa8a0")
@pytest.mark.constraint("APS-P016")
def test_a_mapping_without_size_takes_the_snapshots_or_its_familys_default(world):
    other = FAMILIES["other"]
    snapshot = world.make("snapshot", size_gb=other["size"]["minimum"] + 7, category=other["categories"][-1])
    ordinary = FAMILIES["ordinary"]
    params = {
        "DiskDeviceMapping.1.SnapshotId": snapshot,
        "DiskDeviceMapping.2.Device": device_of(ordinary, "c"),
        "DiskDeviceMapping.3.Device": device_of(other, "d"),
    }
    found = read_image(world, make_image(world, "APS-P016", **params), "APS-P016")
    sizes = {m.get("Device"): str(m.get("Size")) for m in mappings(found)}
    expected = {device_of(ordinary, "c"): str(ordinary["size"]["default"]), device_of(other, "d"): str(other["size"]["default"])}
    check(world.api, "APS-P016", {d: sizes.get(d) for d in expected} == expected,
          f"mappings without Size and snapshot got {sizes}, not their family's default {expected}")
    from_snapshot = [str(m.get("Size")) for m in mappings(found) if m.get("SnapshotId") == snapshot]
    check(world.api, "APS-P016", from_snapshot == [str(other["size"]["minimum"] + 7)],
          f"the mapping of a {other['size']['minimum'] + 7} GiB snapshot got Size {from_snapshot}")


@pytest.mark.test_id("6a290217-29c8-4308-8392-b0b0cd11debb")
@pytest.mark.constraint("APS-P007")
def test_the_image_is_placed_in_the_resource_group_asked_for(world):
    group = "rg-imagecert"
    found = read_image(world, make_image(world, "APS-P007", ResourceGroupId=group), "APS-P007")
    check(world.api, "APS-P007", found.get("ResourceGroupId") == group,
          f"the image is in resource group {found.get('ResourceGroupId')!r}, not {group!r}")


@pytest.mark.test_id("8951c732-3a8c-4ccc-81f3-1e1168e6e1b7")
@pytest.mark.constraint("APS-P010", "APS-D006")
def test_an_api_version_in_the_body_is_accepted(world):
    name = image_name("p010")
    response = create(world, InstanceId=world.make("instance", role="instance.running"), ImageName=name,
                      version=CONTRACT["info"]["version"])
    made(world, response, "APS-P010")
