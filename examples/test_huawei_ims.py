"""User code that makes a full-ECS image with huaweicloudsdkims, tested against imagecert's fake."""

import time

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkims.v2 import (CreateWholeImageRequest, CreateWholeImageRequestBody, GlanceDeleteImageRequest,
                                  GlanceShowImageRequest, ShowJobRequest)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# -- the user code under test ---------------------------------------------------------
def snapshot(client, server_id, name, attempts=100):
    """Make a whole image of the ECS and wait for its job; the image."""
    body = CreateWholeImageRequestBody(name=name, instance_id=server_id)
    job_id = client.create_whole_image(CreateWholeImageRequest(body=body)).job_id
    for _ in range(attempts):
        job = client.show_job(ShowJobRequest(job_id=job_id))
        if job.status == "SUCCESS":
            return client.glance_show_image(GlanceShowImageRequest(image_id=job.entities.image_id))
        if job.status == "FAIL":
            raise RuntimeError(f"job {job_id} failed")
        time.sleep(0.1)
    raise TimeoutError(job_id)


# -- its tests --------------------------------------------------------------------------
def test_snapshot_makes_an_active_image_that_can_be_deleted(imagecert_account):
    account = imagecert_account("huawei-ims", instances=[{"status": "SHUTOFF"}])
    client = account.sdk_client()
    image = snapshot(client, account.instances[0], "nightly")
    assert (image.name, image.status) == ("nightly", "active")
    assert [i["id"] for i in account.images()] == [image.id]
    client.glance_delete_image(GlanceDeleteImageRequest(image_id=image.id))
    assert account.images() == []


def test_a_server_in_error_is_refused_with_the_documented_code(imagecert_account):
    account = imagecert_account("huawei-ims", instances=[{"status": "ERROR"}])
    with pytest.raises(ClientRequestException) as refused:
        snapshot(account.sdk_client(), account.instances[0], "nightly")
    # documented: 400 IMG.0126 (catalog IMS-C002)
    assert (refused.value.status_code, refused.value.error_code) == (400, "IMG.0126")
    assert account.images() == []
