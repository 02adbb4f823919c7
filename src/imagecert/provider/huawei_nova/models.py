"""Huawei ECS / OpenStack Nova: what `createImage` does to servers, volumes and images.

Plain state and rules, no HTTP. Servers carry Nova's status words (ACTIVE, SHUTOFF,
ERROR, …) and its task_state as `task`; images carry the image proxy's status words
(SAVING, then ACTIVE). Each refusal names its catalog rule; the answer (status, fault
name, message) comes from the catalog.
"""

from __future__ import annotations

import time
import uuid
from imagecert.provider.rules import Defect, Rules
from imagecert.provider.store import NotFound, Resource, Store

# Catalog rules this model enforces (contracts/huawei-nova/constraints.yaml).
SERVER_NOT_FOUND = "NOVA-P002"
ERROR_STATE = "NOVA-C001"
TASK_IN_PROGRESS = "NOVA-B003"
STATE_NOT_IMAGEABLE = "NOVA-B004"
IMAGE_NOT_FOUND = "NOVA-R004"
IMAGE_QUOTA = "NOVA-R007"  # 413 overLimit: over a quota

# Behaviour a catalog rule cannot break by refusing: the model's own defects.
AZ_NOT_RECORDED = Defect("NOVA-C002:az-not-recorded", "NOVA-C002", "the image does not record the server's AZ")
SNAPSHOTS_DELETED = Defect("NOVA-C003:snapshots-deleted", "NOVA-C003", "deleting the image deletes its volume snapshots")
NEVER_ACTIVE = Defect("NOVA-B001:image-never-active", "NOVA-B001", "the image stays SAVING for ever")
METADATA_DROPPED = Defect("NOVA-B007:metadata-dropped", "NOVA-B007", "the image does not keep the metadata given")
MODEL_DEFECTS = (AZ_NOT_RECORDED, SNAPSHOTS_DELETED, NEVER_ACTIVE, METADATA_DROPPED)

# Upstream createImage accepts these vm_states (active, stopped, paused, suspended), as status words.
IMAGEABLE_STATUS = ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED")
ERROR_STATUS = "ERROR"
# The vm_state behind a status word, for the 409 message (upstream names the vm_state).
VM_STATE_OF = {
    "ACTIVE": "active", "SHUTOFF": "stopped", "PAUSED": "paused", "SUSPENDED": "suspended",
    "ERROR": "error", "BUILD": "building", "SHELVED": "shelved", "SHELVED_OFFLOADED": "shelved_offloaded",
    "RESCUE": "rescued", "VERIFY_RESIZE": "resized", "SOFT_DELETED": "soft-delete", "DELETED": "deleted",
}
SNAPSHOT_TASK = "image_snapshot"  # the server's task_state while its image is made


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class HuaweiNova:
    def __init__(self, store: Store, rules: Rules, job_seconds: float):
        self.store = store
        self.rules = rules
        self.job_seconds = job_seconds

    # createImage ---------------------------------------------------------------
    def create_image(self, tenant_id: str, server_id: str, name: str, metadata: dict[str, str]) -> Resource:
        server = self._server(tenant_id, server_id)
        attrs = server.attributes
        status = str(attrs.get("status") or "")
        vm_state = VM_STATE_OF.get(status, status.lower())
        # upstream checks the vm_state before the task_state
        self.rules.require(ERROR_STATE, status != ERROR_STATUS, server.id)
        # ERROR is the seed's own rule (above): a provider ignoring it is not saved by this one
        self.rules.require(STATE_NOT_IMAGEABLE, status in IMAGEABLE_STATUS or status == ERROR_STATUS,
                           server.id, vm_state)
        self.rules.require(TASK_IN_PROGRESS, not attrs.get("task"), server.id, attrs.get("task"))
        self.rules.require(IMAGE_QUOTA, self.store.room_for(tenant_id, "images"), message="Quota exceeded for images.")
        return self._make_image(tenant_id, server, name, metadata)

    def server(self, tenant_id: str, server_id: str) -> Resource:
        """A server of the tenant (404 itemNotFound when it has none of that id)."""
        return self._server(tenant_id, server_id)

    def _server(self, tenant_id: str, server_id: str) -> Resource:
        try:
            return self.store.get(server_id, tenant_id, "instance")
        except NotFound:
            self.rules.require(SERVER_NOT_FOUND, False, server_id)
        # the rule is switched off (a defect): image a server nobody has, as a broken cloud would
        return Resource(server_id, "instance", tenant_id, {"status": IMAGEABLE_STATUS[0]})

    def _make_image(self, tenant_id: str, server: Resource, name: str, metadata: dict[str, str]) -> Resource:
        attrs = server.attributes
        image_id = str(uuid.uuid4())
        system_disk = attrs.get("system_disk") or {}
        # A volume-backed server (cloud system disk) is imaged as a snapshot of every
        # attached cloud volume; the image refers to them (seed constraint 3).
        volumes = []
        if system_disk.get("category", "cloud") == "cloud":
            volumes.append({"device": "/dev/vda", "size_gb": system_disk.get("size_gb")})
            volumes += [
                {"device": d.get("device"), "size_gb": d.get("size_gb")}
                for d in attrs.get("data_disks") or []
                if d.get("category", "cloud") == "cloud"
            ]
        snapshots = [
            self.store.add(Resource(str(uuid.uuid4()), "snapshot", tenant_id, {
                "status": "creating", "size_gb": v["size_gb"], "device": v["device"],
                "image_id": image_id, "server_id": server.id,
            })).id
            for v in volumes
        ]
        created = _now()
        image = self.store.add(Resource(image_id, "image", tenant_id, {
            "status": "SAVING",
            "progress": 25,
            "name": name,
            "metadata": {} if self.rules.on(METADATA_DROPPED.id) else dict(metadata),
            "source": {"kind": "instance", "id": server.id},
            "server_id": server.id,
            "az": None if self.rules.on(AZ_NOT_RECORDED.id) else attrs.get("az"),
            "min_disk": system_disk.get("size_gb") or 0,
            "size": 0,
            "snapshots": snapshots,
            "created": created,
            "updated": created,
        }))
        attrs["task"] = SNAPSHOT_TASK

        def finish(success: bool) -> None:
            image.attributes.update(status="ACTIVE" if success else "ERROR", progress=100 if success else 0,
                                    updated=_now())
            if attrs.get("task") == SNAPSHOT_TASK:
                attrs["task"] = None
            for snapshot_id in snapshots:
                if snapshot_id in self.store.resources:
                    self.store.resources[snapshot_id].attributes["status"] = "available" if success else "error"

        if not self.rules.on(NEVER_ACTIVE.id):
            self.store.start_job(tenant_id, self.job_seconds, finish)
        return image

    # supporting operations -------------------------------------------------------
    def image(self, tenant_id: str, image_id: str) -> Resource:
        try:
            return self.store.get(image_id, tenant_id, "image")
        except NotFound:
            self.rules.require(IMAGE_NOT_FOUND, False, image_id, message="Image not found.")
        # the rule is switched off (a defect): answer for an image nobody made
        return Resource(image_id, "image", tenant_id, {"status": "ACTIVE", "name": "", "metadata": {}})

    def delete_image(self, tenant_id: str, image_id: str) -> None:
        """Delete the image; its volume snapshots stay for the user to delete (constraint 3)."""
        image = self.image(tenant_id, image_id)
        if self.rules.on(SNAPSHOTS_DELETED.id):
            for snapshot_id in image.attributes.get("snapshots", []):
                self.store.remove(snapshot_id)
        self.store.remove(image.id)
