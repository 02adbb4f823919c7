"""The reference provider speaks Apsara ECS as aliyunsdkcore does: a real client's signed
CreateImage is accepted and its answers (and refusals) parse. The documented refusals on
the wire are the suite's (suites/apsara-ecs/)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from imagecert.contracts import load_catalog
from imagecert.provider.fake.sdk import apsara_request

DIALECT = "apsara-ecs"
CATALOG = load_catalog(DIALECT)


def sdk_call(account, action: str, params: dict, secret_key: str | None = None) -> dict:
    """aliyunsdkcore's CommonRequest on the Apsara route, parameters in the body."""
    if secret_key is not None:
        account = dataclasses.replace(account, auth={**account.auth, "secret_key": secret_key})
    return json.loads(account.sdk_client().do_action_with_exception(apsara_request(account, action, **params)))


def refusal(rule_id: str):
    expect = CATALOG[rule_id].expect
    return expect.status, expect.code


def sdk_refusal(account, action: str, params: dict, **kwargs):
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    with pytest.raises(ServerException) as raised:
        sdk_call(account, action, params, **kwargs)
    return raised.value


def test_sdk_create_image_is_accepted_and_its_answer_parsed(account):
    instance = account.make("instance")
    answer = sdk_call(account, "CreateImage", {"RegionId": account.region, "InstanceId": instance,
                                               "ImageName": "img-sdk", "Tag.1.Key": "team", "Tag.1.value": "ops"})
    assert answer["RequestID"] and answer["ImageId"]
    image = account.read(answer["ImageId"])
    assert image["status"] == "Creating" and image["name"] == "img-sdk"
    assert image["tags"] == [{"key": "team", "value": "ops"}]  # the lower-case alias is the same tag

    listed = sdk_call(account, "DescribeImages", {"RegionId": account.region, "ImageId": answer["ImageId"]})
    assert [i["ImageId"] for i in listed["Images"]["Image"]] == [answer["ImageId"]]
    account.settle()
    assert account.read(answer["ImageId"])["status"] == "Available"

    sdk_call(account, "DeleteImage", {"RegionId": account.region, "ImageId": answer["ImageId"]})
    assert account.images() == []


def test_sdk_reads_code_and_message_of_refusals(account):
    instance = account.make("instance")
    bad_name = sdk_refusal(account, "CreateImage", {"RegionId": account.region, "InstanceId": instance,
                                                    "ImageName": "1-starts-with-a-digit"})
    assert (bad_name.http_status, bad_name.error_code) == refusal("APS-P013")
    assert bad_name.message == CATALOG["APS-P013"].expect.message and bad_name.request_id

    unknown = sdk_refusal(account, "CreateImage", {"RegionId": account.region, "InstanceId": "i-doesnotexist"})
    assert (unknown.http_status, unknown.error_code) == refusal("APS-P008")

    # the SDK puts RegionId in the query only: the seed wants it in the body
    query_only = sdk_refusal(account, "CreateImage", {"InstanceId": instance})
    assert (query_only.http_status, query_only.error_code) == refusal("APS-P021")

    wrong_secret = sdk_refusal(account, "CreateImage", {"RegionId": account.region, "InstanceId": instance},
                               secret_key="not-the-secret")
    assert (wrong_secret.http_status, wrong_secret.error_code) == refusal("APS-C005")
    assert account.images() == []
