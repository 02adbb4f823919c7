"""Refusals that do not depend on a parameter's value: credentials, permissions, an
unreadable body, an unknown route, the seed's system error, an unknown image; and the
error body every refusal uses."""

from __future__ import annotations

import json
import uuid

import pytest

from imagecert.checks import check, error_of, expect_refusal
from imagecert.contracts import operations, validator
from imagecert.suitekit import refused
from imagecert.suitekit.apsara_ecs import CATALOG, DIALECT, create, describe, form, spare_instance

ROUTE = operations(DIALECT)["CreateImage"].path.rsplit("/", 1)[0]
HUGE_BYTES = 2 << 20


@pytest.mark.test_id("fbb62d9c-c3c4-4b7c-b4f1-1cbfc7447ebf")
@pytest.mark.constraint("APS-C005")
def test_a_wrong_signature_or_none_is_refused(world):
    refused(world, "APS-C005", create, world, api=world.client_with_wrong_secret(), InstanceId=spare_instance(world))
    refused(world, "APS-C005", create, world, api=world.client_without_credentials(), InstanceId=spare_instance(world))


@pytest.mark.test_id("d7634bc2-be41-4d08-931b-6338035603f1")
@pytest.mark.constraint("APS-C009")
def test_a_signature_nonce_is_good_once(world):
    """Alibaba's ECS API reference: SignatureNonce "用于防止网络重放攻击"; a used one is 400
    SignatureNonceUsed. Each call is signed anew (its own Date) and carries the same nonce."""
    nonce = {"x-acs-signature-nonce": f"imagecert-{uuid.uuid4()}"}
    region = {"RegionId": world.scope["region_id"]}
    first = world.api.call("DescribeImages", form=region, headers=nonce)
    check(world.api, "APS-C009", first.status_code == 200, f"the first use of a nonce answered {first.status_code}")
    expect_refusal(world.api, world.api.call("DescribeImages", form=region, headers=nonce), "APS-C009")
    refused(world, "APS-C009", world.api.call, "CreateImage", form=form(world, InstanceId=spare_instance(world)),
            headers=nonce)


@pytest.mark.test_id("fb7c2041-83ad-484a-9fcb-10e94bbdd99b")
@pytest.mark.constraint("APS-C006")
def test_an_account_without_permission_cannot_create(world):
    read_only = world.client_as("read-only")
    refused(world, "APS-C006", create, world, api=read_only, InstanceId=spare_instance(world))
    describe(world, "APS-C006", api=read_only)
    refused(world, "APS-C006", create, world, api=world.client_as("none"), InstanceId=spare_instance(world))


@pytest.mark.test_id("966331f3-eaf2-415d-9898-aef19117ef73")
@pytest.mark.constraint("APS-C007")
@pytest.mark.parametrize("how", ["json", "text", "unknown-field", "repeated-field", "not-utf8", "huge"])
def test_a_body_that_is_not_a_form_of_the_documented_parameters_is_refused(world, how):
    body = form(world, InstanceId=spare_instance(world))
    text = "&".join(f"{k}={v}" for k, v in body.items())
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    sends = {
        "json": dict(json=body),
        "text": dict(data=text, headers={"Content-Type": "text/plain"}),
        "unknown-field": dict(form={**body, "Imagecert": "x"}),
        "repeated-field": dict(form={**body, "InstanceId": [body["InstanceId"], body["InstanceId"]]}),
        "not-utf8": dict(data=text.encode() + b"&Description=%FF%FE", headers=form_type),
        "huge": dict(form={**body, "Description": "a" * HUGE_BYTES}),
    }
    refused(world, "APS-C007", world.api.call, "CreateImage", **sends[how])


@pytest.mark.test_id("bab57328-a623-4475-ab2a-3471476ad87d")
@pytest.mark.constraint("APS-D009")
@pytest.mark.parametrize("number", ["21", "999"])
def test_a_disk_mapping_numbered_outside_1_to_20_is_refused(world, number):
    # a mapping-only source, so that the request breaks no rule but this one (not APS-C002)
    snapshot = world.make("snapshot", role="snapshot.data.available", disk_type="data")
    refused(world, "APS-D009", create, world, **{"DiskDeviceMapping.1.SnapshotId": snapshot,
                                  f"DiskDeviceMapping.{number}.SnapshotId": snapshot})


def plainly_refused(world, response, rule_id: str) -> None:
    """A refusal on no operation of the contract: the rule's status and code, the error body."""
    expect = CATALOG[rule_id].expect
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = error_of(DIALECT, body) if body is not None else (None, None)
    check(world.api, rule_id, (response.status_code, code) == (expect.status, expect.code),
          f"expected HTTP {expect.status} {expect.code}, got {response.status_code} {code}")
    problems = list(validator(DIALECT, "/components/schemas/AcsError").iter_errors(body))
    check(world.api, rule_id, not problems and bool(message), f"the error body is not Alibaba's: {body}")


@pytest.mark.test_id("b8196e24-df3f-4fb3-8319-4040bf5aa6f5")
@pytest.mark.constraint("APS-C008")
def test_an_unknown_action_or_method_is_not_found(world):
    base = world.target.base_url.rstrip("/")
    body = form(world, InstanceId=spare_instance(world))
    plainly_refused(world, world.api.send("POST", f"{base}{ROUTE}/ImagecertNoSuchAction", form=body), "APS-C008")
    plainly_refused(world, world.api.send("GET", f"{base}{ROUTE}/CreateImage"), "APS-C008")


@pytest.mark.test_id("772f2463-602f-4f08-a343-673958520afc")
@pytest.mark.constraint("APS-R001")
def test_the_seeds_system_error_is_answered_in_the_error_body(world):
    world.fault("CreateImage", CATALOG["APS-R001"].http_status)
    refused(world, "APS-R001", create, world, InstanceId=spare_instance(world))


@pytest.mark.test_id("9fe7e307-e026-43d5-b268-728ece4d0aa6")
@pytest.mark.constraint("APS-D002")
def test_every_refusal_has_code_message_and_request_id(world):
    body = refused(world, "APS-P013", create, world, InstanceId=spare_instance(world), ImageName="1-starts-with-a-digit")
    check(world.api, "APS-D002", isinstance(body.get("RequestId"), str) and bool(body["RequestId"]),
          f"the error body has no RequestId: {json.dumps(body)[:300]}")
    unknown = world.api.call("DeleteImage", form={"RegionId": world.scope["region_id"], "ImageId": "m-x"})
    code, message = error_of(DIALECT, unknown.json())
    check(world.api, "APS-D002", isinstance(code, str) and bool(code) and isinstance(message, str),
          f"a DeleteImage refusal has no Code and Message: {unknown.text[:300]}")


@pytest.mark.test_id("2b6b2b8e-e0f4-4dfa-be63-8664f1df9fa7")
@pytest.mark.constraint("APS-B004")
def test_deleting_an_image_the_account_does_not_have_is_refused(world):
    response = world.api.call("DeleteImage", form={"RegionId": world.scope["region_id"],
                                                   "ImageId": f"m-imagecert-{uuid.uuid4().hex[:12]}"})
    expect_refusal(world.api, response, "APS-B004")

