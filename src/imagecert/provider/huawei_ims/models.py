"""Huawei IMS: what a full-ECS image request does to ECSs, CSBS backups, images and jobs.

Plain state and rules, no HTTP. Each refusal names its catalog rule; the answer
(status, IMG code, message) comes from the catalog. The call only starts a job
(IMS-B001): the image exists at once, `saving`, and becomes `active` when the job
succeeds — or `killed` when it fails, for instance because its source broke meanwhile.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from imagecert.contracts import load_contract
from imagecert.provider.rules import ProviderError, Rules
from imagecert.provider.store import NotFound, Resource, Store

# Catalog rules this model enforces (contracts/huawei-ims/constraints.yaml).
ECS_NOT_FOUND = "IMS-C017"
BACKUP_NOT_FOUND = "IMS-C018"
ECS_STATE = "IMS-C002"
ECS_TASK = "IMS-C019"
ECS_BACKING_UP = "IMS-C030"
SYSTEM_DISK_DETACHED = "IMS-C006"
DEDICATED_STORAGE = "IMS-D003"
BACKUP_SHARED_DISKS = "IMS-C012"
BACKUP_UNAVAILABLE = "IMS-C013"
BACKUP_USED = "IMS-C014"
IMAGE_QUOTA = "IMS-C020"
JOB_NOT_FOUND = "IMS-B008"
IMAGE_NOT_FOUND = "IMS-R004"

# Defects of behaviour no catalog `expect` can express (see responses.IMS_DEFECTS).
JOB_NEVER_ENDS = "IMS:job-never-ends"
IMAGE_STAYS_SAVING = "IMS:image-stays-saving"

# The job's and the image's status words, as the contract names them.
_SCHEMAS = load_contract("huawei-ims")["components"]["schemas"]
JOB_STATES = _SCHEMAS["Job"]["properties"]["status"]["x-imagecert-states"]
IMAGE_STATES = _SCHEMAS["Image"]["properties"]["status"]["x-imagecert-states"]

IMAGEABLE_STATES = ("ACTIVE", "SHUTOFF")  # 开机 / 关机, in the ECS API's words
BACKING_UP_TASK = "backing_up"
BACKUP_AVAILABLE = "available"
# A job that fails for no reason a rule names reports 错误码.md's "fsp执行任务异常".
JOB_FAILURE_CODE = "IMG.0014"
JOB_FAILURE_REASON = "An exception occurred when IaaS OpenStack was executing the task."


@dataclass(frozen=True)
class WholeImageRequest:
    """A create request's fields, read from a body the contract accepted."""

    name: str
    description: str
    tags: list[str]
    image_tags: list[dict[str, str]]
    instance_id: str | None
    backup_id: str | None
    enterprise_project_id: str
    min_ram: Any
    max_ram: Any

    @property
    def source_kind(self) -> str:
        return "backup" if self.backup_id is not None else "instance"


@dataclass
class WholeImageJob:
    """What the job query shows."""

    id: str
    tenant_id: str
    image_id: str
    image_name: str
    source_kind: str
    begun: float
    seconds: float
    status: str = JOB_STATES["pending"][-1]
    ended: float | None = None
    error_code: str | None = None
    fail_reason: str | None = None

    def progress(self, now: float) -> float:
        if self.status == JOB_STATES["succeeded"]:
            return 1.0
        return round(min(0.99, (now - self.begun) / self.seconds if self.seconds else 0.0), 2)


class HuaweiIms:
    def __init__(self, store: Store, rules: Rules, job_seconds: float, finished_kept: int = 1000):
        self.store = store
        self.rules = rules
        self.job_seconds = job_seconds
        self.jobs: dict[str, WholeImageJob] = {}
        # Finished jobs stay queryable, the newest `finished_kept` per tenant (the job query
        # documents no retention); older ones are forgotten, so memory stays bounded.
        self.finished_kept = finished_kept
        self._finished: dict[str, deque[str]] = {}
        store.tenant_removed.append(self._forget_tenant)

    # createWholeImage ------------------------------------------------------------
    def create_whole_image(self, tenant_id: str, request: WholeImageRequest) -> WholeImageJob:
        if request.source_kind == "backup":
            source = self._backup_ready(tenant_id, request.backup_id or "")
        else:
            source = self._instance_ready(tenant_id, request.instance_id or "")
        self.rules.require(IMAGE_QUOTA, self.store.room_for(tenant_id, "images"))
        return self._start(tenant_id, source, request)

    def _instance_ready(self, tenant_id: str, instance_id: str) -> Resource:
        instance = self._source(tenant_id, instance_id, "instance", ECS_NOT_FOUND)
        attrs = instance.attributes
        self.rules.require(ECS_STATE, attrs.get("status") in IMAGEABLE_STATES, attrs.get("status"))
        task = attrs.get("task")
        self.rules.require(ECS_BACKING_UP, task != BACKING_UP_TASK)
        self.rules.require(ECS_TASK, not task or task == BACKING_UP_TASK, task)
        self.rules.require(SYSTEM_DISK_DETACHED, _system_disk(attrs).get("attached", True))
        disks = [_system_disk(attrs), *(attrs.get("data_disks") or [])]
        self.rules.require(DEDICATED_STORAGE, not any(d.get("dedicated_storage") for d in disks))
        return instance

    def _backup_ready(self, tenant_id: str, backup_id: str) -> Resource:
        backup = self._source(tenant_id, backup_id, "backup", BACKUP_NOT_FOUND)
        attrs = backup.attributes
        self.rules.require(BACKUP_USED, not attrs.get("image_id"), backup_id)
        self.rules.require(BACKUP_UNAVAILABLE, attrs.get("status") == BACKUP_AVAILABLE, attrs.get("status"))
        self.rules.require(BACKUP_SHARED_DISKS, not attrs.get("shared_disks"))
        return backup

    def _source(self, tenant_id: str, resource_id: str, kind: str, rule_id: str) -> Resource:
        """The tenant's resource; when the not-found rule is switched off (a defect), a
        stand-in, so that the call is accepted as a broken provider would."""
        try:
            return self.store.get(resource_id, tenant_id, kind)
        except NotFound:
            self.rules.require(rule_id, False, resource_id)
            return Resource(resource_id, kind, tenant_id, {"status": BACKUP_AVAILABLE if kind == "backup" else "ACTIVE"})

    def _start(self, tenant_id: str, source: Resource, request: WholeImageRequest) -> WholeImageJob:
        now = time.time()
        attrs = source.attributes
        image = self.store.add(Resource(_new_uuid(), "image", tenant_id, {
            "status": IMAGE_STATES["making"],
            "name": request.name,
            "description": request.description,
            "tags": list(request.tags) + [f"{t.get('key', '')}.{t.get('value', '')}" for t in request.image_tags],
            "source": {"kind": source.kind, "id": source.id},
            "backup_id": source.id if source.kind == "backup" else None,
            "whole_image": True,
            "enterprise_project_id": request.enterprise_project_id,
            "min_ram": request.min_ram,
            "max_ram": request.max_ram,
            "os_type": attrs.get("os_type", "Linux"),
            "az": attrs.get("az"),
            "disks": [_system_disk(attrs), *(attrs.get("data_disks") or [])] if source.kind == "instance" else [],
            "created_at": now,
            "updated_at": now,
        }))
        if source.kind == "backup":
            attrs["image_id"] = image.id  # one image per backup (IMS-C014), from the request on

        job_id = _new_uuid().replace("-", "")
        job = WholeImageJob(job_id, tenant_id, image.id, request.name, source.kind, now, self.job_seconds)
        image.attributes["job_id"] = job_id
        self.jobs[job_id] = job

        def finish(success: bool) -> None:
            self._finish(job, image, source, success)

        if not self.rules.on(JOB_NEVER_ENDS):
            self.store.start_job(tenant_id, self.job_seconds, finish, job_id=job_id)
        return job

    def _retire(self, job: WholeImageJob) -> None:
        finished = self._finished.setdefault(job.tenant_id, deque())
        finished.append(job.id)
        while len(finished) > self.finished_kept:
            self.jobs.pop(finished.popleft(), None)

    def _forget_tenant(self, tenant_id: str) -> None:
        self._finished.pop(tenant_id, None)
        self.jobs = {k: j for k, j in self.jobs.items() if j.tenant_id != tenant_id}

    def _finish(self, job: WholeImageJob, image: Resource, source: Resource, success: bool) -> None:
        self._retire(job)
        broken = self._source_problem(source)
        job.ended = time.time()
        image.attributes["updated_at"] = job.ended
        if success and broken is None:
            job.status = JOB_STATES["succeeded"]
            if not self.rules.on(IMAGE_STAYS_SAVING):
                image.attributes["status"] = IMAGE_STATES["usable"]
            return
        job.status = JOB_STATES["failed"]
        if broken is not None:
            answer = self.rules.answer(ProviderError(broken))
            job.error_code, job.fail_reason = answer.code, answer.message
        else:
            job.error_code, job.fail_reason = JOB_FAILURE_CODE, JOB_FAILURE_REASON
        image.attributes["status"] = IMAGE_STATES["failed"]
        if source.kind == "backup" and source.attributes.get("image_id") == image.id:
            source.attributes["image_id"] = None  # no image was registered from it

    def _source_problem(self, source: Resource) -> str | None:
        """The rule the job's source breaks now (it may have changed while the job ran)."""
        if source.id not in self.store.resources:
            return BACKUP_NOT_FOUND if source.kind == "backup" else ECS_NOT_FOUND
        attrs = source.attributes
        if source.kind == "backup":
            return None if attrs.get("status") == BACKUP_AVAILABLE else BACKUP_UNAVAILABLE
        if attrs.get("status") not in IMAGEABLE_STATES:
            return ECS_STATE
        if not _system_disk(attrs).get("attached", True):
            return SYSTEM_DISK_DETACHED
        return None

    # supporting operations -------------------------------------------------------
    def job(self, tenant_id: str, job_id: str, in_project: bool) -> WholeImageJob:
        """A job of the tenant, asked for under its own project id."""
        job = self.jobs.get(job_id)
        if in_project and job is not None and job.tenant_id == tenant_id:
            return job
        self.rules.require(JOB_NOT_FOUND, False, job_id)
        # the rule is switched off (a defect): a job nobody started, as a broken provider shows
        return WholeImageJob(job_id, tenant_id, "", "", "instance", time.time(), self.job_seconds)

    def image(self, tenant_id: str, image_id: str) -> Resource:
        try:
            return self.store.get(image_id, tenant_id, "image")
        except NotFound:
            self.rules.require(IMAGE_NOT_FOUND, False, image_id)
            return Resource(image_id, "image", tenant_id, {"status": IMAGE_STATES["usable"], "name": ""})

    def delete_image(self, tenant_id: str, image_id: str, delete_backup: bool) -> None:
        image = self.image(tenant_id, image_id)
        backup_id = image.attributes.get("backup_id")
        if delete_backup and backup_id:
            self.store.remove(backup_id)
        self.store.remove(image.id)


def _system_disk(attrs: dict[str, Any]) -> dict[str, Any]:
    return attrs.get("system_disk") or {}


def _new_uuid() -> str:
    return str(uuid.uuid4())
