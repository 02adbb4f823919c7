"""Provisioning: the account and resources one test runs against.

A test asks its `World` for what it needs — `world.make("instance", role="instance.busy",
status="running", task="resize")` — and gets an id. Two implementations stand behind
that one interface:

* control mode calls the target's control protocol (contracts/control.openapi.yaml):
  a fresh tenant per test, resources in exactly the state asked for, quotas, faults,
  settled jobs, and reads of what the API made;
* static mode takes pre-made resource ids from the target file's `[fixtures]` pools by
  role; what a pool cannot give (or what only the control protocol can arrange) skips
  the test as "not verified: …", which the report never counts as passed.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import pytest
import requests

from imagecert import signing
from imagecert.client import ApiClient, Exchange, Unreachable
from imagecert.contracts import operations
from imagecert.target import Target

NOT_VERIFIED = "not verified: "
CONTROL_TIMEOUT_S = 30.0


class ProvisioningError(RuntimeError):
    """The control protocol refused or failed a call the test needed."""


def not_verified(reason: str) -> None:
    pytest.skip(NOT_VERIFIED + reason)


def auth_for(target_auth: dict[str, str], scope: dict[str, str]) -> requests.auth.AuthBase:
    return signing.client_auth(
        target_auth.get("scheme", "none"),
        access_key=target_auth.get("access_key"),
        secret_key=target_auth.get("secret_key"),
        token=target_auth.get("token"),
        project_id=scope.get("project_id"),
        region_id=scope.get("region_id"),
    )


def wrong_secret(target_auth: dict[str, str]) -> dict[str, str]:
    """The same credentials with the secret (or token) changed: a signature that cannot verify."""
    changed = dict(target_auth)
    for key in ("secret_key", "token"):
        if changed.get(key):
            changed[key] = changed[key][::-1] + "x"
    return changed


class Control:
    """A thin client of the control protocol."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        try:
            response = self.session.request(method, self.url + path, json=body, params=params, timeout=CONTROL_TIMEOUT_S)
        except requests.RequestException as error:
            raise Unreachable(f"control protocol {method} {self.url}{path}: no answer ({error.__class__.__name__})") from None
        if response.status_code >= 300:
            raise ProvisioningError(
                f"control protocol {method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None


class _Pools:
    """Static fixture pools, split between xdist workers so no two tests share an id."""

    lock = threading.Lock()
    taken: dict[str, int] = {}

    @classmethod
    def take(cls, target: Target, role: str) -> str | None:
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        mine = target.fixtures.get(role, [])[worker::workers]
        key = f"{target.name}:{role}"
        with cls.lock:
            index = cls.taken.get(key, 0)
            if index >= len(mine):
                return None
            cls.taken[key] = index + 1
            return mine[index]


class World:
    def __init__(self, target: Target, options: dict[str, Any] | None = None):
        self.target = target
        self.dialect = target.dialect
        self.options = dict(options or {})
        self.control = Control(target.control_url) if target.mode == "control" else None
        self._cleanups: list[Callable[[], None]] = []
        self._exchanges: list[Exchange] = []  # every client of this world records here
        if self.control is not None:
            tenant = self.control.call("POST", "/tenants", {"dialect": self.dialect, "permissions": "full"})
            self.tenant_id = tenant["tenant_id"]
            self.auth, self.scope = dict(tenant["auth"]), dict(tenant["scope"])
        else:
            self.tenant_id = None
            self.auth, self.scope = dict(target.auth), dict(target.scope)
        self.api = self.client(self.auth)

    @property
    def controlled(self) -> bool:
        return self.control is not None

    def option(self, name: str) -> Any:
        return self.options.get(name)

    # clients -----------------------------------------------------------------
    def client(self, auth: dict[str, str], scope: dict[str, str] | None = None) -> ApiClient:
        scope = scope or self.scope
        return self._track(ApiClient(self.dialect, self.target.base_url, scope, auth_for(auth, scope)))

    def _track(self, client: ApiClient) -> ApiClient:
        client.exchanges = self._exchanges
        return client

    def exchanges(self) -> list[Exchange]:
        """What this test sent and got back, secrets redacted (the last few)."""
        return self._exchanges[-6:]

    def client_with_wrong_secret(self) -> ApiClient:
        if self.auth.get("scheme", "none") == "none":
            not_verified("the target authenticates nothing (auth scheme none)")
        return self.client(wrong_secret(self.auth))

    def client_without_credentials(self) -> ApiClient:
        if self.auth.get("scheme", "none") == "none":
            not_verified("the target authenticates nothing (auth scheme none)")
        return self._track(ApiClient(self.dialect, self.target.base_url, self.scope, signing.NoAuth()))

    def client_as(self, permissions: str) -> ApiClient:
        """A client of another tenant with `read-only` or `none` permissions."""
        if self.control is None:
            not_verified(f"static mode has no tenant with {permissions} permissions")
        tenant = self.control.call("POST", "/tenants", {"dialect": self.dialect, "permissions": permissions})
        return self.client(dict(tenant["auth"]), dict(tenant["scope"]))

    # resources ---------------------------------------------------------------
    def make(self, kind: str, role: str | None = None, **attributes: Any) -> str:
        """A resource in the state asked for: `attributes` in control mode, the pool
        of `role` in static mode."""
        if self.control is None:
            if role is None:
                not_verified(f"only the control protocol can make this {kind}")
            found = _Pools.take(self.target, role)
            if found is None:
                not_verified(f"the target file's [fixtures] has no (more) {role!r}")
            return found
        made = self.control.call("POST", "/resources", {"tenant_id": self.tenant_id, "kind": kind, "attributes": attributes})
        return made["id"]

    def read(self, resource_id: str) -> dict[str, Any]:
        """A resource's attributes, images made through the API included."""
        self._need_control("reading a resource's state")
        return self.control.call("GET", f"/resources/{resource_id}")["attributes"]

    def patch(self, resource_id: str, **attributes: Any) -> None:
        self._need_control("changing a resource's state")
        self.control.call("PATCH", f"/resources/{resource_id}", {"attributes": attributes})

    def resources(self, kind: str) -> list[dict[str, Any]] | None:
        """Every resource of a kind in this tenant; None in static mode (unknowable)."""
        if self.control is None:
            return None
        return self.control.call("GET", "/resources", params={"tenant_id": self.tenant_id, "kind": kind})["resources"]

    def quota(self, **limits: int) -> None:
        self._need_control("setting quotas")
        self.control.call("PUT", f"/tenants/{self.tenant_id}/quotas", limits)

    def fault(self, operation: str, status: int, count: int = 1) -> None:
        self._need_control(f"making the target answer {status}")
        self.control.call("POST", "/faults", {"tenant_id": self.tenant_id, "operation": operation,
                                             "status": status, "count": count})

    def settle(self) -> None:
        """Finish every pending asynchronous job now (static mode: nothing to do; the
        suites then poll with a deadline)."""
        if self.control is not None:
            self.control.call("POST", "/jobs/settle", {"tenant_id": self.tenant_id})

    def _need_control(self, what: str) -> None:
        if self.control is None:
            not_verified(f"{what} needs the control protocol (static mode)")

    # clean-up ----------------------------------------------------------------
    def made_image(self, image_id: str) -> str:
        """Remember an image the test made, to delete it at teardown through the
        contract's clean-up operation (`x-imagecert-cleanup`, see contracts/README.md)."""
        for op in operations(self.dialect).values():
            how = op.spec.get("x-imagecert-cleanup")
            if how:
                scope = {field: self.scope.get(key) for field, key in (how.get("scope") or {}).items()}
                where = {"path": "path", "form": "form", "json": "json"}[how["in"]]
                self._cleanups.append(
                    lambda op=op, where=where, name=how["name"], scope=scope:
                    self.api.call(op.operation_id, **{where: {name: image_id, **scope}})
                )
        return image_id

    def close(self) -> None:
        """Delete what the test made; a failing delete never hides the test's own result."""
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Unreachable:
                pass
        self._cleanups.clear()
