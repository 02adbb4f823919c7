"""createImage succeeds as documented: asynchronously, with the answer its microversion
asks for, and the image it names is the server's, readable and deletable."""

from __future__ import annotations

import pytest

from imagecert.checks import check, expect_refusal, expect_success
from imagecert.suitekit import image_name, nothing_made, refused
from imagecert.suitekit.huawei_nova import (
    CONTRACT,
    IMAGE_STATES,
    LEGACY_VERSION_HEADER,
    MICROVERSIONS,
    VERSION_HEADER,
    at,
    create,
    image_id_of,
    made,
    make_image,
    served_versions,
    show,
    split_version,
    version_parts,
    wait_until_made,
)


def _just_below(name: str) -> str:
    major, minor = version_parts(name)
    return f"{major}.{minor - 1}"


@pytest.mark.test_id("8c00b422-af53-43d0-bf08-e27db39cae5b")
@pytest.mark.constraint("NOVA-B001")
def test_the_image_is_made_after_the_202(world):
    server = world.make("instance", role="instance.running")
    image_id = make_image(world, server, "NOVA-B001")

    first = expect_success(world.api, show(world, image_id), "NOVA-B001", status=200)["image"]
    known = IMAGE_STATES["making"] + [IMAGE_STATES["made"]]
    check(world.api, "NOVA-B001", first["status"] in known,
          f"a new image is {first['status']!r}, neither being made nor made ({known})")
    image = wait_until_made(world, image_id, "NOVA-B001")
    if world.controlled:
        check(world.api, "NOVA-B001", world.read(image_id)["status"] == image["status"],
              "the control protocol and showImage disagree on the image's status")


@pytest.mark.test_id("1eea0701-27a3-49ae-80b4-f79890d188fe")
@pytest.mark.constraint("NOVA-B007")
def test_the_image_has_the_name_metadata_and_server_given(world):
    server = world.make("instance", role="instance.running")
    name, metadata = image_name("b007"), {"ImageType": "Gold", "ImageVersion": "2.0"}
    image_id = make_image(world, server, "NOVA-B007", name=name, metadata=metadata)

    image = expect_success(world.api, show(world, image_id), "NOVA-B007", status=200)["image"]
    check(world.api, "NOVA-B007", image["name"] == name, f"the image is named {image['name']!r}, not {name!r}")
    kept = {k: image.get("metadata", {}).get(k) for k in metadata}
    check(world.api, "NOVA-B007", kept == metadata, f"the image's metadata {kept} lost what was given {metadata}")
    check(world.api, "NOVA-B007", (image.get("server") or {}).get("id") == server,
          f"the image names server {(image.get('server') or {}).get('id')!r}, not {server!r}")


@pytest.mark.test_id("39aefdfa-0fb0-4bf0-b552-8c24aad6a6b8")
@pytest.mark.constraint("NOVA-B007", "NOVA-R004")
def test_a_deleted_image_is_gone(world):
    image_id = make_image(world, world.make("instance", role="instance.running"), "NOVA-B007")
    wait_until_made(world, image_id, "NOVA-B007")
    expect_success(world.api, world.api.call("deleteImage", path={"image_id": image_id}), "NOVA-B007", status=204)
    expect_refusal(world.api, show(world, image_id), "NOVA-R004")


@pytest.mark.test_id("7e13a73f-bbf3-400c-a0bb-788a1435ec92")
@pytest.mark.constraint("NOVA-P006")
@pytest.mark.parametrize("version", [None, _just_below("location_until")], ids=["no-header", "below-2.44"])
def test_below_2_44_location_names_the_image(world, version):
    server = world.make("instance", role="instance.running")
    response = create(world, server, version=version)
    image_id = made(world, response, "NOVA-P006")
    check(world.api, "NOVA-P006", bool(response.headers.get("Location")), "the 202 has no Location header")
    check(world.api, "NOVA-P006", not response.content, f"the 202 has a body below 2.45: {response.text[:200]!r}")
    expect_success(world.api, show(world, image_id), "NOVA-P006", status=200)


@pytest.mark.test_id("c6a1f224-5052-40ad-9c8a-14976802657d")
@pytest.mark.constraint("NOVA-P007", "NOVA-P006")
@pytest.mark.parametrize("header", [LEGACY_VERSION_HEADER, VERSION_HEADER])
@pytest.mark.parametrize("version", [MICROVERSIONS["image_id_from"], "latest"])
def test_from_2_45_the_body_is_the_image_id(world, header, version):
    asked = {header: version if header == LEGACY_VERSION_HEADER else f"compute {version}"}
    server = world.make("instance", role="instance.running")
    response = world.api.call("createImage", path={"server_id": server},
                              json={"createImage": {"name": image_name("p007")}}, headers=asked)
    body = expect_success(world.api, response, "NOVA-P007", status=202)
    check(world.api, "NOVA-P007", isinstance(body, dict) and bool(body.get("image_id")),
          f"the 202 at {version} has no image_id body: {response.text[:200]!r}")
    image_id = world.made_image(body["image_id"])
    check(world.api, "NOVA-P006", "Location" not in response.headers, "Location is still sent from 2.45")
    expect_success(world.api, show(world, image_id), "NOVA-P007", status=200)


@pytest.mark.test_id("2509b78c-398f-4f24-b46a-4afa6a05b4e2")
@pytest.mark.constraint("NOVA-P007")
def test_below_2_45_there_is_no_image_id_body(world):
    # at 2.44 itself the answer names no image at all (NOVA-D006's test); below it, Location does
    response = create(world, world.make("instance", role="instance.running"), version=_just_below("location_until"))
    made(world, response, "NOVA-P007")
    check(world.api, "NOVA-P007", not response.content, f"an image_id body below 2.45: {response.text[:200]!r}")


@pytest.mark.test_id("411a6d8f-19d6-4597-acd3-4cd8f24b91ee")
@pytest.mark.constraint("NOVA-D006")
def test_at_2_44_there_is_neither_location_nor_image_id(world):
    response = create(world, world.make("instance", role="instance.running"), version=MICROVERSIONS["location_until"])
    if response.headers.get("Location"):  # clean up what a failing provider made
        world.made_image(image_id_of(response))
    check(world.api, "NOVA-D006", response.status_code == 202, f"expected HTTP 202, got {response.status_code}")
    check(world.api, "NOVA-D006", not response.content, f"an image_id body at 2.44: {response.text[:200]!r}")
    check(world.api, "NOVA-D006", "Location" not in response.headers,
          f"a Location header at 2.44, which the seed says is not supported: {response.headers.get('Location')!r}")


# -- the seed's other path, /v2 (接口约束 5) ---------------------------------------------------
V2 = "createImageV2"  # the contract's operation at POST /v2/{project_id}/servers/{server_id}/action


@pytest.mark.test_id("6a3b174d-15ff-4661-bdb7-0b7552657594")
@pytest.mark.constraint("NOVA-C008")
def test_the_seeds_v2_path_makes_the_image_too(world):
    """Seed 001, 接口约束 5: "本节提供的接口（URI：POST /v2/… 或 POST /v2.1/…）". Without a
    microversion header both readings of NOVA-D007 answer as 2.1: Location, no body."""
    server = world.make("instance", role="instance.running")
    name, metadata = image_name("c008"), {"ImageType": "Gold"}
    response = create(world, server, name=name, metadata=metadata, operation=V2)
    image_id = made(world, response, "NOVA-C008")
    check(world.api, "NOVA-C008", bool(response.headers.get("Location")), "the 202 on /v2 has no Location header")
    check(world.api, "NOVA-C008", not response.content, f"the 202 on /v2 has a body at 2.1: {response.text[:200]!r}")
    image = expect_success(world.api, show(world, image_id), "NOVA-C008", status=200)["image"]
    check(world.api, "NOVA-C008", image["name"] == name, f"the image is named {image['name']!r}, not {name!r}")
    kept = {k: (image.get("metadata") or {}).get(k) for k in metadata}
    check(world.api, "NOVA-C008", kept == metadata, f"the image's metadata {kept} lost what was given {metadata}")
    check(world.api, "NOVA-C008", (image.get("server") or {}).get("id") == server,
          f"the image names server {(image.get('server') or {}).get('id')!r}, not {server!r}")


@pytest.mark.test_id("20e5abc4-611e-4a69-bcae-3ef44f74a71f")
@pytest.mark.constraint("NOVA-D007")
def test_on_v2_a_microversion_is_served_or_ignored_whole(world):
    """NOVA-D007: upstream's /v2 ignores the header (the 2.1 answer, naming no version); the
    seed read as one interface serves it (image_id, both headers naming it). Either, whole."""
    asked = MICROVERSIONS["image_id_from"]
    response = create(world, world.make("instance", role="instance.running"), version=asked, operation=V2)
    image_id = image_id_of(response)
    if image_id:
        world.made_image(image_id)
    check(world.api, "NOVA-D007", response.status_code == 202, f"expected HTTP 202, got {response.status_code}")
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = response.text
    named = (response.headers.get(LEGACY_VERSION_HEADER), response.headers.get(VERSION_HEADER))
    ignored = bool(response.headers.get("Location")) and body is None and named == (None, None)
    served = (isinstance(body, dict) and bool(body.get("image_id")) and "Location" not in response.headers
              and named == (asked, f"compute {asked}"))
    check(world.api, "NOVA-D007", ignored or served,
          f"asked {asked} on /v2: neither reading's answer (Location {response.headers.get('Location')!r}, "
          f"body {str(body)[:120]!r}, version headers {named})")
    expect_success(world.api, show(world, image_id), "NOVA-D007", status=200)


@pytest.mark.test_id("973d7694-ce54-4434-8e1a-41f82a4db640")
@pytest.mark.constraint("NOVA-B002")
@pytest.mark.parametrize("asked, served", [
    (None, "min"),
    (MICROVERSIONS["image_id_from"], MICROVERSIONS["image_id_from"]),
    ("latest", "max"),
], ids=["no-header", "2.45", "latest"])
def test_every_answer_names_the_microversion_used(world, asked, served):
    # no header means the lowest version, "latest" the highest: of the target's own document
    served = served_versions(world).get(served, served)
    response = create(world, world.make("instance", role="instance.running"), version=asked)
    made(world, response, "NOVA-B002")
    got = (response.headers.get(LEGACY_VERSION_HEADER), response.headers.get(VERSION_HEADER))
    check(world.api, "NOVA-B002", got == (served, f"compute {served}"),
          f"asked {asked or 'nothing'}: the answer names {got}, not {served}")


@pytest.mark.test_id("043123d6-154d-4606-a5cc-ca6717583e0d")
@pytest.mark.constraint("NOVA-B002")
def test_a_version_that_is_not_one_is_refused(world):
    server = world.make("instance", role="instance.running")
    refused(world, "NOVA-B002", create, world, server, version="two")


@pytest.mark.test_id("32bf472c-e0d2-4095-a75c-acbe7e64f7d4")
@pytest.mark.constraint("NOVA-B006")
def test_a_version_outside_the_range_is_refused(world):
    served = served_versions(world)
    server = world.make("instance", role="instance.running")
    with nothing_made(world, "NOVA-B006"):
        major, minor = split_version(served["max"])
        outside = [f"{major}.{minor + 1}"]
        low_major, low_minor = split_version(served["min"])
        if low_minor > 0:
            outside.append(f"{low_major}.{low_minor - 1}")
        for version in outside:
            expect_refusal(world.api, create(world, server, version=version), "NOVA-B006")


@pytest.mark.test_id("3cb8013a-f232-4fc0-8901-8d836b98086b")
@pytest.mark.constraint("NOVA-B005")
def test_the_version_document_offers_the_versions_served(world):
    document = expect_success(world.api, world.api.call("getVersion"), "NOVA-B005", status=200)["version"]
    for version in (document["version"], document["min_version"]):
        response = create(world, world.make("instance", role="instance.running"), version=version)
        made(world, response, "NOVA-B005")


@pytest.mark.test_id("75b9a3d0-b8d1-4011-bca0-24504960e3f8")
@pytest.mark.constraint("NOVA-P003", "NOVA-P004", "NOVA-P005")
def test_the_seeds_request_example_is_accepted(world):
    content = CONTRACT["paths"]["/v2.1/{project_id}/servers/{server_id}/action"]["post"]["requestBody"]["content"]
    for name, example in next(iter(content.values()))["examples"].items():
        server = world.make("instance", role="instance.running")
        body = {"createImage": {**example["value"]["createImage"], "name": image_name(name)}}
        response = world.api.call("createImage", path={"server_id": server}, json=body,
                                  headers=at(MICROVERSIONS["image_id_from"]))
        made(world, response, "NOVA-P003")
