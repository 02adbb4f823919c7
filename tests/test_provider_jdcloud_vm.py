"""The reference provider speaks JD Cloud VM as jdcloud-sdk does: a signed createImage is
accepted and parsed, the image described, deleted, and the refusal of a missing one read.
The documented refusals are the suite's (suites/jdcloud-vm/)."""

from __future__ import annotations

from typing import Any

from imagecert.contracts import Expectation, load_catalog

DIALECT = "jdcloud-vm"
CATALOG = load_catalog(DIALECT)


def expected(rule_id: str) -> Expectation:
    entry = CATALOG[rule_id]
    if entry.kind == "return-code":
        return Expectation(entry.http_status, entry.code, entry.message)
    return entry.expect


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
