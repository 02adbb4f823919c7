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

import fcntl
import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest
import requests

from imagecert import signing
from imagecert.client import ApiClient, Exchange, Unreachable
from imagecert.contracts import load_contract, operations
from imagecert.target import Target

NOT_VERIFIED = "not verified: "
CONTROL_TIMEOUT_S = 30.0
LEASE_POLL_S = 0.5  # how often a waiting test looks for a free resource, or an image for its end


class ProvisioningError(RuntimeError):
    """The control protocol refused or failed a call the test needed."""


def not_verified(reason: str) -> None:
    pytest.skip(NOT_VERIFIED + reason)


T = TypeVar("T")


def poll(read: Callable[[], T], done: Callable[[T], bool], deadline: float, interval_s: float) -> T:
    """The one polling loop: `read()` every `interval_s` until `done` says so or the
    monotonic clock passes `deadline`; the last thing read."""
    while True:
        value = read()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval_s)


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
    key = signing.REGISTRY[changed.get("scheme", "none")].secret
    if key and changed.get(key):
        changed[key] = changed[key][::-1] + "x"
    return changed


# The statuses with which a control endpoint says it does not serve a call: an extension
# of the outline (interfaces.md, "Control protocol (v1)") that this mock leaves out.
NOT_SERVED = frozenset({404, 405, 501})


class Control:
    """A thin client of the control protocol.

    The outline's v1 calls are all a mock must serve. Anything more is an extension
    (`contracts/control.openapi.yaml` marks each with `x-imagecert-extension`): the
    suite uses one only when `GET /` announces it in `extensions`, or, where the mock
    announces nothing, when the call answers; never is a missing extension a failure.
    """

    _NOT_ASKED = object()

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        # Asked once per test (per World), not per run: what a test sends stays the same
        # whatever ran before it, so its recording replays alone.
        self._announced: Any = self._NOT_ASKED
        self._unserved: set[str] = set()

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self._send(method, path, body, params)
        if response.status_code >= 300:
            raise ProvisioningError(
                f"control protocol {method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def _send(self, method: str, path: str, body: Any, params: dict[str, str] | None) -> requests.Response:
        try:
            return self.session.request(method, self.url + path, json=body, params=params, timeout=CONTROL_TIMEOUT_S)
        except requests.RequestException as error:
            raise Unreachable(f"control protocol {method} {self.url}{path}: no answer ({error.__class__.__name__})") from None

    def announced(self) -> frozenset[str] | None:
        """The extensions `GET /` names, or None where the mock announces nothing."""
        if self._announced is self._NOT_ASKED:
            self._announced = self._discover()
        return self._announced

    def _discover(self) -> frozenset[str] | None:
        response = self._send("GET", "/", None, None)
        try:
            names = response.json().get("extensions") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            names = None
        if not isinstance(names, list):
            return None
        return frozenset(name for name in names if isinstance(name, str))

    def extension(self, name: str, method: str, path: str, body: Any = None,
                  params: dict[str, str] | None = None) -> tuple[bool, Any]:
        """(served, answer) of an extension call: (False, None) where the mock does not serve it."""
        announced = self.announced()
        if announced is not None and name not in announced:
            return False, None
        if name in self._unserved:
            return False, None
        response = self._send(method, path, body, params)
        if response.status_code in NOT_SERVED and announced is None:
            self._unserved.add(name)
            return False, None
        if response.status_code >= 300:
            raise ProvisioningError(
                f"control protocol {method} {path} (extension {name!r}, announced) answered "
                f"{response.status_code}: {response.text[:300]}"
            )
        return True, response.json() if response.content else None


@dataclass(frozen=True)
class _ImageRead:
    """How a dialect's own read operation shows an image: where its id goes, where the
    status is in the answer (an image the read does not find is gone)."""

    operation: str
    where: str  # path | form
    name: str
    status: tuple[str | int, ...]
    scope: tuple[tuple[str, str], ...] = ()


# The supporting read operation each contract gives for the images createImage makes.
IMAGE_READS = {
    "huawei-ims": _ImageRead("glanceShowImage", "path", "image_id", ("status",)),
    "huawei-nova": _ImageRead("showImage", "path", "image_id", ("image", "status")),
    "jdcloud-vm": _ImageRead("describeImage", "path", "imageId", ("result", "image", "status")),
    "apsara-ecs": _ImageRead("DescribeImages", "form", "ImageId", ("Images", "Image", 0, "Status"),
                             (("RegionId", "region_id"),)),
}
# Where a contract gives a read of the instance, the task it shows must be null (none in
# progress) before a leased instance goes back: (operation, path parameter, where the task is).
INSTANCE_TASK_READS = {
    "huawei-nova": ("showServer", "server_id", ("server", "OS-EXT-STS:task_state")),
}
MAKING_KEYS = ("making", "in-progress", "pending")  # the contracts' words for "not done yet"


def _making_states(dialect: str) -> set[str]:
    """The image status words that mean "still being made", from the contract's Image schema."""
    schema = load_contract(dialect)["components"]["schemas"]["Image"]["properties"]
    states = next(v["x-imagecert-states"] for v in schema.values() if "x-imagecert-states" in v)
    words: set[str] = set()
    for key in MAKING_KEYS:
        value = states.get(key, [])
        words |= {value} if isinstance(value, str) else set(value)
    return words


class _Lease:
    """One pooled resource held by one test: an exclusive lock on a file named after it,
    so that threads, xdist workers and other runs against the same target share the pool
    (the lock goes with the process that dies holding it)."""

    def __init__(self, handle: Any, role: str, resource_id: str):
        self.handle, self.role, self.resource_id = handle, role, resource_id
        self.task_known, self.task = False, None  # its task when leased, where a read shows it

    def release(self) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


class _Pools:
    """Static fixture pools lent out one resource per test: a test leases one resource of a
    role, and it goes back when the test ends and the resource is idle again. Any number of
    tests run from a pool of one per role; a test that needs a busy role waits for it."""

    quarantined: list[_Lease] = []  # resources that never became idle: out of the pool for the run

    @staticmethod
    def directory(target: Target) -> Path:
        key = hashlib.sha256(f"{target.dialect} {target.base_url} {target.scope}".encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / "imagecert-leases" / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    @classmethod
    def try_lease(cls, target: Target, role: str, resource_id: str) -> _Lease | None:
        name = hashlib.sha256(f"{role} {resource_id}".encode()).hexdigest()[:24] + ".lock"
        handle = open(cls.directory(target) / name, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return _Lease(handle, role, resource_id)


class World:
    def __init__(self, target: Target, options: dict[str, Any] | None = None):
        self.target = target
        self.dialect = target.dialect
        self.options = dict(options or {})
        self.control = Control(target.control_url) if target.mode == "control" else None
        self._cleanups: list[Callable[[], None]] = []
        self._images: list[str] = []  # what this test made (static mode waits for each to end)
        self._leases: dict[str, _Lease] = {}  # static mode: role -> the resource this test holds
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

    @property
    def max_images(self) -> int | None:
        """How many images one test may make where it would otherwise make many (fuzzing's
        accepted requests): the target file's [provisioning] max_images in static mode,
        unbounded (None) in control mode, where every tenant is fresh."""
        return None if self.controlled else self.target.max_images

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
        """A client of another tenant with `read-only` or `none` permissions (static mode: the
        target file's optional [auth.read_only] credential, for `read-only`)."""
        if self.control is None:
            if permissions == "read-only" and self.target.read_only_auth is not None:
                return self.client(dict(self.target.read_only_auth))
            not_verified(f"the target file gives no credential with {permissions} permissions"
                         + (" ([auth.read_only])" if permissions == "read-only" else ""))
        tenant = self.control.call("POST", "/tenants", {"dialect": self.dialect, "permissions": permissions})
        return self.client(dict(tenant["auth"]), dict(tenant["scope"]))

    # resources ---------------------------------------------------------------
    def make(self, kind: str, role: str | None = None, **attributes: Any) -> str:
        """A resource in the state asked for: `attributes` in control mode, the pool
        of `role` in static mode."""
        if self.control is None:
            if role is None:
                not_verified(f"only the control protocol can make this {kind}")
            return self._lease(role)
        made = self.control.call("POST", "/resources", {"tenant_id": self.tenant_id, "kind": kind, "attributes": attributes})
        return made["id"]

    def _lease(self, role: str) -> str:
        """A resource of `role` from the target file's pool, held until the test ends. A test
        that asks for the role again gets the same resource back once what it made is gone."""
        pool = self.target.fixtures.get(role, [])
        if not pool:
            not_verified(f"the target file's [fixtures] has no {role!r}")
        if role in self._leases:
            self._quiesce()
            return self._leases[role].resource_id
        def free() -> _Lease | None:
            return next((lease for lease in (_Pools.try_lease(self.target, role, i) for i in pool) if lease), None)

        lease = poll(free, lambda lease: lease is not None, time.monotonic() + self.target.idle_timeout_s,
                     LEASE_POLL_S)
        if lease is None:
            not_verified(f"no {role!r} of the target file's [fixtures] came free within "
                         f"[provisioning] idle_timeout_s ({self.target.idle_timeout_s:.0f} s)")
        self._leases[role] = lease
        lease.task_known, lease.task = self._task_of(lease)
        return lease.resource_id

    def read(self, resource_id: str) -> dict[str, Any]:
        """A resource's attributes, images made through the API included."""
        self._need_control("reading a resource's state")
        return self.control.call("GET", f"/resources/{resource_id}")["attributes"]

    def patch(self, resource_id: str, **attributes: Any) -> None:
        self._need_control("changing a resource's state")
        self.control.call("PATCH", f"/resources/{resource_id}", {"attributes": attributes})

    def resources(self, kind: str) -> list[dict[str, Any]] | None:
        """Every resource of a kind in this tenant; None where that is unknowable: static
        mode, or a mock that does not serve the listing (an extension of the outline)."""
        if self.control is None:
            return None
        served, answer = self.control.extension("resources.list", "GET", "/resources",
                                                params={"tenant_id": self.tenant_id, "kind": kind})
        return answer["resources"] if served else None

    def listed(self, kind: str, what: str) -> list[dict[str, Any]]:
        """`resources(kind)` for a test that cannot go on without it: "not verified" otherwise."""
        found = self.resources(kind)
        if found is None:
            not_verified(f"{what} needs the control protocol's resource listing "
                         "(static mode, or an extension this target does not serve)")
        return found

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
        self._images.append(image_id)
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
        """Delete what the test made and give back what it leased; a failing delete never
        hides the test's own result. A leased resource goes back to its pool only once idle
        again; one that is not within the deadline stays out of the pool for the run."""
        try:
            idle = self._quiesce()
        except Exception:  # noqa: BLE001 - teardown must not turn the test's verdict into an error
            idle = False
        for lease in self._leases.values():
            if idle:
                lease.release()
            else:
                _Pools.quarantined.append(lease)
        self._leases.clear()

    def _quiesce(self) -> bool:
        """Static mode: wait for each image the test made to end, delete it, and wait until the
        dialect's own read no longer finds it; then the resources it came from are idle again
        (their task done). Control mode: delete. False if the deadline passed first."""
        idle = True
        if self.control is None:
            deadline = time.monotonic() + self.target.idle_timeout_s
            idle = all(self._wait_for_image(i, deadline, gone=False) for i in self._images)
        else:
            self._sweep()
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Unreachable:
                idle = False
        if self.control is None:
            idle = all(self._wait_for_image(i, deadline, gone=True) for i in self._images) and idle
            # even a test that registered nothing may have started a task (a 202 it did not expect)
            idle = all(self._wait_for_task_back(lease, deadline) for lease in self._leases.values()) and idle
        self._cleanups.clear()
        self._images.clear()
        return idle

    def _sweep(self) -> None:
        """Control mode: the test's tenant is its own, so every image in it is the test's —
        the ones it did not register too (a fuzzed create, a 202 it did not expect, a job
        that ended after it stopped looking). Its jobs are settled, then each image deleted.
        Without the resource listing (an extension) only the registered ones are."""
        try:
            self.settle()
            images = self.resources("image") or []
        except (ProvisioningError, Unreachable):
            return
        for image in images:
            if image["id"] not in self._images:
                self.made_image(image["id"])

    def _wait_for_image(self, image_id: str, deadline: float, gone: bool) -> bool:
        """Poll the dialect's image read until the image is no longer being made (or, with
        `gone`, until it is not found); False if the deadline passes first."""
        how, making = IMAGE_READS[self.dialect], _making_states(self.dialect)
        scope = {field: self.scope.get(key) for field, key in how.scope}

        def ended(status: str | None) -> bool:
            return status is None or (not gone and bool(status) and status not in making)

        return ended(poll(lambda: self._image_status(how, {how.name: image_id, **scope}), ended, deadline,
                          LEASE_POLL_S))

    def _task_of(self, lease: _Lease) -> tuple[bool, Any]:
        """(known, task) of a leased instance, through the contract's instance read if it has one."""
        if not lease.role.startswith("instance.") or self.dialect not in INSTANCE_TASK_READS:
            return False, None
        operation, name, path = INSTANCE_TASK_READS[self.dialect]
        try:
            response = self.api.call(operation, path={name: lease.resource_id})
            node: Any = response.json() if response.status_code == 200 else {}
            for step in path:
                node = node[step]
        except (Unreachable, ValueError, KeyError, TypeError):
            return False, None
        return True, node

    def _wait_for_task_back(self, lease: _Lease, deadline: float) -> bool:
        """Poll the instance read until its task is what it was when leased (the test's done)."""
        if not lease.task_known:
            return True
        back = (True, lease.task)
        return poll(lambda: self._task_of(lease), lambda task: task == back, deadline, LEASE_POLL_S) == back

    def _image_status(self, how: _ImageRead, arguments: dict[str, Any]) -> str | None:
        """An image's status word, None if the read does not find it, "" if it cannot say now."""
        try:
            response = self.api.call(how.operation, **{how.where: arguments})
        except Unreachable:
            return ""  # unknown: keep polling until the deadline
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            return ""
        try:
            node: Any = response.json()
            for step in how.status:
                node = node[step]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        return str(node)
