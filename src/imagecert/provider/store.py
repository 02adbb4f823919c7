"""The reference provider's state: tenants, resources, quotas, armed faults and jobs.

Dialect-neutral. Each dialect's `models.py` gives the attributes their meaning; this
module only keeps them, isolated per tenant, behind one lock so that concurrent calls
see one consistent world.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

KINDS = ("instance", "backup", "snapshot", "image")


class NotFound(LookupError):
    """No such tenant or resource (the control protocol answers 404)."""


@dataclass
class Tenant:
    id: str
    dialect: str
    permissions: str
    auth: dict[str, str]
    scope: dict[str, str]
    quotas: dict[str, int | None] = field(default_factory=lambda: {"images": None, "snapshots": None})

    def public(self) -> dict[str, Any]:
        return {
            "tenant_id": self.id,
            "dialect": self.dialect,
            "permissions": self.permissions,
            "auth": dict(self.auth),
            "scope": dict(self.scope),
        }


@dataclass
class Resource:
    id: str
    kind: str
    tenant_id: str
    attributes: dict[str, Any]
    created_at: float = field(default_factory=time.time)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "tenant_id": self.tenant_id,
            "attributes": copy.deepcopy(self.attributes),
        }


@dataclass
class Fault:
    id: str
    tenant_id: str
    operation: str
    status: int
    remaining: int
    code: str | None = None  # the documented row of `status` to answer (extension faults.code)


@dataclass
class Job:
    """Asynchronous work that ends by itself at `due`, or at once when settled."""

    id: str
    tenant_id: str
    due: float
    finish: Callable[[bool], None]  # called once, under the store lock, with success or not


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.resources: dict[str, Resource] = {}
        self.faults: list[Fault] = []
        self.jobs: dict[str, Job] = {}  # pending only: a job leaves when it ends
        # per tenant, (due, order, job id) of its pending jobs, soonest first: a call finds
        # the jobs it must finish without walking every tenant's pending work
        self._due: dict[str, list[tuple[float, int, str]]] = {}
        self._order = itertools.count()
        self._by_key: dict[str, str] = {}  # access key or token -> tenant id
        self.tenant_removed: list[Callable[[str], None]] = []  # models that keep state of their own

    # tenants -----------------------------------------------------------
    def add_tenant(self, tenant: Tenant) -> Tenant:
        with self.lock:
            self.tenants[tenant.id] = tenant
            for name in ("access_key", "token"):
                if tenant.auth.get(name):
                    self._by_key[tenant.auth[name]] = tenant.id
            return tenant

    def tenant(self, tenant_id: str) -> Tenant:
        try:
            return self.tenants[tenant_id]
        except KeyError:
            raise NotFound(f"no tenant {tenant_id!r}") from None

    def tenant_by_key(self, key: str) -> Tenant | None:
        tenant_id = self._by_key.get(key)
        return self.tenants.get(tenant_id) if tenant_id else None

    def remove_tenant(self, tenant_id: str) -> None:
        with self.lock:
            tenant = self.tenant(tenant_id)
            for name in ("access_key", "token"):
                self._by_key.pop(tenant.auth.get(name, ""), None)
            self.resources = {k: r for k, r in self.resources.items() if r.tenant_id != tenant_id}
            self.faults = [f for f in self.faults if f.tenant_id != tenant_id]
            self.jobs = {k: j for k, j in self.jobs.items() if j.tenant_id != tenant_id}
            self._due.pop(tenant_id, None)
            del self.tenants[tenant_id]
            for forget in self.tenant_removed:
                forget(tenant_id)

    # resources ---------------------------------------------------------
    def add(self, resource: Resource) -> Resource:
        with self.lock:
            self.resources[resource.id] = resource
            return resource

    def get(self, resource_id: str, tenant_id: str | None = None, kind: str | None = None) -> Resource:
        resource = self.resources.get(resource_id)
        if resource is None or (tenant_id and resource.tenant_id != tenant_id) or (kind and resource.kind != kind):
            raise NotFound(f"no {kind or 'resource'} {resource_id!r}")
        return resource

    def find(self, tenant_id: str, kind: str | None = None) -> list[Resource]:
        return [
            r for r in self.resources.values()
            if r.tenant_id == tenant_id and (kind is None or r.kind == kind)
        ]

    def remove(self, resource_id: str) -> None:
        with self.lock:
            self.resources.pop(resource_id, None)

    # quotas ------------------------------------------------------------
    def usage(self, tenant_id: str) -> dict[str, dict[str, int | None]]:
        tenant = self.tenant(tenant_id)
        return {
            kind: {"limit": tenant.quotas.get(kind), "used": self._used(tenant_id, kind)}
            for kind in ("images", "snapshots")
        }

    def _used(self, tenant_id: str, quota: str) -> int:
        return len(self.find(tenant_id, {"images": "image", "snapshots": "snapshot"}[quota]))

    def room_for(self, tenant_id: str, quota: str, wanted: int = 1) -> bool:
        limit = self.tenant(tenant_id).quotas.get(quota)
        return limit is None or self._used(tenant_id, quota) + wanted <= limit

    # faults ------------------------------------------------------------
    def arm_fault(self, tenant_id: str, operation: str, status: int, count: int, code: str | None = None) -> Fault:
        with self.lock:
            self.tenant(tenant_id)
            fault = Fault(f"f-{uuid.uuid4().hex[:12]}", tenant_id, operation, status, count, code)
            self.faults.append(fault)
            return fault

    def take_fault(self, tenant_id: str, operation: str) -> Fault | None:
        """The armed fault that answers this call, if one matches (and use it up)."""
        with self.lock:
            for fault in self.faults:
                if fault.tenant_id == tenant_id and fault.operation in (operation, "*") and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
            return None

    # jobs --------------------------------------------------------------
    def start_job(self, tenant_id: str, seconds: float, finish: Callable[[bool], None], job_id: str | None = None) -> Job:
        with self.lock:
            job = Job(job_id or uuid.uuid4().hex, tenant_id, time.monotonic() + seconds, finish)
            self.jobs[job.id] = job
            heapq.heappush(self._due.setdefault(tenant_id, []), (job.due, next(self._order), job.id))
            return job

    def advance(self, tenant_id: str | None = None, *, now: float | None = None,
                everything: bool = False, success: bool = True) -> int:
        """Finish the jobs that are due (or all of a tenant's when `everything`)."""
        moment = time.monotonic() if now is None else now
        finished = 0
        with self.lock:
            tenants = [tenant_id] if tenant_id else list(self._due)
            for tenant in tenants:
                queue = self._due.get(tenant)
                while queue and (everything or queue[0][0] <= moment):
                    job = self.jobs.pop(heapq.heappop(queue)[2], None)  # before finishing: a job ends once
                    if job is not None:
                        job.finish(success if everything else True)
                        finished += 1
                if not queue:
                    self._due.pop(tenant, None)
        return finished
