"""User code that images an Apsara Stack ECS instance with aliyunsdkcore, tested against imagecert's fake."""

import json
import time
from functools import partial

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException

from imagecert.provider.fake.sdk import apsara_request


# -- the user code under test ---------------------------------------------------------
def snapshot(client, request_for, region, instance_id, name, attempts=100):
    """CreateImage, then wait until DescribeImages says Available; the image."""
    made = json.loads(client.do_action_with_exception(
        request_for("CreateImage", RegionId=region, InstanceId=instance_id, ImageName=name)))
    for _ in range(attempts):
        found = json.loads(client.do_action_with_exception(
            request_for("DescribeImages", RegionId=region, ImageId=made["ImageId"])))["Images"]["Image"]
        if found and found[0]["Status"] == "Available":
            return found[0]
        time.sleep(0.1)
    raise TimeoutError(made["ImageId"])


# -- its tests --------------------------------------------------------------------------
def test_snapshot_makes_an_available_image_that_can_be_deleted(imagecert_account):
    account = imagecert_account("apsara-ecs", instances=[{"status": "Running"}])
    client = account.sdk_client()
    request_for = partial(apsara_request, account)
    image = snapshot(client, request_for, account.region, account.instances[0], "nightly")
    assert image["ImageName"] == "nightly"
    assert [i["id"] for i in account.images()] == [image["ImageId"]]
    client.do_action_with_exception(request_for("DeleteImage", RegionId=account.region, ImageId=image["ImageId"]))
    assert account.images() == []


def test_an_unknown_instance_is_refused_with_the_documented_code(imagecert_account):
    account = imagecert_account("apsara-ecs")
    request_for = partial(apsara_request, account)
    with pytest.raises(ServerException) as refused:
        snapshot(account.sdk_client(), request_for, account.region, "i-doesnotexist", "nightly")
    # documented: 404 InvalidInstanceId.NotFound (catalog APS-P008)
    assert (refused.value.http_status, refused.value.error_code) == (404, "InvalidInstanceId.NotFound")
    assert account.images() == []
