"""The path and body rules of 表1–表3, and where upstream Nova fills the seed's gaps.

Limits are read from the contract; the seed's byte limits (x-imagecert-max-bytes,
x-imagecert-key-max-bytes) are tested with multi-byte text, which a character count
would let through.
"""

from __future__ import annotations

import uuid

import pytest

from imagecert.checks import expect_refusal, expect_refusal_by_any
from imagecert.suitekit import image_name, nothing_made, refused
from imagecert.suitekit.huawei_nova import WIDE_CHAR, bound, create, create_image_fields, make_image

FIELDS = create_image_fields()
NAME_MAX_BYTES = FIELDS["name"]["x-imagecert-max-bytes"]
KEY_MAX_BYTES = FIELDS["metadata"]["x-imagecert-key-max-bytes"]
VALUE_MAX_CHARS = FIELDS["metadata"]["additionalProperties"]["maxLength"]
WIDE_BYTES = len(WIDE_CHAR.encode())


def refused_bodies(world, rule_id: str, bodies: list) -> None:
    """Each body is refused as `rule_id` says, and nothing is made."""
    server = world.make("instance", role="instance.running")
    with nothing_made(world, rule_id):
        for body in bodies:
            expect_refusal(world.api, world.api.call("createImage", path={"server_id": server}, json=body), rule_id)


def accepted_spec(world, rule_id: str, **spec) -> None:
    """createImage with this name/metadata is accepted (a fresh server: a 202 makes it busy)."""
    make_image(world, world.make("instance", role="instance.running"), rule_id, **spec)


# -- 表1 URI ------------------------------------------------------------------------------

@pytest.mark.test_id("bdb59ac9-f91f-4ef2-9b6e-a18ebf4f8b66")
@pytest.mark.constraint("NOVA-P001")
def test_another_projects_id_in_the_path_is_refused(world):
    server = world.make("instance", role="instance.running")
    other = uuid.uuid4().hex
    response = world.api.call("createImage", path={"project_id": other, "server_id": server},
                              json={"createImage": {"name": image_name("p001")}})
    expect_refusal(world.api, response, "NOVA-P001")


@pytest.mark.test_id("bb04eadd-785d-4c1b-92ee-3339e1f5fd46")
@pytest.mark.constraint("NOVA-P002")
def test_an_unknown_server_is_not_found(world):
    refused(world, "NOVA-P002", create, world, str(uuid.uuid4()))


@pytest.mark.test_id("0bc17996-9173-43ca-ae9e-cbffab0ec314")
@pytest.mark.constraint("NOVA-P002")
def test_another_tenants_server_is_not_found(world):
    stranger = world.client_as("full")
    ours = world.make("instance", role="instance.running")  # the stranger's own project does not have it
    refused(world, "NOVA-P002", create, world, ours, api=stranger)


# -- 表2 createImage ------------------------------------------------------------------------

@pytest.mark.test_id("9dadc2d1-6bf8-4414-978c-85630f168ce2")
@pytest.mark.constraint("NOVA-P003")
def test_the_body_is_one_createImage_object_of_the_documented_fields(world):
    name = image_name("p003")
    refused_bodies(world, "NOVA-P003", [
        {},
        {"createImage": None},
        {"createImage": name},
        {"createImage": {"name": name, "description": "not in 表3"}},
        {"createImage": {"name": name}, "reboot": {"type": "SOFT"}},
    ])


@pytest.mark.test_id("048fd2fa-f38d-4b16-a5c0-a7b9be01c66f")
@pytest.mark.constraint("NOVA-P003", "NOVA-D008")
def test_a_body_that_is_not_an_object_is_refused_by_either_reading(world):
    server = world.make("instance", role="instance.running")
    with nothing_made(world, "NOVA-D008"):
        for body in (0, "createImage", [{"createImage": {"name": image_name("d007")}}]):
            response = world.api.call("createImage", path={"server_id": server}, json=body)
            expect_refusal_by_any(world.api, response, ("NOVA-P003", "NOVA-D008"))


# -- 表3 name -----------------------------------------------------------------------------

@pytest.mark.test_id("499cf074-e583-46cb-b549-5228422a7587")
@pytest.mark.constraint("NOVA-P004")
def test_name_is_required_and_a_non_empty_string(world):
    refused_bodies(world, "NOVA-P004", [
        {"createImage": {}},
        {"createImage": {"name": ""}},
        {"createImage": {"name": 5}},
        {"createImage": {"name": None}},
        {"createImage": {"metadata": {}}},
    ])


@pytest.mark.test_id("5de8e4c8-ac35-4907-a4d9-867391390e6c")
@pytest.mark.constraint("NOVA-P004")
def test_the_shortest_name_is_accepted(world):
    accepted_spec(world, "NOVA-P004", name="a" * bound(FIELDS["name"], "minLength"))


@pytest.mark.test_id("935372f4-01c1-45f5-a844-b041b0519579")
@pytest.mark.constraint("NOVA-D001")
def test_names_of_243_bytes_are_refused_even_when_short_in_characters(world):
    wide = WIDE_CHAR * (NAME_MAX_BYTES // WIDE_BYTES + 1)
    # at most maxLength characters: only a byte count refuses it
    refused_bodies(world, "NOVA-D001", [
        {"createImage": {"name": "a" * (NAME_MAX_BYTES + 1)}},
        {"createImage": {"name": wide}},
    ])


@pytest.mark.test_id("ecd0ea69-fedd-4dac-bd62-3ccfc7f42fab")
@pytest.mark.constraint("NOVA-D001")
@pytest.mark.parametrize("name", [
    "a" * NAME_MAX_BYTES,
    WIDE_CHAR * (NAME_MAX_BYTES // WIDE_BYTES),
], ids=["ascii-at-limit", "wide-at-limit"])
def test_names_up_to_242_bytes_are_accepted(world, name):
    accepted_spec(world, "NOVA-D001", name=name)


@pytest.mark.test_id("972b854b-d825-4e11-8160-bd40dba8f55a")
@pytest.mark.constraint("NOVA-D005")
def test_name_has_no_leading_or_trailing_whitespace(world):
    refused_bodies(world, "NOVA-D005", [
        {"createImage": {"name": " image"}},
        {"createImage": {"name": "image "}},
    ])
    accepted_spec(world, "NOVA-D005", name="my image")


@pytest.mark.test_id("61853f97-c6da-41b4-80d5-14c1e8cd8095")
@pytest.mark.constraint("NOVA-D009")
def test_name_holds_only_printable_characters(world):
    refused_bodies(world, "NOVA-D009", [
        {"createImage": {"name": "bell\u0007name"}},
        {"createImage": {"name": "line\u2028break"}},
    ])


# -- 表3 metadata --------------------------------------------------------------------------

@pytest.mark.test_id("d7f2cefa-375e-4692-b8b5-90408a6e711a")
@pytest.mark.constraint("NOVA-P005")
def test_metadata_is_an_object_of_non_empty_keys(world):
    name = image_name("p005")
    refused_bodies(world, "NOVA-P005", [
        {"createImage": {"name": name, "metadata": "ImageType=Gold"}},
        {"createImage": {"name": name, "metadata": ["ImageType"]}},
        {"createImage": {"name": name, "metadata": {"": "Gold"}}},
    ])


@pytest.mark.test_id("41b37116-7c11-42ff-b524-09d854d7935a")
@pytest.mark.constraint("NOVA-P005")
@pytest.mark.parametrize("metadata", [None, {}], ids=["absent", "empty"])
def test_metadata_is_optional(world, metadata):
    accepted_spec(world, "NOVA-P005", metadata=metadata)


@pytest.mark.test_id("8f365020-d6fd-400b-a6ec-68da7fc7a36d")
@pytest.mark.constraint("NOVA-D002")
def test_metadata_keys_of_255_bytes_are_refused(world):
    refused_bodies(world, "NOVA-D002", [
        {"createImage": {"name": image_name("d002"), "metadata": {"k" * (KEY_MAX_BYTES + 1): "v"}}},
    ])
    accepted_spec(world, "NOVA-D002", metadata={"k" * KEY_MAX_BYTES: "v"})


@pytest.mark.test_id("e9c50194-4dd0-4852-b7c6-16793474a10f")
@pytest.mark.constraint("NOVA-P005")
def test_a_metadata_key_over_the_byte_limit_is_refused_though_short_in_characters(world):
    # the seed counts bytes: wide characters pass the byte limit long before the character one
    # (this key also breaks NOVA-D003, whose answer is the same badRequest)
    key = WIDE_CHAR * (KEY_MAX_BYTES // WIDE_BYTES + 1)
    assert len(key.encode()) > KEY_MAX_BYTES and len(key) <= KEY_MAX_BYTES
    refused_bodies(world, "NOVA-P005", [{"createImage": {"name": image_name("p005"), "metadata": {key: "v"}}}])


@pytest.mark.test_id("2f360293-4b86-4a22-a621-dd96376c38c4")
@pytest.mark.constraint("NOVA-D003")
def test_metadata_keys_hold_only_the_upstream_characters(world):
    name = image_name("d003")
    refused_bodies(world, "NOVA-D003", [
        {"createImage": {"name": name, "metadata": {"镜像类型": "Gold"}}},
        {"createImage": {"name": name, "metadata": {"a/b": "Gold"}}},
    ])
    accepted_spec(world, "NOVA-D003", metadata={"Image_Type-1:x.y z": "Gold"})


@pytest.mark.test_id("2b328dd0-ec35-4a72-b7c5-22459ab415d8")
@pytest.mark.constraint("NOVA-D004")
def test_metadata_values_are_strings_of_at_most_255_characters(world):
    name = image_name("d004")
    refused_bodies(world, "NOVA-D004", [
        {"createImage": {"name": name, "metadata": {"k": 1}}},
        {"createImage": {"name": name, "metadata": {"k": None}}},
        {"createImage": {"name": name, "metadata": {"k": "v" * (VALUE_MAX_CHARS + 1)}}},
    ])
    accepted_spec(world, "NOVA-D004", metadata={"k": "v" * VALUE_MAX_CHARS})
