"""The reference provider speaks JD Cloud VM: jdcloud-sdk's signed calls are accepted and
parsed, and the documented refusals answer what the catalog says, in JD's error body."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from imagecert.contracts import Expectation, load_catalog, operations, validator
from imagecert.signing import client_auth

DIALECT = "jdcloud-vm"
CATALOG = load_catalog(DIALECT)


def expected(rule_id: str) -> Expectation:
    entry = CATALOG[rule_id]
    if entry.kind == "return-code":
        return Expectation(entry.http_status, entry.code, entry.message)
    return entry.expect


class Account:
    """A tenant of the running provider, driven through the control protocol and the API."""

    def __init__(self, provider, permissions: str = "full"):
        self.control = provider.control_url
        self.base = provider.base_url
        made = self._control("POST", "/tenants", {"dialect": DIALECT, "permissions": permissions})
        self.tenant_id, self.auth, self.region = made["tenant_id"], made["auth"], made["scope"]["region_id"]

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = requests.request(method, self.control + path, json=body, timeout=10)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def make(self, kind: str, **attributes: Any) -> str:
        return self._control("POST", "/resources", {"tenant_id": self.tenant_id, "kind": kind, "attributes": attributes})["id"]

    def images(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.control}/resources", params={"tenant_id": self.tenant_id, "kind": "image"},
                            timeout=10).json()["resources"]

    def settle(self) -> None:
        self._control("POST", "/jobs/settle", {"tenant_id": self.tenant_id})

    def set_quotas(self, **quotas: int) -> None:
        self._control("PUT", f"/tenants/{self.tenant_id}/quotas", quotas)

    def signed(self, secret_key: str | None = None) -> requests.auth.AuthBase:
        return client_auth("jdcloud-hmac", access_key=self.auth["access_key"],
                           secret_key=secret_key or self.auth["secret_key"], region_id=self.region)

    def create_image(self, instance_id: str, body: Any, *, raw: bytes | None = None,
                     auth: requests.auth.AuthBase | None = None) -> requests.Response:
        url = f"{self.base}/v1/regions/{self.region}/instances/{instance_id}:createImage"
        data = raw if raw is not None else json.dumps(body).encode()
        return requests.post(url, data=data, headers={"Content-Type": "application/json"},
                             auth=auth or self.signed(), timeout=10)

    def describe_image(self, image_id: str) -> requests.Response:
        return requests.get(f"{self.base}/v1/regions/{self.region}/images/{image_id}", auth=self.signed(), timeout=10)

    def sdk_client(self):
        from jdcloud_sdk.core.config import Config
        from jdcloud_sdk.core.credential import Credential
        from jdcloud_sdk.core.logger import ERROR, Logger
        from jdcloud_sdk.services.vm.client.VmClient import VmClient

        credential = Credential(self.auth["access_key"], self.auth["secret_key"])
        return VmClient(credential, Config(self.base.removeprefix("http://"), scheme="http"), Logger(ERROR))


@pytest.fixture
def account(provider) -> Account:
    return Account(provider)


def assert_refused(answer: requests.Response, rule_id: str) -> None:
    """The answer is the rule's documented refusal, in JD's error body."""
    want = expected(rule_id)
    assert answer.status_code == want.status, answer.text
    body = answer.json()
    assert not list(validator(DIALECT, "/components/schemas/JdError").iter_errors(body)), body
    assert body["error"]["code"] == want.status
    assert body["error"]["status"] == want.code
    pattern = want.message_pattern()
    if pattern is not None:
        assert pattern.match(body["error"]["message"]), (body["error"]["message"], want.message)


def cloud_disk(device: str, size_gb: int, **more: Any) -> dict[str, Any]:
    return {"device": device, "category": "cloud", "disk_type": "ssd.gp1", "size_gb": size_gb,
            "status": "in-use", "task": None, **more}


def test_jdcloud_sdk_creates_describes_and_deletes_an_image(account):
    from jdcloud_sdk.services.charge.models.ChargeSpec import ChargeSpec
    from jdcloud_sdk.services.disk.models.DiskSpec import DiskSpec
    from jdcloud_sdk.services.vm.apis.CreateImageRequest import CreateImageParameters, CreateImageRequest
    from jdcloud_sdk.services.vm.apis.DeleteImageRequest import DeleteImageParameters, DeleteImageRequest
    from jdcloud_sdk.services.vm.apis.DescribeImageRequest import DescribeImageParameters, DescribeImageRequest
    from jdcloud_sdk.services.vm.models.InstanceDiskAttachmentSpec import InstanceDiskAttachmentSpec

    instance = account.make("instance", data_disks=[cloud_disk("vdb", 40), cloud_disk("vdc", 40, category="local")])
    client = account.sdk_client()
    parameters = CreateImageParameters(account.region, instance, "镜像_v1.0-x")
    new_disk = DiskSpec("cn-north-1a", "data", "ssd.gp1", 60, charge=ChargeSpec(chargeMode="postpaid_by_usage"))
    parameters.setDataDisks([InstanceDiskAttachmentSpec(deviceName="vdx", cloudDiskSpec=new_disk)])
    made = client.send(CreateImageRequest(parameters))
    assert made.error is None, vars(made.error)
    image_id = made.result["imageId"]

    shown = client.send(DescribeImageRequest(DescribeImageParameters(account.region, image_id)))
    image = shown.result["image"]
    assert (image["imageId"], image["name"], image["status"]) == (image_id, "镜像_v1.0-x", "pending")
    disks = {d["deviceName"]: d["cloudDisk"]["diskSizeGB"] for d in image["dataDisks"]}
    assert disks == {"vdb": 40, "vdx": 60}  # the cloud data disk and the new one, not the local disk
    account.settle()
    shown = client.send(DescribeImageRequest(DescribeImageParameters(account.region, image_id)))
    assert shown.result["image"]["status"] == "ready"

    assert client.send(DeleteImageRequest(DeleteImageParameters(account.region, image_id))).error is None
    gone = client.send(DescribeImageRequest(DescribeImageParameters(account.region, image_id)))
    assert gone.error is not None and gone.result is None
    assert (gone.error.code, gone.error.status) == (expected("JD-C010").status, expected("JD-C010").code)


def test_success_body_matches_the_contract(account):
    answer = account.create_image(account.make("instance"), {"name": "plain"})
    assert answer.status_code == 200
    response = operations(DIALECT)["createImage"].spec["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]["$ref"].lstrip("#")
    assert not list(validator(DIALECT, schema).iter_errors(answer.json()))


@pytest.mark.parametrize(
    "rule_id, instance, body",
    [
        ("JD-C001", {"task": "resizing"}, {"name": "img"}),
        ("JD-C002", {"system_disk": {"category": "local", "attached": True, "mount_state": "attached"}}, {"name": "img"}),
        ("JD-C003", {"status": "error"}, {"name": "img"}),
        ("JD-R005", {"system_disk": {"category": "cloud", "attached": False}}, {"name": "img"}),
        ("JD-R006", {"system_disk": {"category": "cloud", "attached": True, "mount_state": "error_attach"}}, {"name": "img"}),
        ("JD-R007", {}, {"name": "img", "dataDisks": [{"deviceName": "vdx", "noDevice": True}] * 2}),
        ("JD-R010", {"data_disks": [cloud_disk("vdb", 100)]},
         {"name": "img", "dataDisks": [{"deviceName": "vdb", "cloudDiskSpec": {"diskType": "ssd.gp1", "diskSizeGB": 50}}]}),
        ("JD-R011", {"data_disks": [cloud_disk("vdb", 40, task="resizing")]}, {"name": "img"}),
        ("JD-R012", {"data_disks": [cloud_disk("vdb", 40, status="error")]}, {"name": "img"}),
        ("JD-R015", {}, {"name": "img", "dataDisks": [{"deviceName": "vdx", "cloudDiskSpec": {"snapshotId": "snapshot-none"}}]}),
        ("JD-R008", {}, {"name": "img", "dataDisks": [{"deviceName": "vdx", "cloudDiskSpec": {"diskSizeGB": 40}}]}),
        ("JD-R009", {}, {"name": "img", "dataDisks": [{"deviceName": "vdx", "cloudDiskSpec": {"diskType": "ssd", "diskSizeGB": 1010}}]}),
        ("JD-R013", {}, {"name": "img", "dataDisks": [
            {"deviceName": "vdx", "cloudDiskSpec": {"diskType": "ssd.io1", "diskSizeGB": 40, "iops": 505}}]}),
    ],
)
def test_documented_refusals_change_nothing(account, rule_id, instance, body):
    answer = account.create_image(account.make("instance", **instance), body)
    assert_refused(answer, rule_id)
    assert account.images() == []


def test_unknown_instance_and_quotas(account):
    assert_refused(account.create_image("i-doesnotexist", {"name": "img"}), "JD-R014")
    account.set_quotas(snapshots=0)
    with_disk = account.make("instance", data_disks=[cloud_disk("vdb", 40)])
    assert_refused(account.create_image(with_disk, {"name": "img"}), "JD-R017")
    assert account.create_image(account.make("instance"), {"name": "img"}).status_code == 200
    account.set_quotas(images=1)
    assert_refused(account.create_image(account.make("instance"), {"name": "img"}), "JD-R016")


def test_imaging_is_the_instance_task_until_it_ends(account):
    instance = account.make("instance")
    assert account.create_image(instance, {"name": "first"}).status_code == 200
    assert_refused(account.create_image(instance, {"name": "second"}), "JD-B002")
    account.settle()
    assert account.create_image(instance, {"name": "third"}).status_code == 200


@pytest.mark.parametrize(
    "rule_id, raw",
    [
        ("JD-C012", b"{"),
        ("JD-C012", json.dumps({"name": "img", "colour": "red"}).encode()),
        ("JD-C012", json.dumps({"name": "img", "description": "x" * (2 << 20)}).encode()),
        ("JD-P003", json.dumps({"name": 5}).encode()),
        ("JD-P003", json.dumps({"name": "bad name!"}).encode()),
        ("JD-P010", json.dumps({"name": "img", "dataDisks": [{"noDevice": True}]}).encode()),
        ("JD-D001", json.dumps({"name": "img", "dataDisks": [{"deviceName": "vdh", "CloudDiskSpec": {}}]}).encode()),
    ],
)
def test_bad_input_is_refused_never_5xx(account, rule_id, raw):
    assert_refused(account.create_image(account.make("instance"), None, raw=raw), rule_id)
    assert account.images() == []


def test_authentication_and_permissions(provider, account):
    instance = account.make("instance")
    unsigned = requests.post(f"{account.base}/v1/regions/{account.region}/instances/{instance}:createImage",
                             json={"name": "img"}, timeout=10)
    assert_refused(unsigned, "JD-C013")
    assert_refused(account.create_image(instance, {"name": "img"}, auth=account.signed("0" * 32)), "JD-C013")

    reader = Account(provider, permissions="read-only")
    assert_refused(reader.create_image(reader.make("instance"), {"name": "img"}), "JD-C014")
    assert_refused(reader.describe_image("img-doesnotexist"), "JD-C010")
    assert reader.images() == []


def test_unknown_path_answers_in_the_jd_body(account):
    answer = requests.get(f"{account.base}/v1/regions/{account.region}/nothing", auth=account.signed(), timeout=10)
    assert_refused(answer, "JD-C011")


def test_a_fault_with_a_code_answers_that_documented_row(account):
    """faults.code (an announced extension of the control protocol) chooses between the
    seed's two 500 rows; a code no row of that status documents is a bad call."""
    control = requests.get(account.control + "/", timeout=10).json()
    assert "faults.code" in control["extensions"]
    arm = {"tenant_id": account.tenant_id, "operation": "createImage", "status": 500}
    for wrong in ({**arm, "code": "NOT_FOUND"}, {**arm, "code": "UNKNOWNISH"}, {**arm, "code": ""}):
        refused = requests.post(account.control + "/faults", json=wrong, timeout=10)
        assert refused.status_code == 400 and "error" in refused.json(), refused.text
    instance = account.make("instance")
    for rule_id in ("JD-R019", "JD-R018"):
        row = CATALOG[rule_id]
        account._control("POST", "/faults", {**arm, "code": row.code})
        assert_refused(account.create_image(instance, {"name": "img"}), rule_id)
    account._control("POST", "/faults", arm)  # no code: the first 500 row
    assert_refused(account.create_image(instance, {"name": "img"}), "JD-R018")
    assert account.images() == []
