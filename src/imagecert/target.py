"""Target files: which endpoint to certify, how to authenticate, how to provision.

The format is the one outlined in the public interfaces (TOML; see the README). A
target file is user input: every mistake in it is a `TargetError` that says which
key is wrong and what it must be, before any request is sent.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tomli_w

from imagecert.contracts import DIALECTS, auth_schemes
from imagecert.signing import REGISTRY, SCHEMES

MODES = ("control", "static")
# The [auth] keys each scheme needs: the auth registry's.
SCHEME_KEYS = {name: scheme.keys for name, scheme in REGISTRY.items()}
# The [scope] keys each dialect's URLs and bodies need.
SCOPE_KEYS = {
    "huawei-ims": ("project_id",),
    "huawei-nova": ("project_id",),
    "jdcloud-vm": ("region_id",),
    "apsara-ecs": ("region_id",),
}


DEFAULT_IDLE_TIMEOUT_S = 600.0
DEFAULT_MAX_IMAGES = 2
DEFAULT_IMAGE_TIMEOUT_S = 1800.0  # a full-ECS image of Huawei IMS, the slowest of the four
DEFAULT_POLL_S = 2.0


class TargetError(ValueError):
    """A target file that cannot be used, with the reason in one sentence."""


@dataclass(frozen=True)
class Target:
    dialect: str
    base_url: str
    scope: dict[str, str]
    auth: dict[str, str]
    mode: str
    control_url: str | None = None
    tenant_id: str | None = None
    fixtures: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None
    # static mode: how long a leased resource may take to be idle again, and how many
    # images the suites may make where a run would otherwise make many (fuzzing)
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_images: int = DEFAULT_MAX_IMAGES
    # static mode: how long an image (or its job) may take to end, and how often to look
    image_timeout_s: float = DEFAULT_IMAGE_TIMEOUT_S
    poll_s: float = DEFAULT_POLL_S
    # an optional second credential that may read but not create ([auth.read_only])
    read_only_auth: dict[str, str] | None = None

    @property
    def scheme(self) -> str:
        return self.auth.get("scheme", "none")

    @property
    def name(self) -> str:
        return self.path.name if self.path else f"{self.dialect} target"

    def public(self) -> dict[str, Any]:
        """What a report may show of the target: no credential, ever."""
        return {"base_url": self.base_url, "dialect": self.dialect, "mode": self.mode,
                "auth_scheme": self.scheme, "scope": dict(self.scope)}


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TargetError(f"{where}: [{key}] must be a table")
    return value


def _resolve(value: Any, key: str, where: str) -> str:
    """A value, or the environment variable an `env:NAME` value names."""
    if not isinstance(value, str):
        raise TargetError(f"{where}: {key} must be a string")
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise TargetError(f"{where}: {key} reads the environment variable {name}, which is not set")
        return os.environ[name]
    return value


def _url(value: Any, key: str, where: str) -> str:
    refused = TargetError(f"{where}: {key} must be an http(s) URL, not {value!r}")
    if not isinstance(value, str):
        raise refused
    try:
        parts = urlparse(value)
        parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError as error:  # "http://[::1" (an unclosed IPv6 literal), ":99999", ":abc"
        raise TargetError(f"{where}: {key} is not a usable URL ({error}): {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused
    return value.rstrip("/")


def parse_target(data: dict[str, Any], where: str = "target") -> Target:
    dialect = data.get("dialect")
    if dialect not in DIALECTS:
        raise TargetError(f"{where}: dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
    base_url = _url(data.get("base_url"), "base_url", where)

    scope = {k: _resolve(v, k, where) for k, v in _table(data, "scope", where).items()}
    missing = [k for k in SCOPE_KEYS[dialect] if not scope.get(k)]
    if missing:
        raise TargetError(f"{where}: [scope] needs {', '.join(missing)} for {dialect}")

    raw_auth = _table(data, "auth", where)
    auth = _auth(raw_auth, "auth", where)
    read_only_auth = _auth(raw_auth["read_only"], "auth.read_only", where) if "read_only" in raw_auth else None
    for table, checked in (("auth", auth), ("auth.read_only", read_only_auth)):
        if checked is not None:
            _signs(dialect, checked["scheme"], table, where)

    provisioning = _table(data, "provisioning", where)
    mode = provisioning.get("mode", "static")
    if mode not in MODES:
        raise TargetError(f"{where}: [provisioning] mode must be control or static, not {mode!r}")
    control_url = tenant_id = None
    if mode == "control":
        control_url = _url(provisioning.get("control_url"), "[provisioning] control_url", where)
        tenant_id = provisioning.get("tenant_id")
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise TargetError(f"{where}: [provisioning] tenant_id must be a string, not {tenant_id!r}")
        if not tenant_id:
            raise TargetError(f"{where}: [provisioning] control mode needs tenant_id")

    idle_timeout_s = _seconds(provisioning, "idle_timeout_s", DEFAULT_IDLE_TIMEOUT_S, where)
    image_timeout_s = _seconds(provisioning, "image_timeout_s", DEFAULT_IMAGE_TIMEOUT_S, where)
    poll_s = _seconds(provisioning, "poll_s", DEFAULT_POLL_S, where)
    max_images = provisioning.get("max_images", DEFAULT_MAX_IMAGES)
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        raise TargetError(f"{where}: [provisioning] max_images must be a whole number, 0 or more")

    fixtures: dict[str, list[str]] = {}
    for role, ids in _table(data, "fixtures", where).items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise TargetError(f"{where}: [fixtures] {role!r} must be a list of resource ids")
        fixtures[role] = list(ids)
    return Target(dialect, base_url, scope, auth, mode, control_url, tenant_id, fixtures,
                  idle_timeout_s=idle_timeout_s, max_images=max_images, image_timeout_s=image_timeout_s,
                  poll_s=poll_s, read_only_auth=read_only_auth)


def _seconds(provisioning: dict[str, Any], key: str, default: float, where: str) -> float:
    value = provisioning.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TargetError(f"{where}: [provisioning] {key} must be a positive number of seconds")
    return float(value)


def _auth(raw: Any, table: str, where: str) -> dict[str, str]:
    """An [auth] table (or [auth.read_only]): its scheme and the keys that scheme needs."""
    if not isinstance(raw, dict):
        raise TargetError(f"{where}: [{table}] must be a table")
    scheme = raw.get("scheme", "none")
    if scheme not in SCHEMES:
        raise TargetError(f"{where}: [{table}] scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    auth = {"scheme": scheme}
    for key in SCHEME_KEYS[scheme]:
        if key not in raw:
            raise TargetError(f"{where}: [{table}] scheme {scheme} needs {key}")
        auth[key] = _resolve(raw[key], key, where)
    return auth


def _signs(dialect: str, scheme: str, table: str, where: str) -> None:
    """A scheme the dialect is not signed with would certify nothing about its authentication
    (in control mode the requests would be signed with the tenants' credentials all the same):
    refuse it. `none` stays allowed, for a mock that authenticates nothing."""
    accepted = auth_schemes(dialect)
    if scheme != "none" and scheme not in accepted:
        raise TargetError(f"{where}: [{table}] scheme {scheme} does not sign {dialect} requests; "
                          f"{dialect} takes {' or '.join(accepted)} (or none)")


def load_target(path: str | Path) -> Target:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"{path}: no such target file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TargetError(f"{path}: cannot read it: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"{path}: not valid TOML: {error}") from None
    target = parse_target(data, str(path))
    return Target(**{**target.__dict__, "path": path})


def write_target(document: dict[str, Any], path: str | Path) -> Path:
    """Write a target file (the reference provider's own, for `mock --emit-targets`)."""
    path = Path(path)
    parse_target(document, str(path))  # never write a file we would refuse to read
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path
