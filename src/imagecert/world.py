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

Every image a test makes is deleted when it ends: each client tells its world of every
create's answer before the test sees it (the id recorded even if the test then fails), and
control-mode teardown deletes whatever else the test's own tenant holds. Static mode shares
the account with whatever else lives there, so it also keeps, per run,

* a name prefix (`imagecert-<run id>-`, `image_name()`) on every image the suites name;
* a journal on disk of what the run made (`_Journal`), written as each answer comes in;
  at the end of the session whatever it still lists is deleted, and the next run against
  the same target deletes what a run that died (SIGKILL) left in its journal;
* where the contract has a listing of images (Apsara's DescribeImages), a sweep at the end of
  the session, and of the dead runs' prefixes at the start of the next, for images whose name
  carries the prefix: what a create killed in flight made, whose id never arrived. The other
  contracts give no image listing (IMS: job and image reads; Nova and JD: an image read), so
  there the journal is all there is. (SIGINT and SIGTERM wait for a create's answer:
  `imagecert.interrupts`.)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from imagecert import secrets, signing
from imagecert.client import ApiClient, Exchange, Unreachable, prepare
from imagecert.contracts import load_contract, operations
from imagecert.target import Target

NOT_VERIFIED = "not verified: "
CONTROL_TIMEOUT_S = 30.0
LEASE_POLL_S = 0.5  # how often a waiting test looks for a free resource, or an image for its end


IMAGE_PREFIX = "imagecert-"
MAX_LISTED_PAGES = 100  # a prefix sweep reads at most this many pages of the image listing
_run: dict[str, str] = {}


def start_run(run_id: str | None = None) -> str:
    """Begin a run: a new run id (or the one given), which every image name of the run
    carries. Each pytest process is a run of its own (each xdist worker too), so that the
    sweep of one's prefix never reaches images another is still using."""
    _run["id"] = run_id or uuid.uuid4().hex[:8]
    return _run["id"]


def run_id() -> str:
    return _run.get("id") or start_run()


def image_prefix(run: str | None = None) -> str:
    """What the name of every image of a run begins with."""
    return f"{IMAGE_PREFIX}{run or run_id()}-"


def image_name(label: str, longest: int | None = None) -> str:
    """A unique image name of this run: the run's prefix, the label (shortened to fit
    `longest` characters, the contract's maxLength) and a random part."""
    unique = uuid.uuid4().hex[:6]
    room = None if longest is None else max(0, longest - len(image_prefix()) - len(unique) - 1)
    label = label[:room] if room is not None else label
    return f"{image_prefix()}{label}-{unique}" if label else f"{image_prefix()}{unique}"


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
            return self.session.send(prepare(self.session, method, self.url + path, json=body, params=params),
                                     timeout=CONTROL_TIMEOUT_S)
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
@dataclass(frozen=True)
class _Create:
    """Where the answer of a dialect's create names what it made: the image's id (a body
    field, or Nova's Location header), or a job that names the image when it ends (IMS).
    Apsara's seed answers no ImageId (APS-D001): the request's name finds the image then."""

    operation: str
    image: tuple[str, ...] = ()
    location: bool = False
    job: tuple[str, ...] = ()
    name_field: str | None = None  # the form field that names the image (a lookup by name)


CREATES = {
    "huawei-ims": _Create("createWholeImage", job=("job_id",)),
    "huawei-nova": _Create("createImage", image=("image_id",), location=True),
    "jdcloud-vm": _Create("createImage", image=("result", "imageId")),
    "apsara-ecs": _Create("CreateImage", image=("ImageId",), name_field="ImageName"),
}
# How an IMS job names its image once it has succeeded: the job read, its path parameter,
# where the image id is.
JOB_READS = {"huawei-ims": ("showJob", "job_id", ("entities", "image_id"))}
# Where a contract lists images (with paging), the listing the prefix sweep reads:
# (operation, form fields from the scope, page field, page size field and size, where the
# images are in the answer, each image's id and name fields).
IMAGE_LISTS = {
    "apsara-ecs": ("DescribeImages", (("RegionId", "region_id"),), "PageNumber", ("PageSize", 100),
                   ("Images", "Image"), "ImageId", "ImageName"),
}


def _dig(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


# Where a contract gives a read of the instance, the task it shows must be null (none in
# progress) before a leased instance goes back: (operation, path parameter, where the task is).
INSTANCE_TASK_READS = {
    "huawei-nova": ("showServer", "server_id", ("server", "OS-EXT-STS:task_state")),
}
MAKING_KEYS = ("making", "in-progress", "pending")  # the contracts' words for "not done yet"


def _job_states(dialect: str) -> tuple[set[str], str]:
    """(the words of a job still running, the word of one that succeeded), from the contract."""
    schema = load_contract(dialect)["components"]["schemas"]["Job"]["properties"]["status"]
    states = schema["x-imagecert-states"]
    return set(states["pending"]), states["succeeded"]


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


class _Journal:
    """What one process of a run made on one static target, on disk as each create's answer
    comes in (an image id, an IMS job, an Apsara name, the run's prefix), and what of it is
    gone since. The process holds a lock on its file while it runs: a file nobody holds is a
    dead run's, and the next run deletes what it lists (`recover`)."""

    open_journals: dict[Path, "_Journal"] = {}  # one per target directory, in this process

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "a", encoding="utf-8")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        self.entries: dict[tuple[str, str], bool] = {}  # (kind, value) -> still outstanding

    @classmethod
    def of(cls, target: Target) -> "_Journal":
        directory = _Pools.directory(target) / "journal"
        found = cls.open_journals.get(directory)
        if found is None:
            directory.mkdir(parents=True, exist_ok=True)
            found = cls.open_journals[directory] = cls(directory / f"{run_id()}.{os.getpid()}.jsonl")
            if target.dialect in IMAGE_LISTS:  # where a listing can find the run's images by name
                found.made("prefix", image_prefix())
        return found

    @classmethod
    def close_of(cls, target: Target) -> None:
        journal = cls.open_journals.pop(_Pools.directory(target) / "journal", None)
        if journal is not None:
            journal.close()

    def _write(self, entry: dict[str, str]) -> None:
        self.handle.write(json.dumps(entry) + "\n")
        self.handle.flush()  # in the kernel's hands: it survives the process being killed

    def made(self, kind: str, value: str) -> None:
        if (kind, value) not in self.entries:
            self.entries[(kind, value)] = True
            self._write({"made": value, "as": kind})

    def done(self, kind: str, value: str) -> None:
        if self.entries.get((kind, value)):
            self.entries[(kind, value)] = False
            self._write({"done": value, "as": kind})

    def outstanding(self, kind: str) -> list[str]:
        return [value for (k, value), left in self.entries.items() if k == kind and left]

    def close(self) -> None:
        """Done with: removed if nothing it lists is left, else kept for the next run."""
        if not any(self.entries.values()):
            self.path.unlink(missing_ok=True)
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()

    @staticmethod
    def read(handle: Any) -> dict[tuple[str, str], bool]:
        entries: dict[tuple[str, str], bool] = {}
        for line in handle.read().splitlines():
            try:
                entry = json.loads(line)
                key = (str(entry["as"]), str(entry.get("made", entry.get("done"))))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line cut short by the kill
            entries[key] = "made" in entry
        return entries


class World:
    def __init__(self, target: Target, options: dict[str, Any] | None = None):
        self.target = target
        self.dialect = target.dialect
        self.options = dict(options or {})
        self.control = Control(target.control_url) if target.mode == "control" else None
        self._cleanups: list[Callable[[], None]] = []
        self._images: list[str] = []  # what this test made (static mode waits for each to end)
        self._jobs: list[str] = []  # IMS: the jobs it started, whose image is known when they end
        self._names: list[str] = []  # Apsara: the names of images whose create answered no id
        self._prefixes: list[str] = []  # a sweep: the run prefixes whose images are to go
        self._create = CREATES[self.dialect]
        create = operations(self.dialect)[self._create.operation]
        self._create_method = create.method
        self._create_path = re.compile(re.escape(urlsplit(target.base_url).path.rstrip("/")) + re.sub(
            r"\\\{[^}]+\\\}", "[^/]+", re.escape(create.path)) + r"/?\Z")
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
    def signed_by(self) -> dict[str, Any]:
        """Whose credentials sign this test's requests, as a report may show them (secrets.signer):
        in control mode the test's own tenant's, in static mode the target file's [auth]."""
        return {**secrets.signer(self.auth), "tenant": self.tenant_id,
                "whose": "tenant" if self.controlled else "target file"}

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
        # weakly: a world no test holds any more is freed at once, and its leases with it
        client.observer = weakref.proxy(self)
        return client

    # what the creates make: recorded as each answer comes in --------------------------
    def makes_images(self, method: str, url: str) -> bool:
        """Whether a request is the dialect's create (its answer names what it made). In
        static mode the run's journal exists before the first create goes out, with the
        run's prefix in it: what a create killed in flight made, a prefix sweep finds."""
        creates = method.upper() == self._create_method and bool(self._create_path.match(urlsplit(url).path))
        if creates:
            self._journal()
        return creates

    def answered(self, prepared: requests.PreparedRequest, response: requests.Response) -> None:
        """A create's answer, before the test sees it: the image (or job, or name) it names
        is recorded for teardown, even if the test then fails or the run is stopped."""
        if not 200 <= response.status_code < 300:
            return
        how = self._create
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        found = _found(body, how.image)
        if not found and how.location and response.headers.get("Location"):
            found = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        if found:
            self.made_image(found)
        elif _found(body, how.job):
            self._started_job(_found(body, how.job))
        elif how.name_field:
            name = _form_field(prepared.body, how.name_field)
            if name:
                self._named(name)

    def _journal(self) -> _Journal | None:
        return _Journal.of(self.target) if self.control is None else None

    def _started_job(self, job_id: str) -> None:
        if job_id not in self._jobs:
            self._jobs.append(job_id)
            if self._journal():
                self._journal().made("job", job_id)

    def _named(self, name: str) -> None:
        if name not in self._names:
            self._names.append(name)
            if self._journal():
                self._journal().made("name", name)

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
            self.quiesce()
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

    def fault(self, operation: str, status: int, count: int = 1, code: str | None = None) -> None:
        """Arm a fault: the next `count` calls of `operation` answer `status`. `code` picks
        one of several documented rows of that status: the extension faults.code, sent only
        to a mock that announces it (a field a mock does not know may be ignored, so trying
        it proves nothing); elsewhere the test is "not verified"."""
        self._need_control(f"making the target answer {status}")
        body = {"tenant_id": self.tenant_id, "operation": operation, "status": status, "count": count}
        if code is not None:
            if "faults.code" not in (self.control.announced() or ()):
                not_verified(f"answering HTTP {status} with the code {code} needs the control protocol "
                             "extension faults.code (POST /faults with a code), which this target does not announce")
            body["code"] = code
        self.control.call("POST", "/faults", body)

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
        if image_id in self._images:
            return image_id
        self._images.append(image_id)
        if self._journal():
            self._journal().made("image", image_id)
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
            idle = self.quiesce()
        except Exception:  # noqa: BLE001 - teardown must not turn the test's verdict into an error
            idle = False
        for lease in self._leases.values():
            if idle:
                lease.release()
            else:
                _Pools.quarantined.append(lease)
        self._leases.clear()

    def quiesce(self) -> bool:
        """Static mode: wait for each image the test made to end, delete it, and wait until the
        dialect's own read no longer finds it; then the resources it came from are idle again
        (their task done). Control mode: delete. False if the deadline passed first."""
        idle = True
        if self.control is None:
            deadline = time.monotonic() + self.target.idle_timeout_s
            idle = self._resolve(deadline)
            for image_id in list(self._images):
                idle = self._wait_for_image(image_id, deadline, gone=False) and idle
        else:
            self._sweep()
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Unreachable:
                idle = False
        if self.control is None:
            for image_id in self._images:
                if self._wait_for_image(image_id, deadline, gone=True):
                    self._journal().done("image", image_id)
                else:
                    idle = False
            # even a test that registered nothing may have started a task (a 202 it did not expect)
            idle = all(self._wait_for_task_back(lease, deadline) for lease in self._leases.values()) and idle
        self._cleanups.clear()
        self._images.clear()
        return idle

    def _resolve(self, deadline: float) -> bool:
        """Static mode: the images behind what the creates named other than an image id — an
        IMS job (followed until it ends), an Apsara name (looked up), a run prefix (swept,
        where the contract lists images). False if a job had not ended by the deadline."""
        if not (self._jobs or self._names or self._prefixes):
            return True
        ended = True
        journal = self._journal()
        for job_id in list(self._jobs):
            outcome = self._job_outcome(job_id, deadline)
            if outcome is None:
                ended = False
                continue
            if outcome:
                self.made_image(outcome)
            journal.done("job", job_id)
            self._jobs.remove(job_id)
        for name in list(self._names):
            found = self._list_images({IMAGE_LISTS[self.dialect][-1]: name}, pages=1) \
                if self.dialect in IMAGE_LISTS else []
            if found is not None:
                for image_id, _ in found:
                    self.made_image(image_id)
                journal.done("name", name)
                self._names.remove(name)
        if self._prefixes:
            listed = self._list_images({}, pages=MAX_LISTED_PAGES) if self.dialect in IMAGE_LISTS else []
            if listed is not None:  # where the contract lists no image, the journal is all there is
                for image_id, name in listed:
                    if any(name.startswith(prefix) for prefix in self._prefixes):
                        self.made_image(image_id)
                for prefix in self._prefixes:
                    journal.done("prefix", prefix)
                self._prefixes.clear()
        return ended

    def _job_outcome(self, job_id: str, deadline: float) -> str | None:
        """The image a job made once it ended ("" if it made none); None if it had not by the deadline."""
        operation, name, where = JOB_READS[self.dialect]
        pending, succeeded = _job_states(self.dialect)
        while True:
            response = None
            try:
                response = self.api.call(operation, path={name: job_id})
                job = response.json() if response.status_code == 200 else None
            except (Unreachable, ValueError):
                job = None
            status = job.get("status") if isinstance(job, dict) else None
            if isinstance(job, dict) and status not in pending:
                return (_found(job, where) or "") if status == succeeded else ""
            if response is not None and 400 <= response.status_code < 500:
                return ""  # the target knows no such job: nothing to delete
            if time.monotonic() >= deadline:
                return None
            time.sleep(LEASE_POLL_S)

    def _list_images(self, filters: dict[str, str], pages: int) -> list[tuple[str, str]] | None:
        """(id, name) of the images the contract's listing gives, with `filters`, up to
        `pages` pages; None if the listing could not be read."""
        operation, scope, page_field, (size_field, size), where, id_field, name_field = IMAGE_LISTS[self.dialect]
        found: list[tuple[str, str]] = []
        for page in range(1, pages + 1):
            form = {field: self.scope.get(key) for field, key in scope}
            form.update(filters)
            form.update({page_field: str(page), size_field: str(size)})
            try:
                response = self.api.call(operation, form=form)
                images = _dig(response.json(), where) if response.status_code == 200 else None
            except (Unreachable, ValueError, KeyError, TypeError):
                images = None
            if not isinstance(images, list):
                return None
            found += [(str(i.get(id_field)), str(i.get(name_field) or "")) for i in images
                      if isinstance(i, dict) and i.get(id_field)]
            if len(images) < size:
                break
        return found

    def adopt(self, entries: list[tuple[str, str]]) -> None:
        """Take over what a journal lists (a dead run's, or this run's leftovers), to delete it."""
        for kind, value in entries:
            if kind == "image":
                self.made_image(value)
            elif kind == "job":
                self._started_job(value)
            elif kind == "name":
                self._named(value)
            elif kind == "prefix" and value not in self._prefixes:
                self._prefixes.append(value)
                self._journal().made("prefix", value)

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


def _found(body: Any, path: tuple[str, ...]) -> str | None:
    """The non-empty string at `path` in an answer's body, if there is one."""
    if not path:
        return None
    try:
        value = _dig(body, path)
    except (KeyError, IndexError, TypeError):
        return None
    return value if isinstance(value, str) and value else None


def _form_field(body: Any, name: str) -> str | None:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None
    return dict(parse_qsl(body, keep_blank_values=True)).get(name) or None


# runs: what a session does at its start and its end, against a static target -----------
def recover(target: Target) -> int:
    """Delete what dead runs against this target left in their journals (a run killed by
    SIGKILL, or one whose clean-up could not finish): their images, the images of their
    jobs and names, and (where the contract lists images) every image named with their
    prefix. Returns how many journals were taken over. A live run's journal is locked, and
    left alone."""
    directory = _Pools.directory(target) / "journal"
    own = _Journal.open_journals.get(directory)
    taken = 0
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
        if own is not None and path == own.path:
            continue
        try:
            handle = open(path, "r+", encoding="utf-8")
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            left = [key for key, outstanding in _Journal.read(handle).items() if outstanding]
            if left:  # handed to this run's journal first: killed now, the next run finds them there
                _sweep_entries(target, left)
            path.unlink(missing_ok=True)
            taken += 1
        finally:
            handle.close()
    return taken


def finish_run(target: Target) -> list[str]:
    """The end of a session against a static target: whatever this process's journal still
    lists is deleted (what a teardown could not), and, where the contract lists images,
    every image named with the run's prefix. The journal goes if nothing is left; the ids
    still left are returned (and the next run tries again)."""
    journal = _Journal.open_journals.get(_Pools.directory(target) / "journal")
    if journal is None:
        return []
    left = [(kind, value) for (kind, value), outstanding in journal.entries.items() if outstanding]
    if left:
        _sweep_entries(target, left)
    remaining = [value for (kind, value), outstanding in journal.entries.items() if outstanding and kind == "image"]
    _Journal.close_of(target)
    return remaining


def _sweep_entries(target: Target, entries: list[tuple[str, str]]) -> None:
    world = World(target)
    try:
        world.adopt(entries)
        world.quiesce()
    except Exception as error:  # noqa: BLE001 - a sweep never turns a run's verdict into a crash
        print(f"imagecert: could not delete every image left on {target.base_url}: {type(error).__name__}: {error}",
              file=sys.stderr)
