"""Every return code, through the request that causes it, in both modes: bad bodies,
missing or wrong credentials, a read-only credential, unknown and malformed ids (Tempest's
createImage negatives), other methods, a media type the API does not take. Only what no
request can cause (quotas, server errors) goes through an injected fault.

The seed's 返回值 points to 通用请求返回值, which the seeds leave out: the rows are
upstream Nova's fault names (catalog NOVA-R…, from reference/provider-facts.md).
"""

from __future__ import annotations


import pytest

from imagecert.checks import check, error_of, expect_refusal
from imagecert.suitekit import image_name, refused
from imagecert.suitekit.huawei_nova import CATALOG, DIALECT, IMAGE_STATES, create, make_image, second_image, show
from imagecert.world import not_verified


@pytest.mark.test_id("022f8bb0-dce9-47c4-b8c2-5eb87acc7ebe")
@pytest.mark.constraint("NOVA-R001")
@pytest.mark.parametrize("data", [
    b'{"createImage": {"name": ',
    b"\xff\xfe\x00not json",
    b"",
], ids=["truncated", "not-utf8", "empty"])
def test_a_body_that_is_not_json_is_a_bad_request(world, data):
    server = world.make("instance", role="instance.running")
    refused(world, "NOVA-R001", world.api.call, "createImage", path={"server_id": server}, data=data,
            headers={"Content-Type": "application/json"})


@pytest.mark.test_id("653dcd38-f0fd-49eb-aca5-a85757552b1c")
@pytest.mark.constraint("NOVA-R001")
def test_a_huge_body_is_refused_without_a_server_error(world):
    server = world.make("instance", role="instance.running")
    huge = {"createImage": {"name": image_name("huge"), "metadata": {f"k{i}": "v" * 200 for i in range(8000)}}}
    response = world.api.call("createImage", path={"server_id": server}, json=huge)
    check(world.api, "NOVA-R001", 400 <= response.status_code < 500,
          f"a 1.6 MB body was answered {response.status_code}, not a 4xx refusal")
    # upstream refuses it in its body-size middleware, before the API's faults: a JSON answer
    # must be a Nova fault, an HTML one is the middleware's
    if "json" in response.headers.get("Content-Type", ""):
        code, message = error_of(DIALECT, response.json())
        check(world.api, "NOVA-R001", bool(code) and bool(message),
              f"the refusal is no Nova fault: {response.text[:200]!r}")


@pytest.mark.test_id("efd95265-bab9-4f69-bde3-5e1152b60820")
@pytest.mark.constraint("NOVA-R002")
def test_no_token_is_unauthorized(world):
    server = world.make("instance", role="instance.running")
    refused(world, "NOVA-R002", create, world, server, api=world.client_without_credentials())


@pytest.mark.test_id("53de1b9a-8543-4858-9197-fdb5570cc746")
@pytest.mark.constraint("NOVA-R002")
def test_a_token_that_is_not_valid_is_unauthorized(world):
    server = world.make("instance", role="instance.running")
    refused(world, "NOVA-R002", create, world, server, api=world.client_with_wrong_secret())


@pytest.mark.test_id("32d401b7-19f0-4a1f-81d6-1186d36ca0d8")
@pytest.mark.constraint("NOVA-R003")
def test_a_read_only_user_may_not_create_images(world):
    reader = world.client_as("read-only")
    server = world.make("instance", role="instance.running")
    refused(world, "NOVA-R003", create, world, server, api=reader)


# Tempest's malformed ids (test_images_negative): not an id at all, one character short of a
# UUID and one over
# Tempest's malformed server ids; fixed, so that a recording replays (no server has them)
SOME_UUID = "6f1c2a9e-0b7d-4e3a-9c55-2d8e4b1a7f30"
MALFORMED_IDS = ["!@#$%^&*()", SOME_UUID[:35], SOME_UUID + "a"]


@pytest.mark.test_id("e1711d67-e9c0-4c2e-b1d6-c9c48d4c01ba")
@pytest.mark.constraint("NOVA-R004")
@pytest.mark.parametrize("image_id", [SOME_UUID] + MALFORMED_IDS,
                         ids=["unknown", "not-an-id", "35-chars", "37-chars"])
def test_an_unknown_or_malformed_image_id_is_not_found(world, image_id):
    expect_refusal(world.api, show(world, image_id), "NOVA-R004")
    expect_refusal(world.api, world.api.call("deleteImage", path={"image_id": image_id}), "NOVA-R004")


@pytest.mark.test_id("cc01cda2-4e17-4375-a855-3a444c9213de")
@pytest.mark.constraint("NOVA-P002", "NOVA-R004")
@pytest.mark.parametrize("server_id", MALFORMED_IDS, ids=["not-an-id", "35-chars", "37-chars"])
def test_a_malformed_server_id_is_not_found(world, server_id):
    refused(world, "NOVA-P002", create, world, server_id)


@pytest.mark.test_id("aaf1d740-9a90-498b-85ad-62eaae3dc04e")
@pytest.mark.constraint("NOVA-R005")
def test_another_method_on_the_action_path_is_a_bad_method(world):
    server = world.make("instance", role="instance.running")
    _, url = world.api.url_for("createImage", {"server_id": server})
    entry = CATALOG["NOVA-R005"]
    for method in ("GET", "PUT"):
        response = world.api.send(method, url)
        try:
            body = response.json() if response.content else None
        except ValueError:  # e.g. a router's HTML page: no fault body at all
            body = None
        code, message = error_of(DIALECT, body) if body is not None else (None, None)
        check(world.api, "NOVA-R005", (response.status_code, code) == (entry.http_status, entry.code),
              f"{method} on the action path answered {response.status_code} {code!r}, "
              f"not {entry.http_status} {entry.code!r}")
        check(world.api, "NOVA-R005", bool(message), "the fault carries no message")


@pytest.mark.test_id("57957d6f-fa68-433f-99f6-fafd84ea5def")
@pytest.mark.constraint("NOVA-R006")
def test_a_second_image_while_the_first_is_saving_is_a_conflict(world):
    """Tempest's createImage negative: the server is still busy with the first image."""
    server = world.make("instance", role="instance.running")
    first = make_image(world, server, "NOVA-R006")
    again, status = second_image(world, server, first, "NOVA-R006")
    if status is not None:
        check(world.api, "NOVA-R006", status not in IMAGE_STATES["making"],
              f"createImage answered 202 while the server's first image was still {status!r}")
        not_verified("the first image was made before the second request arrived")
    expect_refusal(world.api, again, "NOVA-R006")


@pytest.mark.test_id("6c7ee0f7-fa9e-4f92-b03e-eb548945faa1")
@pytest.mark.constraint("NOVA-R009")
def test_a_body_that_is_not_declared_json_is_a_bad_media_type(world):
    server = world.make("instance", role="instance.running")
    # not text/plain: upstream reads a text/plain body as if no type were given (webob's default)
    refused(world, "NOVA-R009", world.api.call, "createImage", path={"server_id": server},
            data=b'{"createImage": {"name": "x"}}', headers={"Content-Type": "application/xml"})


# Injected: only the rows no request can cause (quotas 413/429, server errors). The rows
# caused above (and 409 by the state tests, NOVA-B003/C001) are not injected: that would
# only echo the row back.
CAUSED = {"NOVA-R001", "NOVA-R002", "NOVA-R003", "NOVA-R004", "NOVA-R005", "NOVA-R006", "NOVA-R009"}


@pytest.mark.test_id("0be309f6-42ad-49b4-89ec-018612547ee5")
@pytest.mark.parametrize("row", [
    pytest.param(entry, id=f"{entry.id}-{entry.http_status}", marks=pytest.mark.constraint(entry.id))
    for entry in CATALOG.of_kind("return-code") if entry.id not in CAUSED
])
def test_each_return_code_no_request_causes_has_its_documented_fault_body(world, row):
    world.fault("createImage", row.http_status)
    server = world.make("instance", role="instance.running")
    expect_refusal(world.api, create(world, server), row.id)
