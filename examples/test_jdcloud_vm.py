"""User code that images a JD Cloud VM with jdcloud-sdk, tested against imagecert's fake."""

import time

import pytest
from jdcloud_sdk.services.vm.apis.CreateImageRequest import CreateImageParameters, CreateImageRequest
from jdcloud_sdk.services.vm.apis.DeleteImageRequest import DeleteImageParameters, DeleteImageRequest
from jdcloud_sdk.services.vm.apis.DescribeImageRequest import DescribeImageParameters, DescribeImageRequest


# -- the user code under test ---------------------------------------------------------
class ImageFailed(Exception):
    pass


def snapshot(client, region, instance_id, name, attempts=100):
    """Image the VM and wait until the image is ready; its description."""
    made = client.send(CreateImageRequest(CreateImageParameters(region, instance_id, name)))
    if made.error is not None:
        raise ImageFailed(made.error.status)
    image_id = made.result["imageId"]
    for _ in range(attempts):
        image = client.send(DescribeImageRequest(DescribeImageParameters(region, image_id))).result["image"]
        if image["status"] == "ready":
            return image
        time.sleep(0.1)
    raise ImageFailed(f"{image_id} not ready")


def remove(client, region, image_id):
    client.send(DeleteImageRequest(DeleteImageParameters(region, image_id)))


# -- its tests --------------------------------------------------------------------------
def test_snapshot_makes_a_ready_image_and_remove_deletes_it(imagecert_account):
    account = imagecert_account("jdcloud-vm", instances=[{"status": "running"}])
    client = account.sdk_client()
    image = snapshot(client, account.region, account.instances[0], "nightly")
    assert image["name"] == "nightly"
    assert [(i["id"], i["status"]) for i in account.images()] == [(image["imageId"], "ready")]
    remove(client, account.region, image["imageId"])
    assert account.images() == []


def test_a_vm_in_error_is_refused_with_the_documented_code(imagecert_account):
    account = imagecert_account("jdcloud-vm", instances=[{"status": "error"}])
    with pytest.raises(ImageFailed, match="FAILED_PRECONDITION"):  # documented (catalog JD-C003)
        snapshot(account.sdk_client(), account.region, account.instances[0], "nightly")
    assert account.images() == []
