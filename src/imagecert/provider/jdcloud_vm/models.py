"""JD Cloud VM: what `createImage` does to instances, disks, snapshots and images.

Plain state and rules, no HTTP. Each refusal names its catalog rule; the answer
(status, JD status word, message) comes from the catalog. The body has already been
checked against the contract, but a defect may switch a check off, so values are
read defensively (a broken provider still never answers 5xx).
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from imagecert.contracts import load_contract
from imagecert.provider.rules import Rules
from imagecert.provider.store import NotFound, Resource, Store

# Catalog rules this model enforces (contracts/jdcloud-vm/constraints.yaml).
UNDERLAY_TASK = "JD-C001"
STOP_FIRST = "JD-C002"
INVALID_STATUS = "JD-C003"
IMAGE_NOT_FOUND = "JD-C010"
IMAGING_IN_PROGRESS = "JD-B002"
SYSTEM_DISK_NOT_FOUND = "JD-R005"
SYSTEM_DISK_MOUNT = "JD-R006"
DUPLICATE_DEVICE = "JD-R007"
SIZE_NOT_SMALLER = "JD-R010"
DISK_BUSY = "JD-R011"
DISK_STATUS = "JD-R012"
INSTANCE_NOT_FOUND = "JD-R014"
SNAPSHOT_NOT_FOUND = "JD-R015"
IMAGE_QUOTA = "JD-R016"
SNAPSHOT_QUOTA = "JD-R017"
NEVER_READY = "JD-B001:never-ready"  # a defect of the dialect's own (responses.py lists it)

# The image's words, as the contract's Image schema gives them.
_IMAGE = load_contract("jdcloud-vm")["components"]["schemas"]["Image"]["properties"]
IMAGE_STATES = _IMAGE["status"]["x-imagecert-states"]
ROOT_DEVICE_TYPES = _IMAGE["rootDeviceType"]["x-imagecert-system-disk-categories"]

# JD's own status words for instances and disks (the VM and disk APIs').
IMAGEABLE_STATUS = ("running", "stopped")
STOPPED = "stopped"
DISK_READY_STATUS = ("in-use", "available")
MOUNTED = "attached"
IMAGING_TASK = "createImage"
SYSTEM_DEVICE = "vda"

ID_PREFIXES = {"instance": "i", "snapshot": "snapshot", "image": "img", "backup": "backup"}


ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id(kind: str) -> str:
    """An id shaped like JD's: a kind prefix and ten lower-case letters or digits."""
    # one read of the system's randomness, not one per character: 64 random bits, as ten
    # base-36 digits (36**10 < 2**52, so the bias is below one in 4,000)
    number = int.from_bytes(secrets.token_bytes(8), "big") % 36 ** 10
    digits = []
    for _ in range(10):
        number, digit = divmod(number, 36)
        digits.append(ID_ALPHABET[digit])
    return f"{ID_PREFIXES.get(kind, kind)}-{''.join(digits)}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class DiskPlan:
    """One data disk of the image being made."""

    device: str
    disk_type: str | None
    size_gb: int | None
    from_instance_disk: bool       # a snapshot of the instance's disk is taken for it
    snapshot_id: str | None        # the snapshot it is made from, when the call names one
    spec: dict[str, Any]           # the caller's InstanceDiskAttachmentSpec ({} for an instance disk)

    def rendered(self, snapshot_id: str | None) -> dict[str, Any]:
        cloud = _dict(self.spec.get("cloudDiskSpec"))
        return {
            "diskCategory": "cloud",
            "autoDelete": bool(self.spec.get("autoDelete")),
            "deviceName": self.device,
            "cloudDisk": {
                "diskType": self.disk_type,
                "diskSizeGB": self.size_gb,
                "snapshotId": snapshot_id,
                "iops": _int(cloud.get("iops")),
                "encrypt": bool(cloud.get("encrypt")),
            },
        }


class JdcloudVm:
    def __init__(self, store: Store, rules: Rules, job_seconds: float):
        self.store = store
        self.rules = rules
        self.job_seconds = job_seconds

    # createImage ---------------------------------------------------------------
    def create_image(self, tenant_id: str, instance_id: str, name: Any, description: Any,
                     data_disks: Any) -> Resource:
        instance = self._instance(tenant_id, instance_id)
        attrs = instance.attributes
        task = attrs.get("task")
        if task == IMAGING_TASK:
            self.rules.require(IMAGING_IN_PROGRESS, False, task)
        else:
            self.rules.require(UNDERLAY_TASK, not task, task)
        status = attrs.get("status")
        self.rules.require(INVALID_STATUS, status in IMAGEABLE_STATUS, status)
        system_disk = _dict(attrs.get("system_disk"))
        self.rules.require(SYSTEM_DISK_NOT_FOUND, bool(system_disk) and system_disk.get("attached", True))
        self.rules.require(SYSTEM_DISK_MOUNT, system_disk.get("mount_state", MOUNTED) == MOUNTED)
        local_root = system_disk.get("category") == "local"
        self.rules.require(STOP_FIRST, not local_root or status == STOPPED)

        asked = [d for d in data_disks if isinstance(d, dict)] if isinstance(data_disks, list) else []
        plans = self._plan_disks(tenant_id, attrs.get("data_disks") or [], asked)
        self.rules.require(IMAGE_QUOTA, self.store.room_for(tenant_id, "images"))
        snapshots_needed = sum(1 for p in plans if p.from_instance_disk)
        self.rules.require(SNAPSHOT_QUOTA, self.store.room_for(tenant_id, "snapshots", snapshots_needed))
        return self._make_image(tenant_id, instance, name, description, plans, local_root)

    def _instance(self, tenant_id: str, instance_id: str) -> Resource:
        try:
            return self.store.get(instance_id, tenant_id, "instance")
        except NotFound:
            self.rules.require(INSTANCE_NOT_FOUND, False, instance_id)
            raise

    def _plan_disks(self, tenant_id: str, attached: list[dict[str, Any]], asked: list[dict[str, Any]]) -> list[DiskPlan]:
        """The image's data disks: every cloud data disk of the instance (snapshotted), less
        the ones `dataDisks` names (excluded by noDevice, or replaced), plus the new ones."""
        devices = [d["deviceName"] for d in asked if d.get("deviceName")]
        named: set[str] = set()
        for device in devices:
            self.rules.require(DUPLICATE_DEVICE, device not in named, device)
            named.add(device)

        plans: list[DiskPlan] = []
        for disk in attached:
            if disk.get("category") != "cloud" or disk.get("device") in named:
                continue
            self._require_disk_ready(disk)
            plans.append(DiskPlan(disk.get("device"), disk.get("disk_type"), disk.get("size_gb"), True, None, {}))
        by_device = {d.get("device"): d for d in attached}
        for spec in asked:
            if spec.get("noDevice"):
                continue
            plans.append(self._plan_named(tenant_id, spec, by_device.get(spec.get("deviceName"))))
        return plans

    def _plan_named(self, tenant_id: str, spec: dict[str, Any], original: dict[str, Any] | None) -> DiskPlan:
        """A disk the call adds, or one that replaces the instance's disk of that name (the
        instance's disk is then not snapshotted, so its state does not matter)."""
        cloud = _dict(spec.get("cloudDiskSpec"))
        snapshot_id = cloud.get("snapshotId") if isinstance(cloud.get("snapshotId"), str) else None
        snapshot = None
        if snapshot_id:
            try:
                snapshot = self.store.get(snapshot_id, tenant_id, "snapshot")
            except NotFound:
                self.rules.require(SNAPSHOT_NOT_FOUND, False, snapshot_id)
        size = _int(cloud.get("diskSizeGB"))
        floor = _int((snapshot.attributes if snapshot else original or {}).get("size_gb"))
        device = spec.get("deviceName") or ""
        self.rules.require(SIZE_NOT_SMALLER, size is None or floor is None or size >= floor, device)
        disk_type = cloud.get("diskType") or (snapshot.attributes.get("disk_type") if snapshot else None)
        return DiskPlan(device, disk_type, size or floor, False, snapshot_id, spec)

    def _require_disk_ready(self, disk: dict[str, Any]) -> None:
        device = disk.get("device", "")
        self.rules.require(DISK_BUSY, not disk.get("task"), device, disk.get("task"))
        status = disk.get("status", DISK_READY_STATUS[0])
        self.rules.require(DISK_STATUS, status in DISK_READY_STATUS, device, status)

    def _make_image(self, tenant_id: str, instance: Resource, name: Any, description: Any,
                    plans: list[DiskPlan], local_root: bool) -> Resource:
        image_id = new_id("image")
        data_disks, snapshots = [], []
        for plan in plans:
            snapshot_id = plan.snapshot_id
            if plan.from_instance_disk:
                snapshot_id = self.store.add(Resource(new_id("snapshot"), "snapshot", tenant_id, {
                    "size_gb": plan.size_gb, "disk_type": plan.disk_type, "status": "creating",
                    "image_id": image_id, "device": plan.device,
                })).id
                snapshots.append(snapshot_id)
            data_disks.append(plan.rendered(snapshot_id))
        system = _dict(instance.attributes.get("system_disk"))
        system_snapshot = None if local_root else new_id("snapshot")
        image = self.store.add(Resource(image_id, "image", tenant_id, {
            "status": IMAGE_STATES["in-progress"][0],
            "name": name,
            "desc": description or "",
            "source": {"kind": "instance", "id": instance.id},
            "instanceId": instance.id,
            "rootDeviceType": ROOT_DEVICE_TYPES["local" if local_root else "cloud"],
            "snapshotId": system_snapshot,
            "systemDisk": {
                "diskCategory": system.get("category", "cloud"),
                "deviceName": SYSTEM_DEVICE,
                "cloudDisk": None if local_root else {"diskSizeGB": system.get("size_gb"), "snapshotId": system_snapshot},
            },
            "dataDisks": data_disks,
            "disks": [d["deviceName"] for d in data_disks],
            "snapshots": snapshots,
            "az": instance.attributes.get("az"),
            "createTime": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        }))
        instance.attributes["task"] = IMAGING_TASK

        def finish(success: bool) -> None:
            image.attributes["status"] = IMAGE_STATES["done"] if success else IMAGE_STATES["failed"][0]
            if instance.attributes.get("task") == IMAGING_TASK:
                instance.attributes["task"] = None
            for snapshot_id in snapshots:
                if snapshot_id in self.store.resources:
                    self.store.resources[snapshot_id].attributes["status"] = "available" if success else "error"

        if not self.rules.on(NEVER_READY):
            self.store.start_job(tenant_id, self.job_seconds, finish)
        return image

    # supporting operations -------------------------------------------------------
    def image(self, tenant_id: str, image_id: str) -> Resource:
        try:
            return self.store.get(image_id, tenant_id, "image")
        except NotFound:
            self.rules.require(IMAGE_NOT_FOUND, False, image_id)
            raise

    def delete_image(self, tenant_id: str, image_id: str, delete_snapshots: bool) -> None:
        image = self.image(tenant_id, image_id)
        if delete_snapshots:
            for snapshot_id in image.attributes.get("snapshots", []):
                self.store.remove(snapshot_id)
        self.store.remove(image.id)
