"""User code that images a server with python-novaclient, tested against imagecert's fake."""

import time

import pytest
from novaclient import exceptions


# -- the user code under test ---------------------------------------------------------
def snapshot(nova, server_id, name, attempts=100):
    """createImage, then wait until Nova's image is ACTIVE; the image."""
    image_id = nova.servers.create_image(server_id, name)
    for _ in range(attempts):
        image = nova.client.get(f"/images/{image_id}")[1]["image"]  # (response, body)
        if image["status"] == "ACTIVE":
            return image
        time.sleep(0.1)
    raise TimeoutError(image_id)


def remove(nova, image_id):
    nova.client.delete(f"/images/{image_id}")


# -- its tests --------------------------------------------------------------------------
def test_snapshot_makes_an_active_image_that_can_be_deleted(imagecert_account):
    account = imagecert_account("huawei-nova", instances=[{"status": "ACTIVE"}])
    nova = account.sdk_client()
    image = snapshot(nova, account.instances[0], "nightly")
    assert image["name"] == "nightly"
    assert [i["id"] for i in account.images()] == [image["id"]]
    remove(nova, image["id"])
    assert account.images() == []


def test_a_server_in_error_is_refused_with_a_conflict(imagecert_account):
    account = imagecert_account("huawei-nova", instances=[{"status": "ERROR"}])
    with pytest.raises(exceptions.Conflict) as refused:  # documented: 409 (catalog NOVA-C001)
        snapshot(account.sdk_client(), account.instances[0], "nightly")
    assert "vm_state error" in refused.value.message
    assert account.images() == []
