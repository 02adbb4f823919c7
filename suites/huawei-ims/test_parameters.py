"""The request body: both shapes' parameter tables (seed 请求消息 / Request), the name and
description rules of 镜像属性, the tag rules, and bodies of no documented form."""

from __future__ import annotations

import copy
import uuid

import pytest

from imagecert.checks import check
from imagecert.suitekit import refused
from imagecert.suitekit.huawei_ims import (
    SCHEMAS,
    carried_by,
    create,
    document_for,
    from_backup,
    from_ecs,
    make_image,
    read_image,
    seed_examples,
    shape_default,
)

SHAPES = ("ecs", "backup")
SHAPE_SCHEMAS = {"ecs": "WholeImageFromEcs", "backup": "WholeImageFromBackup"}
# each row of the two parameter tables: (ECS-shape rule, backup-shape rule)
ROWS = {
    "name": ("IMS-P001", "IMS-P009"),
    "description": ("IMS-P002", "IMS-P010"),
    "tags": ("IMS-P003", "IMS-P011"),
    "image_tags": ("IMS-P004", "IMS-P012"),
    "enterprise_project_id": ("IMS-P006", "IMS-P014"),
    "max_ram": ("IMS-P007", "IMS-P015"),
    "min_ram": ("IMS-P008", "IMS-P016"),
}


def body(world, shape: str, **fields):
    """A valid body of one shape, its source made ready, with `fields` set (None leaves one out)."""
    if shape == "ecs":
        made = from_ecs(world.make("instance", role="instance.running", status="ACTIVE"))
    else:
        made = from_backup(world.make("backup", role="backup.available", status="available"))
    made.update(fields)
    return {k: v for k, v in made.items() if v is not None}


def in_both_shapes(row: str, *also: str):
    """Run a test for the row of each table: (shape, that table's rule id), marked with it."""
    return pytest.mark.parametrize("shape, rule_id", [
        pytest.param(shape, rule_id, marks=pytest.mark.constraint(rule_id, *also), id=shape)
        for shape, rule_id in zip(SHAPES, ROWS[row])
    ])


def tag_limit(part: str) -> int:
    """The most characters a tag key or value may have (image_tags' key / value schemas)."""
    return SCHEMAS["CreateWholeImageRequest"]["properties"]["image_tags"]["items"]["properties"][part]["maxLength"]


# -- the seeds' own examples --------------------------------------------------------------


@pytest.mark.test_id("86ff51f5-2118-4564-81ec-c0888928e9ac")
@pytest.mark.constraint("IMS-C015", "IMS-D005")
@pytest.mark.parametrize("name", list(seed_examples()))
def test_the_seeds_examples_are_accepted(world, name):
    example = copy.deepcopy(seed_examples()[name]["value"])
    rule_id = "IMS-D005" if {"backup_id", "image_tags"} <= set(example) else "IMS-C015"
    if "backup_id" in example:
        example["backup_id"] = world.make("backup", role="backup.available", status="available")
    else:
        example["instance_id"] = world.make("instance", role="instance.running", status="ACTIVE")
    if rule_id == "IMS-D005" and document_for(world, rule_id) == "zh":  # the zh backup table has no image_tags
        refused(world, "IMS-C028", create, world, example)
        return
    image = read_image(world, make_image(world, example, rule_id), rule_id)
    asked = example.get("tags") or [f"{t['key']}.{t['value']}" for t in example.get("image_tags", [])]
    check(world.api, rule_id, sorted(image.get("tags") or []) == sorted(asked),
          f"the image's tags are {image.get('tags')!r}, the request gave {asked!r}")


# -- the table rows, in both shapes ---------------------------------------------------------


@pytest.mark.test_id("edde1894-4979-4c93-b8a3-2168f97a7801")
@in_both_shapes("name")
def test_the_name_is_required_and_the_image_carries_it(world, shape, rule_id):
    refused(world, rule_id, create, world, body(world, shape, name=None))
    refused(world, rule_id, create, world, body(world, shape, name=""))
    wanted = body(world, shape)
    image = read_image(world, make_image(world, wanted, rule_id), rule_id)
    check(world.api, rule_id, image["name"] == wanted["name"],
          f"the image is named {image['name']!r}, not {wanted['name']!r}")


@pytest.mark.test_id("bd222522-02b1-4392-bf51-b2a581216d22")
@in_both_shapes("description")
def test_the_description_is_a_string_the_image_carries(world, shape, rule_id):
    for wrong in (5, ["text"], {"text": "x"}):
        refused(world, rule_id, create, world, body(world, shape, description=wrong))
    image = read_image(world, make_image(world, body(world, shape, description="整机镜像 (imagecert): ok"), rule_id), rule_id)
    check(world.api, rule_id, image.get("__description") == "整机镜像 (imagecert): ok",
          f"the image's __description is {image.get('__description')!r}")


@pytest.mark.test_id("96db703b-aea3-42d1-ba3c-565fb1e28c85")
@in_both_shapes("tags")
def test_tags_is_a_list_of_strings(world, shape, rule_id):
    for wrong in ("aaa.111", [1], [["aaa.111"]], {"aaa": "111"}):
        refused(world, rule_id, create, world, body(world, shape, tags=wrong))
    image = read_image(world, make_image(world, body(world, shape, tags=["aaa.111", "bbb.333"]), rule_id), rule_id)
    check(world.api, rule_id, sorted(image.get("tags") or []) == ["aaa.111", "bbb.333"],
          f"the image's tags are {image.get('tags')!r}")


@pytest.mark.test_id("91f28239-38f5-4d51-8a50-0e594a0de362")
@in_both_shapes("image_tags", "IMS-D005")
def test_image_tags_is_a_list_of_key_value_objects(world, shape, rule_id):
    if shape == "backup" and document_for(world, "IMS-D005") == "zh":
        refused(world, "IMS-C028", create, world, body(world, shape, image_tags=[{"key": "k", "value": "v"}]))
        return
    for wrong in (["k.v"], [{"key": "k"}], [{"value": "v"}], [{"key": "k", "value": "v", "x": "y"}],
                  [{"key": 1, "value": "v"}], {"key": "k", "value": "v"}):
        refused(world, rule_id, create, world, body(world, shape, image_tags=wrong))
    image = read_image(world, make_image(world, body(world, shape, image_tags=[{"key": "key1", "value": "value1"}]), rule_id), rule_id)
    check(world.api, rule_id, image.get("tags") == ["key1.value1"], f"the image's tags are {image.get('tags')!r}")


@pytest.mark.test_id("a6c5dd3b-998f-46df-b882-8f97a6e12627")
@in_both_shapes("enterprise_project_id", "IMS-D004")
def test_the_enterprise_project_is_0_or_a_uuid(world, shape, rule_id):
    if document_for(world, "IMS-D004") == "en":  # the en tables have no such row: the key is unknown
        refused(world, "IMS-C028", create, world, body(world, shape, enterprise_project_id="0"))
        return
    project = str(uuid.uuid4())
    for given in (shape_default(SHAPE_SCHEMAS[shape], "enterprise_project_id"), project):
        # that the key is accepted at all is IMS-D004's reading (zh tables), not the shape's rule
        image = read_image(world, make_image(world, body(world, shape, enterprise_project_id=given), "IMS-D004"), "IMS-D004")
        check(world.api, "IMS-D004", image.get("enterprise_project_id") == given,
              f"the image is in enterprise project {image.get('enterprise_project_id')!r}, not {given!r}")
    for wrong in ("abc", "default", "", "1"):
        refused(world, rule_id, create, world, body(world, shape, enterprise_project_id=wrong))


@pytest.mark.test_id("73107a56-94c2-4cf5-ad7b-3074a04ac7b9")
@pytest.mark.constraint("IMS-D004")
@pytest.mark.parametrize("shape", SHAPES)
def test_without_an_enterprise_project_the_image_is_in_the_default_one(world, shape):
    default = shape_default(SHAPE_SCHEMAS[shape], "enterprise_project_id")
    image = read_image(world, make_image(world, body(world, shape), "IMS-D004"), "IMS-D004")
    check(world.api, "IMS-D004", image.get("enterprise_project_id") in (default, None),
          f"an image made without enterprise_project_id is in {image.get('enterprise_project_id')!r}, not {default!r}")


@pytest.mark.test_id("313454fe-7742-491f-a497-b9cdcd690e9b")
@in_both_shapes("max_ram")
def test_max_ram_is_a_size_in_mb(world, shape, rule_id):
    for wrong in ("big", 1.5, True):
        refused(world, rule_id, create, world, body(world, shape, max_ram=wrong))
    image = read_image(world, make_image(world, body(world, shape, max_ram=4096), rule_id), rule_id)
    check(world.api, rule_id, str(image.get("max_ram")) == "4096", f"the image's max_ram is {image.get('max_ram')!r}")


@pytest.mark.test_id("95c6b405-8244-4176-ba21-50b30d195e6a")
@pytest.mark.constraint("IMS-D006")
@pytest.mark.parametrize("shape, key, value", [("ecs", "whole_image_type", "CBR"), ("backup", "vault_id", "v-1")])
def test_an_sdk_key_in_the_other_shape_is_refused(world, shape, key, value):
    refused(world, "IMS-D006", create, world, body(world, shape, **{key: value}))


@pytest.mark.test_id("19955cda-0665-47ef-8b43-e51111ef1bfd")
@pytest.mark.constraint("IMS-D009")
@pytest.mark.parametrize("shape", SHAPES)
def test_a_negative_memory_size_is_refused(world, shape):
    for field in ("max_ram", "min_ram"):
        refused(world, "IMS-D009", create, world, body(world, shape, **{field: -1}))


@pytest.mark.test_id("fa222768-a9a0-4491-a0bf-644bc3d421d3")
@in_both_shapes("min_ram")
def test_min_ram_is_a_size_in_mb_by_default_0(world, shape, rule_id):
    for wrong in ("big", 1.5, True):
        refused(world, rule_id, create, world, body(world, shape, min_ram=wrong))
    image = read_image(world, make_image(world, body(world, shape, min_ram=2048), rule_id), rule_id)
    check(world.api, rule_id, image.get("min_ram") == 2048, f"the image's min_ram is {image.get('min_ram')!r}")
    default = shape_default(SHAPE_SCHEMAS[shape], "min_ram")
    image = read_image(world, make_image(world, body(world, shape), rule_id), rule_id)
    check(world.api, rule_id, image.get("min_ram") == default,
          f"an image made without min_ram has min_ram {image.get('min_ram')!r}, not {default!r}")


@pytest.mark.test_id("64e37ee7-c46c-421a-9a1d-4567b74acbd2")
@pytest.mark.constraint("IMS-P005")
def test_the_ecs_id_is_required(world):
    refused(world, "IMS-P005", create, world, {"name": "imagecert-no-source"})
    refused(world, "IMS-P005", create, world, {"name": "imagecert-empty-ecs", "instance_id": ""})


@pytest.mark.test_id("e5c578c9-feed-41a8-9ddf-b4af6f566407")
@pytest.mark.constraint("IMS-P013")
def test_the_backup_id_may_not_be_empty(world):
    refused(world, "IMS-P013", create, world, {"name": "imagecert-empty-backup", "backup_id": ""})


# -- rules across fields ----------------------------------------------------------------------


@pytest.mark.test_id("b7a9acfd-9b38-4a1a-9c6f-00d3008ddec0")
@pytest.mark.constraint("IMS-C015")
def test_an_ecs_and_a_backup_together_are_refused(world):
    instance = world.make("instance", role="instance.running", status="ACTIVE")
    backup = world.make("backup", role="backup.available", status="available")
    refused(world, "IMS-C015", create, world, from_ecs(instance, backup_id=backup))
    check(world.api, "IMS-C015", not world.controlled or not world.read(backup).get("image_id"),
          "a refused call used the backup")


@pytest.mark.test_id("44022ed7-0b07-4b59-b5c9-aa0defb28f10")
@pytest.mark.constraint("IMS-C016")
@pytest.mark.parametrize("shape", SHAPES)
def test_tags_and_image_tags_together_are_refused(world, shape):
    both = body(world, shape, tags=["a.1"], image_tags=[{"key": "b", "value": "2"}])
    refused(world, "IMS-C016", create, world, both)


# -- 镜像属性: name and description --------------------------------------------------------


@pytest.mark.test_id("ae240be6-eb01-4e31-b582-221abeb014d8")
@pytest.mark.constraint("IMS-C021")
def test_the_name_is_at_most_its_length(world):
    longest = carried_by("IMS-C021", "maxLength")
    make_image(world, body(world, "ecs", name="n" * (longest - 1)), "IMS-C021")
    make_image(world, body(world, "ecs", name="整" * longest), "IMS-C021")
    refused(world, "IMS-C021", create, world, body(world, "ecs", name="n" * (longest + 1)))


@pytest.mark.test_id("5775b337-380c-42ef-9a59-d7d7d7e1c8de")
@pytest.mark.constraint("IMS-C022")
def test_the_name_uses_only_the_documented_characters(world):
    make_image(world, body(world, "backup", name="整机 Image-1.0_a"), "IMS-C022")
    for wrong in ("img@1", "a/b", "a+b", "tab\there", "line\nbreak", "emoji😀", "全角，逗号"):
        refused(world, "IMS-C022", create, world, body(world, "ecs", name=wrong))


@pytest.mark.test_id("b9261756-e8f9-4ee5-ad18-f518fea6e256")
@pytest.mark.constraint("IMS-C023")
def test_the_name_neither_starts_nor_ends_with_a_space(world):
    make_image(world, body(world, "ecs", name="a b"), "IMS-C023")
    for wrong in (" img", "img ", " "):
        refused(world, "IMS-C023", create, world, body(world, "ecs", name=wrong))


@pytest.mark.test_id("2272afd2-f009-46d7-a24b-bac6a31a7899")
@pytest.mark.constraint("IMS-C024")
def test_the_description_is_at_most_its_length(world):
    longest = carried_by("IMS-C024", "maxLength")
    make_image(world, body(world, "ecs", description="述" * longest), "IMS-C024")
    refused(world, "IMS-C024", create, world, body(world, "ecs", description="d" * (longest + 1)))


@pytest.mark.test_id("971a7a7a-0e69-4440-8f56-aa92792e32ba")
@pytest.mark.constraint("IMS-C025")
def test_the_description_has_no_line_break_or_angle_bracket(world):
    make_image(world, body(world, "backup", description="说明: a-b_c.d (1/2) & 'e'"), "IMS-C025")
    for wrong in ("a<b", "a>b", "line\nbreak", "carriage\rreturn", "<script>"):
        refused(world, "IMS-C025", create, world, body(world, "ecs", description=wrong))


# -- tags ---------------------------------------------------------------------------------


@pytest.mark.test_id("6e0ea104-8334-4c2f-a407-e6b85cfd52fb")
@pytest.mark.constraint("IMS-C026")
def test_a_tag_string_is_key_dot_value(world):
    image = read_image(world, make_image(world, body(world, "ecs", tags=["k.v.w", "k2."]), "IMS-C026"), "IMS-C026")
    check(world.api, "IMS-C026", sorted(image.get("tags") or []) == ["k.v.w", "k2."],
          f"the image's tags are {image.get('tags')!r}")
    for wrong in ("nodot", ".value", ""):
        refused(world, "IMS-C026", create, world, body(world, "ecs", tags=[wrong]))


@pytest.mark.test_id("a9bb6e3d-8881-44eb-b798-834347ab9430")
@pytest.mark.constraint("IMS-C027")
def test_tag_keys_and_values_are_at_most_their_lengths(world):
    key, value = tag_limit("key"), tag_limit("value")
    make_image(world, body(world, "ecs", tags=["k" * key + "." + "v" * value]), "IMS-C027")
    make_image(world, body(world, "ecs", image_tags=[{"key": "k" * key, "value": "v" * value}]), "IMS-C027")
    for wrong in (["k" * (key + 1) + ".v"], ["k." + "v" * (value + 1)]):
        refused(world, "IMS-C027", create, world, body(world, "ecs", tags=wrong))
    for wrong in ({"key": "k" * (key + 1), "value": "v"}, {"key": "k", "value": "v" * (value + 1)},
                  {"key": "", "value": "v"}):
        refused(world, "IMS-C027", create, world, body(world, "ecs", image_tags=[wrong]))


# -- bodies of no documented form ----------------------------------------------------------------


@pytest.mark.test_id("a88ac656-a4f3-4f61-a88e-a38f48a961e0")
@pytest.mark.constraint("IMS-C028")
@pytest.mark.parametrize("raw", [b"{", b"[]", b'"text"', b"null", b"{'name': 'img'}", b"\xff\xfe{}"],
                         ids=["truncated", "array", "string", "null", "single-quotes", "not-utf8"])
def test_a_body_that_is_not_a_json_object_is_refused(world, raw):
    refused(world, "IMS-C028", create, world, None, raw=raw)


@pytest.mark.test_id("2d925537-6421-4b43-bbb8-53ff143edfce")
@pytest.mark.constraint("IMS-C028")
@pytest.mark.parametrize("field, value", [("name", 123), ("instance_id", 5), ("foo", "bar"), ("Name", "img")])
def test_a_wrong_type_or_an_unknown_key_is_refused(world, field, value):
    refused(world, "IMS-C028", create, world, body(world, "ecs", **{field: value}))


@pytest.mark.test_id("9b44eb4d-dd9b-40da-a567-6a36789562b3")
@pytest.mark.constraint("IMS-C028")
def test_a_huge_body_is_refused_without_a_server_error(world):
    instance = world.make("instance", role="instance.running", status="ACTIVE")
    response = create(world, from_ecs(instance, description="d" * (4 << 20)))
    check(world.api, "IMS-C028", 400 <= response.status_code < 500,
          f"a 4 MiB body answered HTTP {response.status_code}, not a 4xx")


@pytest.mark.test_id("f208441b-69e5-49f9-a649-de8aa109027f")
@pytest.mark.constraint("IMS-C029")
@pytest.mark.parametrize("raw", [b"", b"  \n"], ids=["empty", "blank"])
def test_an_empty_body_is_refused(world, raw):
    refused(world, "IMS-C029", create, world, None, raw=raw)
