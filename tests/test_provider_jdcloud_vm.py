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


def test_a_fault_code_chooses_which_500_row_answers(account):
    """faults.code (an announced extension of the control protocol) chooses between the
    seed's two 500 rows; a code no row of that status documents is a bad call."""
    import requests
    from jdcloud_sdk.services.vm.apis.CreateImageRequest import CreateImageParameters, CreateImageRequest

    assert "faults.code" in requests.get(account.control_url + "/", timeout=10).json()["extensions"]
    arm = {"tenant_id": account.tenant_id, "operation": "createImage", "status": 500}
    for wrong in ({**arm, "code": "NOT_FOUND"}, {**arm, "code": "UNKNOWNISH"}, {**arm, "code": ""}):
        refused = requests.post(account.control_url + "/faults", json=wrong, timeout=10)
        assert refused.status_code == 400 and "error" in refused.json(), refused.text
    instance, client = account.make("instance"), account.sdk_client()

    def answer() -> tuple[int, str]:
        error = client.send(CreateImageRequest(CreateImageParameters(account.region, instance, "img"))).error
        return error.code, error.status

    for rule_id in ("JD-R019", "JD-R018"):
        account.fault("createImage", 500, code=CATALOG[rule_id].code)
        assert answer() == (expected(rule_id).status, expected(rule_id).code)
    account.fault("createImage", 500)  # no code: the first 500 row
    assert answer() == (expected("JD-R018").status, expected("JD-R018").code)
    assert account.images() == []
