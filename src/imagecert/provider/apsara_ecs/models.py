"""Apsara Stack ECS: what `CreateImage` does to instances, snapshots and images.

Plain state and rules, no HTTP. Each refusal names its catalog rule
(contracts/apsara-ecs/constraints.yaml); the answer (status, Code, message) comes
from the catalog. Limits that depend on a disk's category are read from the
contract's `x-imagecert-disk-categories`.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from imagecert.contracts import load_contract
from imagecert.provider.rules import Rules
from imagecert.provider.store import NotFound, Resource, Store

# Catalog rules this model enforces.
NO_SOURCE = "APS-C001"
SEVERAL_SOURCES = "APS-C002"
INSTANCE_STATUS = "APS-C003"
IMAGE_QUOTA = "APS-C004"
TAG_KEY = "APS-P003"
DEVICE = "APS-P009"
INSTANCE_NOT_FOUND = "APS-P008"
MAPPING_SNAPSHOT_NOT_FOUND = "APS-P011"
SNAPSHOT_NOT_FOUND = "APS-P012"
SIZE_RANGE = "APS-P014"
SIZE_BELOW_SNAPSHOT = "APS-P015"
REGION_MISSING = "APS-P021"
REGION_UNKNOWN = "APS-P022"
REGION_SPELLINGS_DISAGREE = "APS-D003"
TAG_SPELLINGS_DISAGREE = "APS-D004"
TOKEN_MISMATCH = "APS-B002"
IMAGE_NOT_FOUND = "APS-B004"

# Defects for behaviour a catalog `expect` cannot express (see responses.py).
IMAGE_NEVER_AVAILABLE = "APS:image-never-available"
CLIENT_TOKEN_IGNORED = "APS:client-token-ignored"
SIZE_DEFAULT_WRONG = "APS:size-default-wrong"
DELETE_KEEPS_IMAGE = "APS:delete-keeps-image"

IMAGEABLE_STATUS = ("Running", "Stopped")
# A mapping with neither DiskType nor a snapshot is a new empty disk: it cannot hold the
# system, so it is a data disk.
EMPTY_DISK_TYPE = "data"
SYSTEM_DISK_TYPE = "system"


@cache
def disk_families() -> dict[str, dict[str, Any]]:
    """The contract's disk families (ordinary / other cloud disks): categories, device
    pattern, size range and default."""
    form = load_contract("apsara-ecs")["components"]["schemas"]["CreateImageForm"]
    return {k: v for k, v in form["x-imagecert-disk-categories"].items() if isinstance(v, dict)}


def family_of_category(category: str | None) -> str:
    for name, family in disk_families().items():
        if category in family["categories"]:
            return name
    return "other"


def family_of_device(device: str | None) -> str | None:
    for name, family in disk_families().items():
        if device and re.search(family["device"], device):
            return name
    return None


@dataclass(frozen=True)
class Mapping:
    """DiskDeviceMapping.N as asked: any field may be absent."""

    index: int
    device: str | None = None
    snapshot_id: str | None = None
    size: Any = None
    disk_type: str | None = None


@dataclass
class CreateImageRequest:
    region_id: str | None
    lower_region_id: str | None
    instance_id: str | None = None
    snapshot_id: str | None = None
    mappings: list[Mapping] = field(default_factory=list)
    image_name: str = ""
    description: str = ""
    platform: str | None = None
    architecture: str | None = None
    resource_group_id: str | None = None
    tags: list[tuple[str, str]] = field(default_factory=list)
    client_token: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # what ClientToken replays compare


class ApsaraEcs:
    def __init__(self, store: Store, rules: Rules, job_seconds: float):
        self.store = store
        self.rules = rules
        self.job_seconds = job_seconds
        # (tenant id, ClientToken) -> (the parameters of the first call, the image it made)
        self._tokens: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}

    # region --------------------------------------------------------------------------
    def region(self, tenant_region: str, region_id: str | None, lower_region_id: str | None) -> str:
        """The region a call names (RegionId, or its lower-case twin), which must be the
        account's."""
        given = region_id if region_id is not None else lower_region_id
        self.rules.require(REGION_MISSING, given is not None)
        self.rules.require(REGION_SPELLINGS_DISAGREE,
                           region_id is None or lower_region_id is None or region_id == lower_region_id)
        region = given if given is not None else tenant_region
        self.rules.require(REGION_UNKNOWN, region == tenant_region, region)
        return region

    # CreateImage ---------------------------------------------------------------------
    def create_image(self, tenant_id: str, tenant_region: str, request: CreateImageRequest) -> str:
        """The id of the image the request makes (or made, for a replayed ClientToken)."""
        with self.store.lock:  # the token check and the image it records are one step
            region = self.region(tenant_region, request.region_id, request.lower_region_id)
            sources = [s for s in (request.instance_id, request.snapshot_id, request.mappings or None) if s]
            self.rules.require(NO_SOURCE, len(sources) > 0)
            self.rules.require(SEVERAL_SOURCES, len(sources) < 2)
            for key, _ in request.tags:
                self.rules.require(TAG_KEY, bool(key), key)

            replayed = self._replay(tenant_id, request)
            if replayed is not None:
                return replayed

            disks, source, az = self._disks(tenant_id, request)
            self.rules.require(IMAGE_QUOTA, self.store.room_for(tenant_id, "images"))
            image = self._make_image(tenant_id, region, request, disks, source, az)
            if request.client_token is not None and not self.rules.on(CLIENT_TOKEN_IGNORED):
                self._tokens[(tenant_id, request.client_token)] = (request.parameters, image.id)
            return image.id

    def _replay(self, tenant_id: str, request: CreateImageRequest) -> str | None:
        if request.client_token is None or self.rules.on(CLIENT_TOKEN_IGNORED):
            return None
        earlier = self._tokens.get((tenant_id, request.client_token))
        if earlier is None:
            return None
        parameters, image_id = earlier
        self.rules.require(TOKEN_MISMATCH, parameters == request.parameters, request.client_token)
        return image_id if parameters == request.parameters else None

    def _disks(self, tenant_id: str, request: CreateImageRequest) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
        """The image's disks, where they come from, and the zone."""
        if request.instance_id:
            return self._instance_disks(tenant_id, request.instance_id)
        if request.snapshot_id:
            snapshot = self._snapshot(tenant_id, request.snapshot_id, SNAPSHOT_NOT_FOUND)
            disk = self._snapshot_disk(request.snapshot_id, snapshot, SYSTEM_DISK_TYPE)
            return [disk], {"kind": "snapshot", "id": request.snapshot_id}, None
        disks = [self._mapping_disk(tenant_id, m) for m in request.mappings]
        return disks, {"kind": "snapshots", "ids": [m.snapshot_id for m in request.mappings if m.snapshot_id]}, None

    def _instance_disks(self, tenant_id: str, instance_id: str) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
        source = {"kind": "instance", "id": instance_id}
        try:
            instance = self.store.get(instance_id, tenant_id, "instance")
        except NotFound:
            self.rules.require(INSTANCE_NOT_FOUND, False, instance_id)
            return [], source, None
        attrs = instance.attributes
        self.rules.require(INSTANCE_STATUS, attrs.get("status") in IMAGEABLE_STATUS and not attrs.get("task"),
                           attrs.get("status"))
        system = attrs.get("system_disk") or {}
        disks = [self._disk(system.get("device"), system.get("category"), system.get("size_gb"), None, SYSTEM_DISK_TYPE, 0)]
        for position, disk in enumerate(attrs.get("data_disks") or [], start=1):
            if disk.get("category") == "local":  # local disks are not part of an image
                continue
            disks.append(self._disk(disk.get("device"), disk.get("category") or disk.get("disk_type"),
                                    disk.get("size_gb"), None, "data", position))
        return disks, source, attrs.get("az")

    def _disk(self, device: str | None, category: str | None, size: Any, snapshot_id: str | None,
              disk_type: str, position: int) -> dict[str, Any]:
        family = family_of_category(category)
        return {
            "device": device or _device_name(family, position),
            "size_gb": size if size is not None else disk_families()[family]["size"]["default"],
            "snapshot_id": snapshot_id,
            "type": disk_type,
            "category": category,
        }

    def _snapshot(self, tenant_id: str, snapshot_id: str, rule: str) -> Resource | None:
        try:
            return self.store.get(snapshot_id, tenant_id, "snapshot")
        except NotFound:
            self.rules.require(rule, False, snapshot_id)
            return None

    def _snapshot_disk(self, snapshot_id: str, snapshot: Resource | None, disk_type: str) -> dict[str, Any]:
        attrs = snapshot.attributes if snapshot else {}
        return self._disk(None, attrs.get("category"), attrs.get("size_gb"), snapshot_id,
                          disk_type, 0 if disk_type == SYSTEM_DISK_TYPE else 1)

    def _mapping_disk(self, tenant_id: str, mapping: Mapping) -> dict[str, Any]:
        snapshot = None
        if mapping.snapshot_id:
            snapshot = self._snapshot(tenant_id, mapping.snapshot_id, MAPPING_SNAPSHOT_NOT_FOUND)
        attrs = snapshot.attributes if snapshot else {}
        if snapshot is not None:
            family = family_of_category(attrs.get("category"))
            device_family = family_of_device(mapping.device)
            self.rules.require(DEVICE, mapping.device is None or device_family == family, mapping.device)
            floor = attrs.get("size_gb")
            self.rules.require(SIZE_BELOW_SNAPSHOT,
                               not isinstance(mapping.size, int) or floor is None or mapping.size >= floor,
                               mapping.size)
            default_size = floor
        else:
            family = family_of_device(mapping.device) or "other"
            limits = disk_families()[family]["size"]
            self.rules.require(SIZE_RANGE,
                               not isinstance(mapping.size, int)
                               or limits["minimum"] <= mapping.size <= limits["maximum"],
                               mapping.size)
            default_size = limits["default"]
        if self.rules.on(SIZE_DEFAULT_WRONG):
            default_size = disk_families()[family]["size"]["maximum"]
        disk_type = mapping.disk_type or attrs.get("disk_type") or EMPTY_DISK_TYPE
        return {
            "device": mapping.device or _device_name(family, mapping.index - 1),
            "size_gb": mapping.size if mapping.size is not None else default_size,
            "snapshot_id": mapping.snapshot_id,
            "type": disk_type,
            "category": attrs.get("category"),
        }

    def _make_image(self, tenant_id: str, region: str, request: CreateImageRequest, disks: list[dict[str, Any]],
                    source: dict[str, Any], az: str | None) -> Resource:
        system = next((d for d in disks if d["type"] == SYSTEM_DISK_TYPE), disks[0] if disks else {})
        image = self.store.add(Resource(f"m-{secrets.token_hex(10)}", "image", tenant_id, {
            "status": "Creating",
            "progress": "0%",
            "name": request.image_name,
            "description": request.description,
            "platform": request.platform,
            "architecture": request.architecture,
            "os_type": "windows" if (request.platform or "").startswith("Windows") else "linux",
            "resource_group_id": request.resource_group_id,
            "tags": [{"key": k, "value": v} for k, v in request.tags],
            "disks": disks,
            "size_gb": system.get("size_gb"),
            "source": source,
            "instance_id": request.instance_id,
            "region_id": region,
            "az": az,
            "client_token": request.client_token,
            "creation_time": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        }))

        def finish(success: bool) -> None:
            image.attributes["status"] = "Available" if success else "CreateFailed"
            image.attributes["progress"] = "100%"

        if not self.rules.on(IMAGE_NEVER_AVAILABLE):
            self.store.start_job(tenant_id, self.job_seconds, finish)
        return image

    # supporting operations -----------------------------------------------------------
    def images(self, tenant_id: str) -> list[Resource]:
        return sorted(self.store.find(tenant_id, "image"), key=lambda r: r.created_at)

    def delete_image(self, tenant_id: str, image_id: str) -> None:
        try:
            image = self.store.get(image_id, tenant_id, "image")
        except NotFound:
            self.rules.require(IMAGE_NOT_FOUND, False, image_id)
            return
        if not self.rules.on(DELETE_KEEPS_IMAGE):
            self.store.remove(image.id)


def _device_name(family: str, position: int) -> str:
    """The device of the disk at `position` (0 the system disk) in a family's naming."""
    prefix = disk_families()[family]["device"].removeprefix("^").split("[", 1)[0]
    return prefix + "abcdefghijklmnopqrstuvwxyz"[min(position, 25)]
