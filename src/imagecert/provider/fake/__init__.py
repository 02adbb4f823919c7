"""The reference provider as a local fake for code written against these clouds' SDKs.

    with imagecert.provider.fake.running() as cloud:
        account = cloud.account("jdcloud-vm", instances=[{"status": "running"}])
        client = account.sdk_client()          # jdcloud-sdk's VmClient, pointed at the fake

Everything an account arranges (resources, quotas, faults, settled jobs) goes through
the control protocol (contracts/control.openapi.yaml) over HTTP, as any client of a
control-mode mock would. Nothing starts at import; the official SDKs are imported only
when a client is asked for, and imagecert does not depend on them.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import requests

DIALECTS = ("huawei-ims", "huawei-nova", "jdcloud-vm", "apsara-ecs")
JOB_SECONDS = 0.2  # jobs end by themselves this soon, so user code that polls finishes fast


class MissingSDK(ImportError):
    """The official SDK a client helper needs is not installed."""


@dataclass
class Account:
    """An isolated tenant of the fake: its endpoint, credentials, scope and the ids made."""

    control_url: str
    endpoint: str
    dialect: str
    tenant_id: str
    auth: dict[str, str]
    scope: dict[str, str]
    instances: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)

    @property
    def region(self) -> str | None:
        return self.scope.get("region_id")

    @property
    def project_id(self) -> str | None:
        return self.scope.get("project_id")

    def _control(self, method: str, path: str, body: Any = None, params: Any = None) -> dict[str, Any]:
        answer = requests.request(method, self.control_url + path, json=body, params=params, timeout=10)
        if answer.status_code >= 300:
            raise RuntimeError(f"control call {method} {path} refused: {answer.status_code} {answer.text}")
        return answer.json() if answer.content else {}

    # arrange ----------------------------------------------------------------
    def make(self, kind: str, **attributes: Any) -> str:
        """A resource (instance, backup, snapshot) in exactly the state given; its id."""
        made = self._control("POST", "/resources", {"tenant_id": self.tenant_id, "kind": kind,
                                                    "attributes": attributes})["id"]
        {"instance": self.instances, "backup": self.backups, "snapshot": self.snapshots}.get(kind, []).append(made)
        return made

    def update(self, resource_id: str, **attributes: Any) -> dict[str, Any]:
        return self._control("PATCH", f"/resources/{resource_id}", {"attributes": attributes})["attributes"]

    def set_quotas(self, **quotas: int) -> dict[str, Any]:
        """set_quotas(images=0): the next createImage is refused as the documents say."""
        return self._control("PUT", f"/tenants/{self.tenant_id}/quotas", quotas)

    def fault(self, operation: str, status: int, count: int = 1, code: str | None = None) -> None:
        """The next `count` calls of `operation` (the contract's operationId, or "*")
        answer `status` with the dialect's documented error body; `code` picks the row
        where the documents give several for one status (JD Cloud's 500 UNKNOWN)."""
        body = {"tenant_id": self.tenant_id, "operation": operation, "status": status, "count": count}
        self._control("POST", "/faults", body if code is None else {**body, "code": code})

    def settle(self, outcome: str = "success") -> int:
        """Finish every pending job now ("success" or "failure"); how many there were."""
        return self._control("POST", "/jobs/settle", {"tenant_id": self.tenant_id, "outcome": outcome})["settled"]

    # look ---------------------------------------------------------------------
    def resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        params = {"tenant_id": self.tenant_id, **({"kind": kind} if kind else {})}
        return self._control("GET", "/resources", params=params)["resources"]

    def images(self) -> list[dict[str, Any]]:
        """The images this account's calls made, as plain data: id plus the attributes
        (status, name, source, disks, az, …)."""
        return [{"id": r["id"], **r["attributes"]} for r in self.resources("image")]

    def read(self, resource_id: str) -> dict[str, Any]:
        return self._control("GET", f"/resources/{resource_id}")["attributes"]

    # the official SDKs --------------------------------------------------------
    def sdk_client(self, **options: Any) -> Any:
        """A ready client of this dialect's official SDK (see imagecert.provider.fake.sdk)."""
        from imagecert.provider.fake import sdk

        return sdk.client(self, **options)


class Cloud:
    """A running fake: all four dialects and the control protocol on one loopback port."""

    def __init__(self, running: Any):
        self._running = running
        self.base_url: str = running.base_url
        self.control_url: str = running.control_url

    def account(self, dialect: str, *, instances: list[dict[str, Any]] = (), backups: list[dict[str, Any]] = (),
                snapshots: list[dict[str, Any]] = (), permissions: str = "full") -> Account:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}: one of {', '.join(DIALECTS)}")
        made = requests.post(self.control_url + "/tenants", json={"dialect": dialect, "permissions": permissions},
                             timeout=10)
        made.raise_for_status()
        tenant = made.json()
        account = Account(self.control_url, self.base_url, dialect, tenant["tenant_id"], tenant["auth"],
                          tenant["scope"])
        for kind, wanted in (("instance", instances), ("backup", backups), ("snapshot", snapshots)):
            for attributes in wanted:
                account.make(kind, **attributes)
        return account

    def forget(self, account: Account) -> None:
        requests.delete(f"{self.control_url}/tenants/{account.tenant_id}", timeout=10)

    def stop(self) -> None:
        self._running.stop()


def start(*, job_seconds: float = JOB_SECONDS, defects: tuple[str, ...] = ()) -> Cloud:
    from imagecert.provider.dialect import Settings
    from imagecert.provider.server import start as start_server

    return Cloud(start_server(defects=defects, settings=Settings(job_seconds=job_seconds)))


@contextmanager
def running(*, job_seconds: float = JOB_SECONDS, defects: tuple[str, ...] = ()) -> Iterator[Cloud]:
    """The fake, served on a free loopback port for the duration of the block."""
    cloud = start(job_seconds=job_seconds, defects=defects)
    try:
        yield cloud
    finally:
        cloud.stop()


__all__ = ["Account", "Cloud", "MissingSDK", "running", "start", "DIALECTS"]
