"""The reference provider speaks Apsara ECS as aliyunsdkcore does: a real client's signed
CreateImage is accepted and its answers (and refusals) parse; bad input is a
documented 4xx, never a 5xx. The exhaustive proof is the suite (suites/apsara-ecs)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests

from imagecert import signing
from imagecert.contracts import load_catalog

DIALECT = "apsara-ecs"
CATALOG = load_catalog(DIALECT)
ROUTE = "/apsara/route/Ecs/"
FORM = "application/x-www-form-urlencoded"


class Account:
    """A tenant of the provider, reached through the control protocol, aliyunsdkcore
    and plain signed requests."""

    def __init__(self, provider, permissions: str = "full"):
        self.provider = provider
        self.control = provider.control_url
        made = requests.post(f"{self.control}/tenants", json={"dialect": DIALECT, "permissions": permissions})
        made.raise_for_status()
        self.tenant = made.json()
        self.id = self.tenant["tenant_id"]
        self.region = self.tenant["scope"]["region_id"]
        self.auth = signing.client_auth("apsara-aksk", access_key=self.tenant["auth"]["access_key"],
                                        secret_key=self.tenant["auth"]["secret_key"], region_id=self.region)

    def make(self, kind: str, **attributes) -> str:
        made = requests.post(f"{self.control}/resources",
                             json={"tenant_id": self.id, "kind": kind, "attributes": attributes})
        made.raise_for_status()
        return made.json()["id"]

    def read(self, resource_id: str) -> dict:
        return requests.get(f"{self.control}/resources/{resource_id}").json()["attributes"]

    def images(self) -> list[dict]:
        listed = requests.get(f"{self.control}/resources", params={"tenant_id": self.id, "kind": "image"})
        return listed.json()["resources"]

    def sdk(self, secret_key: str | None = None):
        from aliyunsdkcore.client import AcsClient

        port = int(self.provider.base_url.rsplit(":", 1)[1])
        return AcsClient(self.tenant["auth"]["access_key"], secret_key or self.tenant["auth"]["secret_key"],
                         self.region, port=port)

    def sdk_call(self, action: str, params: dict, secret_key: str | None = None) -> dict:
        """aliyunsdkcore's CommonRequest on the Apsara route, parameters in the body."""
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest(domain="127.0.0.1", version="2016-01-01", uri_pattern=ROUTE + action, product="Ecs")
        request.set_method("POST")
        request.set_protocol_type("http")
        for name, value in params.items():
            request.add_body_params(name, value)
        return json.loads(self.sdk(secret_key).do_action_with_exception(request))

    def post(self, action: str, body: bytes | str, content_type: str = FORM, **kwargs) -> requests.Response:
        return requests.post(self.provider.base_url + ROUTE + action, data=body,
                             headers={"Content-Type": content_type}, auth=self.auth, **kwargs)


def refusal(rule_id: str):
    expect = CATALOG[rule_id].expect
    return expect.status, expect.code


def sdk_refusal(account: Account, action: str, params: dict, **kwargs):
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    with pytest.raises(ServerException) as raised:
        account.sdk_call(action, params, **kwargs)
    return raised.value


def test_sdk_create_image_is_accepted_and_its_answer_parsed(provider):
    account = Account(provider)
    instance = account.make("instance")
    answer = account.sdk_call("CreateImage", {"RegionId": account.region, "InstanceId": instance,
                                              "ImageName": "img-sdk", "Tag.1.Key": "team", "Tag.1.value": "ops"})
    assert answer["RequestID"] and answer["ImageId"]
    image = account.read(answer["ImageId"])
    assert image["status"] == "Creating" and image["name"] == "img-sdk"
    assert image["tags"] == [{"key": "team", "value": "ops"}]  # the lower-case alias is the same tag

    listed = account.sdk_call("DescribeImages", {"RegionId": account.region, "ImageId": answer["ImageId"]})
    assert [i["ImageId"] for i in listed["Images"]["Image"]] == [answer["ImageId"]]
    requests.post(f"{account.control}/jobs/settle", json={"tenant_id": account.id}).raise_for_status()
    assert account.read(answer["ImageId"])["status"] == "Available"

    account.sdk_call("DeleteImage", {"RegionId": account.region, "ImageId": answer["ImageId"]})
    assert account.images() == []


def test_sdk_reads_code_and_message_of_refusals(provider):
    account = Account(provider)
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


def test_lower_case_region_id_alone_is_enough_and_must_agree(provider):
    account = Account(provider)
    instance = account.make("instance")
    made = account.sdk_call("CreateImage", {"regionId": account.region, "InstanceId": instance})
    assert made["ImageId"]
    clash = sdk_refusal(account, "CreateImage", {"RegionId": account.region, "regionId": "xx-other-1",
                                                 "InstanceId": instance})
    assert (clash.http_status, clash.error_code) == refusal("APS-D003")


def test_client_token_replay_makes_one_image_even_when_concurrent(provider):
    account = Account(provider)
    instance = account.make("instance")
    params = {"RegionId": account.region, "InstanceId": instance, "ImageName": "img-once", "ClientToken": "tok-1"}
    body = urlencode(params)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: account.post("CreateImage", body), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["ImageId"] for a in answers}) == 1
    assert len(account.images()) == 1

    other = sdk_refusal(account, "CreateImage", {**params, "ImageName": "img-other"})
    assert (other.http_status, other.error_code) == refusal("APS-B002")
    assert len(account.images()) == 1


def test_read_only_account_cannot_create_but_can_describe(provider):
    account = Account(provider, permissions="read-only")
    instance = account.make("instance")
    refused = sdk_refusal(account, "CreateImage", {"RegionId": account.region, "InstanceId": instance})
    assert (refused.http_status, refused.error_code) == refusal("APS-C006")
    assert account.sdk_call("DescribeImages", {"RegionId": account.region})["TotalCount"] == 0


@pytest.mark.parametrize("body, content_type", [
    (json.dumps({"RegionId": "r", "InstanceId": "i"}), "application/json"),
    (b"RegionId=r&InstanceId=%FF", FORM),
    ("RegionId=r&InstanceId=i&Unknown=x", FORM),
    ("RegionId=r&InstanceId=i&InstanceId=j", FORM),
    ("RegionId=r&InstanceId=i&DiskDeviceMapping.21.Size=40", FORM),
    ("RegionId=r&ImageName=" + "a" * (2 << 20), FORM),
], ids=["json", "not-utf8", "unknown-field", "repeated-field", "mapping-21", "huge"])
def test_malformed_bodies_are_refused_as_documented(provider, body, content_type):
    account = Account(provider)
    answer = account.post("CreateImage", body, content_type)
    assert (answer.status_code, answer.json()["Code"]) == refusal("APS-C007")
    assert account.images() == []


def test_wrong_types_and_values_name_their_rule(provider):
    account = Account(provider)
    region = account.region
    cases = {
        "APS-P014": {"RegionId": region, "DiskDeviceMapping.1.Size": "forty"},
        "APS-P004": {"RegionId": region, "InstanceId": "i", "Tag.21.Key": "k"},
        "APS-P023": {"RegionId": region, "InstanceId": "i", "ClientToken": "令牌"},
        "APS-C001": {"RegionId": region},
        "APS-C002": {"RegionId": region, "InstanceId": "i", "SnapshotId": "s"},
    }
    for rule_id, params in cases.items():
        answer = account.post("CreateImage", urlencode(params))
        assert (answer.status_code, answer.json()["Code"]) == refusal(rule_id), rule_id


def test_injected_fault_answers_the_seed_failure_in_the_error_body(provider):
    account = Account(provider)
    instance = account.make("instance")
    requests.post(f"{account.control}/faults", json={"tenant_id": account.id, "operation": "CreateImage",
                                                     "status": 500, "count": 1}).raise_for_status()
    failed = sdk_refusal(account, "CreateImage", {"RegionId": account.region, "InstanceId": instance})
    row = CATALOG["APS-R001"]
    assert (failed.http_status, failed.error_code, failed.message) == (row.http_status, row.code, row.message)
    assert account.images() == []
