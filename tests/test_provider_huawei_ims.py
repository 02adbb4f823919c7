"""The reference provider's huawei-ims dialect, proved with the official SDK (huaweicloudsdkims),
and what the suite cannot see: a job failing when its source breaks meanwhile, the token
scheme beside AK/SK. The documented refusals are the suite's (suites/huawei-ims/)."""

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

# long jobs: a job ends only when a test settles it
PROVIDER_SETTINGS = Settings(job_seconds=600)


def expected(rule_id: str) -> tuple[int, str | None, str | None]:
    entry = CATALOG[rule_id]
    if entry.kind == "return-code":
        return entry.http_status, entry.code, entry.message
    return entry.expect.status, entry.expect.code, entry.expect.message


def signed(account) -> requests.auth.AuthBase:
    return signing.client_auth("huawei-aksk", access_key=account.auth["access_key"],
                               secret_key=account.auth["secret_key"], project_id=account.project_id)


def create(account, auth: requests.auth.AuthBase | None = None, **kwargs) -> requests.Response:
    return requests.post(account.endpoint + CREATE_PATH, auth=auth or signed(account), timeout=10, **kwargs)


def job(account, job_id: str) -> dict:
    return requests.get(f"{account.endpoint}/v1/{account.project_id}/jobs/{job_id}", auth=signed(account),
                        timeout=10).json()


def test_sdk_creates_a_whole_image_from_an_ecs_and_reads_the_job_and_image(account):
    from huaweicloudsdkims.v2 import (
        CreateWholeImageRequest, CreateWholeImageRequestBody, GlanceDeleteImageRequest,
        GlanceShowImageRequest, ShowJobRequest, TagKeyValue,
    )

    client = account.sdk_client()
    instance = account.make("instance", status="SHUTOFF")
    body = CreateWholeImageRequestBody(name="整机镜像 sdk-1", instance_id=instance, description="由SDK制作",
                                       image_tags=[TagKeyValue(key="k1", value="v1")], min_ram=1024,
                                       enterprise_project_id="0")
    job_id = client.create_whole_image(CreateWholeImageRequest(body=body)).job_id
    assert job_id

    running = client.show_job(ShowJobRequest(job_id=job_id))
    assert running.status in ("INIT", "RUNNING") and running.entities.image_id is None
    account.settle()
    done = client.show_job(ShowJobRequest(job_id=job_id))
    assert done.status == "SUCCESS" and done.job_id == job_id

    image = client.glance_show_image(GlanceShowImageRequest(image_id=done.entities.image_id))
    assert (image.name, image.status, image.min_ram, image.description) == ("整机镜像 sdk-1", "active", 1024, "由SDK制作")
    assert image.tags == ["k1.v1"] and not image.backup_id
    assert account.read(image.id)["whole_image"] is True

    client.glance_delete_image(GlanceDeleteImageRequest(image_id=image.id))
    assert account.images() == []


def test_sdk_creates_from_a_backup_once_only_and_reads_the_refusal(account):
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkims.v2 import CreateWholeImageRequest, CreateWholeImageRequestBody, GlanceShowImageRequest

    client = account.sdk_client()
    backup = account.make("backup")
    body = CreateWholeImageRequestBody(name="backup_whole_image", backup_id=backup, whole_image_type="CSBS",
                                       tags=["aaa.111"])
    job_id = client.create_whole_image(CreateWholeImageRequest(body=body)).job_id
    account.settle()
    image_id = job(account, job_id)["entities"]["image_id"]
    assert client.glance_show_image(GlanceShowImageRequest(image_id=image_id)).backup_id == backup

    with pytest.raises(ClientRequestException) as refused:
        client.create_whole_image(CreateWholeImageRequest(body=body))
    status, code, message = expected("IMS-C014")
    assert (refused.value.status_code, refused.value.error_code, refused.value.error_msg) == (status, code, message)
    assert len(account.images()) == 1


def test_job_fails_when_its_source_breaks_meanwhile(account):
    backup = account.make("backup")
    job_id = create(account, json={"name": "img", "backup_id": backup}).json()["job_id"]
    account.update(backup, status="error")
    account.settle()
    ended = job(account, job_id)
    assert (ended["status"], ended["error_code"]) == ("FAIL", expected("IMS-C013")[1])
    assert "image_id" not in ended["entities"]
    assert account.read(backup)["image_id"] is None, "a failed job leaves the backup unused"


def test_a_token_is_accepted_beside_aksk(account):
    token = signing.client_auth("token", token=account.auth["token"])
    accepted = create(account, auth=token, json={"name": "img", "instance_id": account.make("instance")})
    assert accepted.status_code == 200 and accepted.json()["job_id"]
