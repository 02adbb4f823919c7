"""The reference provider's huawei-ims dialect, proved with the official SDK (huaweicloudsdkims)
and with hand-made bad requests. The exhaustive proof is the suite (suites/huawei-ims/)."""

from __future__ import annotations

import pytest
import requests

from imagecert import signing
from imagecert.contracts import load_catalog
from imagecert.provider.dialect import Settings

DIALECT = "huawei-ims"
CREATE_PATH = "/v1/cloudimages/wholeimages/action"
CATALOG = load_catalog(DIALECT)

pytestmark = pytest.mark.filterwarnings("ignore:Method .* of ImsClient is deprecated:DeprecationWarning")


def expected(rule_id: str) -> tuple[int, str | None, str | None]:
    entry = CATALOG[rule_id]
    if entry.kind == "return-code":
        return entry.http_status, entry.code, entry.message
    return entry.expect.status, entry.expect.code, entry.expect.message


# long jobs: a job ends only when a test settles it
PROVIDER_SETTINGS = Settings(job_seconds=600)


class Tenant:
    """A fresh account on the provider, reached through the control protocol."""

    def __init__(self, provider, permissions: str = "full"):
        self.control = provider.control_url
        self.base_url = provider.base_url
        made = requests.post(f"{self.control}/tenants", json={"dialect": DIALECT, "permissions": permissions})
        assert made.status_code == 201, made.text
        data = made.json()
        self.id, self.auth, self.project_id = data["tenant_id"], data["auth"], data["scope"]["project_id"]
        self.http = requests.Session()
        self.http.auth = signing.client_auth("huawei-aksk", access_key=self.auth["access_key"],
                                             secret_key=self.auth["secret_key"], project_id=self.project_id)

    def make(self, kind: str, **attributes) -> str:
        made = requests.post(f"{self.control}/resources",
                             json={"tenant_id": self.id, "kind": kind, "attributes": attributes})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def read(self, resource_id: str) -> dict:
        return requests.get(f"{self.control}/resources/{resource_id}").json()["attributes"]

    def images(self) -> list[dict]:
        found = requests.get(f"{self.control}/resources", params={"tenant_id": self.id, "kind": "image"})
        return found.json()["resources"]

    def settle(self, outcome: str = "success") -> None:
        requests.post(f"{self.control}/jobs/settle", json={"tenant_id": self.id, "outcome": outcome})

    def create(self, **kwargs) -> requests.Response:
        return self.http.post(self.base_url + CREATE_PATH, **kwargs)

    def job(self, job_id: str) -> dict:
        return self.http.get(f"{self.base_url}/v1/{self.project_id}/jobs/{job_id}").json()

    def sdk(self):
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkims.v2 import ImsClient

        # project_id in the credentials: the SDK then does not ask IAM for it
        credentials = BasicCredentials(self.auth["access_key"], self.auth["secret_key"], self.project_id)
        return ImsClient.new_builder().with_credentials(credentials).with_endpoints([self.base_url]).build()


def assert_refused(response: requests.Response, rule_id: str) -> None:
    status, code, message = expected(rule_id)
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": code, "message": message}}


def test_sdk_creates_a_whole_image_from_an_ecs_and_reads_the_job_and_image(provider):
    from huaweicloudsdkims.v2 import (
        CreateWholeImageRequest, CreateWholeImageRequestBody, GlanceDeleteImageRequest,
        GlanceShowImageRequest, ShowJobRequest, TagKeyValue,
    )

    tenant = Tenant(provider)
    client = tenant.sdk()
    instance = tenant.make("instance", status="SHUTOFF")
    body = CreateWholeImageRequestBody(name="整机镜像 sdk-1", instance_id=instance, description="由SDK制作",
                                       image_tags=[TagKeyValue(key="k1", value="v1")], min_ram=1024,
                                       enterprise_project_id="0")
    job_id = client.create_whole_image(CreateWholeImageRequest(body=body)).job_id
    assert job_id

    running = client.show_job(ShowJobRequest(job_id=job_id))
    assert running.status in ("INIT", "RUNNING") and running.entities.image_id is None
    tenant.settle()
    done = client.show_job(ShowJobRequest(job_id=job_id))
    assert done.status == "SUCCESS" and done.job_id == job_id

    image = client.glance_show_image(GlanceShowImageRequest(image_id=done.entities.image_id))
    assert (image.name, image.status, image.min_ram, image.description) == ("整机镜像 sdk-1", "active", 1024, "由SDK制作")
    assert image.tags == ["k1.v1"] and not image.backup_id
    assert tenant.read(image.id)["whole_image"] is True

    client.glance_delete_image(GlanceDeleteImageRequest(image_id=image.id))
    assert tenant.images() == []


def test_sdk_creates_from_a_backup_once_only_and_reads_the_refusal(provider):
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkims.v2 import CreateWholeImageRequest, CreateWholeImageRequestBody, GlanceShowImageRequest

    tenant = Tenant(provider)
    client = tenant.sdk()
    backup = tenant.make("backup")
    body = CreateWholeImageRequestBody(name="backup_whole_image", backup_id=backup, whole_image_type="CSBS",
                                       tags=["aaa.111"])
    job_id = client.create_whole_image(CreateWholeImageRequest(body=body)).job_id
    tenant.settle()
    image_id = tenant.job(job_id)["entities"]["image_id"]
    assert client.glance_show_image(GlanceShowImageRequest(image_id=image_id)).backup_id == backup

    with pytest.raises(ClientRequestException) as refused:
        client.create_whole_image(CreateWholeImageRequest(body=body))
    status, code, message = expected("IMS-C014")
    assert (refused.value.status_code, refused.value.error_code, refused.value.error_msg) == (status, code, message)
    assert len(tenant.images()) == 1


@pytest.mark.parametrize("attributes, rule_id", [
    ({"status": "ERROR"}, "IMS-C002"),
    ({"task": "rebooting"}, "IMS-C019"),
    ({"task": "backing_up"}, "IMS-C030"),
    ({"system_disk": {"category": "cloud", "attached": False}}, "IMS-C006"),
    ({"data_disks": [{"device": "/dev/vdb", "dedicated_storage": True}]}, "IMS-D003"),
])
def test_ecs_that_cannot_be_imaged_is_refused_and_nothing_is_made(provider, attributes, rule_id):
    tenant = Tenant(provider)
    instance = tenant.make("instance", **attributes)
    assert_refused(tenant.create(json={"name": "img", "instance_id": instance}), rule_id)
    assert tenant.images() == []


@pytest.mark.parametrize("attributes, rule_id", [
    ({"status": "error"}, "IMS-C013"),
    ({"shared_disks": ["/dev/vdb"]}, "IMS-C012"),
])
def test_backup_that_cannot_be_imaged_is_refused(provider, attributes, rule_id):
    tenant = Tenant(provider)
    backup = tenant.make("backup", **attributes)
    assert_refused(tenant.create(json={"name": "img", "backup_id": backup}), rule_id)
    assert tenant.read(backup)["image_id"] is None


def test_quota_unknown_sources_and_unknown_job(provider):
    tenant = Tenant(provider)
    assert_refused(tenant.create(json={"name": "img", "instance_id": "no-such-ecs"}), "IMS-C017")
    assert_refused(tenant.create(json={"name": "img", "backup_id": "no-such-backup"}), "IMS-C018")
    other = Tenant(provider)
    assert_refused(tenant.create(json={"name": "img", "instance_id": other.make("instance")}), "IMS-C017")
    requests.put(f"{tenant.control}/tenants/{tenant.id}/quotas", json={"images": 0})
    assert_refused(tenant.create(json={"name": "img", "instance_id": tenant.make("instance")}), "IMS-C020")
    unknown = tenant.http.get(f"{tenant.base_url}/v1/{tenant.project_id}/jobs/{'0' * 32}")
    assert_refused(unknown, "IMS-B008")


def test_job_fails_when_its_source_breaks_meanwhile(provider):
    tenant = Tenant(provider)
    backup = tenant.make("backup")
    job_id = tenant.create(json={"name": "img", "backup_id": backup}).json()["job_id"]
    requests.patch(f"{tenant.control}/resources/{backup}", json={"attributes": {"status": "error"}})
    tenant.settle()
    job = tenant.job(job_id)
    assert (job["status"], job["error_code"]) == ("FAIL", expected("IMS-C013")[1])
    assert "image_id" not in job["entities"]
    assert tenant.read(backup)["image_id"] is None, "a failed job leaves the backup unused"


@pytest.mark.parametrize("body, rule_id", [
    (b"{", "IMS-C028"),
    (b"[1, 2]", "IMS-C028"),
    (b'{"name": 123, "instance_id": "i"}', "IMS-C028"),
    (b'{"name": "img", "instance_id": "i", "foo": 1}', "IMS-C028"),
    (b"[" * 100_000 + b"]" * 100_000, "IMS-C028"),
    (b'{"name": "' + b"a" * (2 << 20) + b'", "instance_id": "i"}', "IMS-C028"),
    (b"", "IMS-C029"),
    (b'{"name": "img"}', "IMS-P005"),
    (b'{"instance_id": "i"}', "IMS-P001"),
    (b'{"name": "img", "backup_id": ""}', "IMS-P013"),
    (b'{"name": "img", "instance_id": "i", "backup_id": "b"}', "IMS-C015"),
    (b'{"name": "img", "instance_id": "i", "tags": ["a.1"], "image_tags": [{"key": "b", "value": "2"}]}', "IMS-C016"),
    (b'{"name": " img", "instance_id": "i"}', "IMS-C023"),
    (b'{"name": "img", "instance_id": "i", "description": "a<b"}', "IMS-C025"),
    (b'{"name": "img", "instance_id": "i", "tags": ["nodot"]}', "IMS-C026"),
    (b'{"name": "img", "instance_id": "i", "max_ram": -1}', "IMS-P007"),
    (b'{"name": "img", "backup_id": "b", "enterprise_project_id": "default"}', "IMS-P014"),
])
def test_bad_bodies_get_their_documented_400(provider, body, rule_id):
    tenant = Tenant(provider)
    response = tenant.create(data=body, headers={"Content-Type": "application/json"})
    assert_refused(response, rule_id)
    assert tenant.images() == []


def test_authentication_permissions_and_faults(provider):
    tenant = Tenant(provider)
    instance = tenant.make("instance")
    body = {"name": "img", "instance_id": instance}
    assert_refused(requests.post(provider.base_url + CREATE_PATH, json=body), "IMS-R002")
    forged = signing.client_auth("huawei-aksk", access_key=tenant.auth["access_key"], secret_key="x" * 40,
                                 project_id=tenant.project_id)
    assert_refused(requests.post(provider.base_url + CREATE_PATH, json=body, auth=forged), "IMS-R002")

    token = signing.client_auth("token", token=tenant.auth["token"])
    accepted = requests.post(provider.base_url + CREATE_PATH, json=body, auth=token)
    assert accepted.status_code == 200 and accepted.json()["job_id"]

    reader = Tenant(provider, permissions="read-only")
    assert_refused(reader.create(json={"name": "img", "instance_id": reader.make("instance")}), "IMS-R003")
    assert reader.images() == []

    requests.post(f"{tenant.control}/faults",
                  json={"tenant_id": tenant.id, "operation": "createWholeImage", "status": 503, "count": 1})
    assert_refused(tenant.create(json=body), "IMS-R006")
    assert_refused(tenant.http.get(f"{tenant.base_url}/v2/images/no-such-image"), "IMS-R004")


def test_a_body_of_another_media_type_is_refused(provider):
    tenant = Tenant(provider)
    body = b'{"name": "img", "instance_id": "%s"}' % tenant.make("instance").encode()
    assert_refused(tenant.create(data=body, headers={"Content-Type": "text/plain"}), "IMS-C028")
    assert tenant.create(data=body, headers={"Content-Type": "application/json;charset=UTF-8"}).status_code == 200
