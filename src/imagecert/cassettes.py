"""Cassettes: each suite test's HTTP interactions, recorded with vcrpy and replayed offline.

`pytest suites --record` writes one YAML file per suite test under
`cassettes/<dialect>/<module>/<test>.yaml`; `pytest suites --replay` runs the suites
from those files with the network refused (vcrpy `record_mode="none"`, and every socket
connect refused too), so CI certifies the recorded behaviour without a provider or a
credential. `imagecert replay` (see `imagecert.replay`) sends the same requests to
another endpoint and reports where it answers differently.

What makes a cassette safe to commit and stable to re-record:

* Secrets never reach the file (`Redactor`, run on every request and response before
  vcrpy keeps it): authorization, token and signature headers and query parameters
  become `<redacted WHO>`, where WHO says whose credentials signed the request and
  whether they verified (`tenant-1`, `tenant-2-wrong-secret`, `no-credentials`, …);
  the control protocol's tenant answers keep their shape but carry placeholder
  credentials (`tenant-1-access-key`, …) that replay signs with; any learned access
  key, secret or token is replaced wherever else it shows up; body fields named like
  credentials are replaced.
* Volatile values are normalized when the cassette is saved (`normalize`): the
  endpoint's origin becomes a fixed one; ids an answer introduces (values of
  id-named fields, request-id headers, anything shaped like a UUID or long hex) are
  renumbered in order of first appearance, keeping their layout (`shaped`); dates and
  epoch times become one fixed moment in their own layout; signing dates, nonces and
  body digests are left out (a replay signs anew), and so are headers that only name
  the software. What the test chose itself is kept: its `uuid.uuid4()` names are
  repeatable in a cassette run (`deterministic_uuids`), and hypothesis generates
  from the test and its contract only (`generation_independent_of_local_code`).
  The reference provider is recorded with jobs that only end when settled
  (`RECORDING_JOB_SECONDS`). A re-recording of unchanged behaviour is byte-identical.
* Requests are matched (`MATCHERS`) on what identifies them — method, which
  endpoint (API or control), path, query and body with UUIDs, hex ids and dates
  masked, signature and nonce parameters left out, and whose credentials signed it —
  never on a signature, a date, a nonce or the host and port.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import os
import random
import re
import socket
import sys
import tempfile
import threading
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
import vcr
import yaml
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request

from imagecert import secrets, signing
from imagecert.secrets import REDACTED, SECRET_HEADERS, SECRET_QUERY_PARAMS
from imagecert.contracts import DIALECTS, checkout_root
from imagecert.target import SCOPE_KEYS, Target, parse_target

FORMAT = 1
# The origins recorded URLs are rewritten to, and that an offline replay sends to.
API_ORIGIN = "http://api.imagecert.invalid"
CONTROL_ORIGIN = "http://control.imagecert.invalid"
TARGET_FILE = "_target.yaml"  # per dialect: what kind of target the cassettes came from

VOLATILE = "<volatile>"  # a query parameter that changes at every signing (nonce, timestamp)
AUTH_VALUE_KEYS = ("access_key", "secret_key", "token")
# Request headers left out: those whose values change at every signing (dates, nonces,
# digests of a body that holds normalized ids: a replay signs anew), the body's length,
# and those that only name the software.
VOLATILE_REQUEST_HEADERS = frozenset({
    "date", "x-sdk-date", "x-jdcloud-date", "x-jdcloud-nonce", "x-acs-signature-nonce",
    "x-jdcloud-content-sha256", "x-sdk-content-sha256", "content-md5",
})
DROPPED_REQUEST_HEADERS = frozenset({"user-agent", "accept-encoding", "connection", "content-length"})
DROPPED_RESPONSE_HEADERS = frozenset({"date", "server"})
VOLATILE_QUERY_PARAMS = frozenset({"signaturenonce", "timestamp"})

LARGE_BODY_CHARS = 16 * 1024
MIN_SECRET_LENGTH = 8  # shorter credential values are replaced only where their field names them

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Long hex with both letters and digits (request ids, hex uuids, project ids), one case.
HEX = r"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{16,}|(?=[0-9A-F]*[A-F])(?=[0-9A-F]*[0-9])[0-9A-F]{16,}"
ISO_DATE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
BASIC_DATE = r"\d{8}T\d{6}Z"
HTTP_DATE = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
ID_SHAPED = re.compile(f"{_EDGE_BEFORE}(?:{UUID}|{HEX}){_EDGE_AFTER}")
DATE_SHAPED = re.compile(f"{_EDGE_BEFORE}(?:{ISO_DATE}|{BASIC_DATE}){_EDGE_AFTER}|{HTTP_DATE}")
FIXED_DATE_DIGITS = "20000101000000"
FIXED_HTTP_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"
# Field names whose string values are generated ids, and those that are not (regions
# and zones are names the target was configured with, stable across runs).
ID_FIELD = re.compile(r"^(id|ids|.*[a-z0-9][_-]?(id|ids|Id|Ids|ID|IDs))$", re.IGNORECASE)
STABLE_FIELD = re.compile(r"region|zone|^az$", re.IGNORECASE)
TIME_FIELD = re.compile(r"time|date|created|updated|deleted|modified|expire|_at$", re.IGNORECASE)
ID_HEADER = re.compile(r"request-?id|trace-?id|-id$", re.IGNORECASE)
EPOCH_SECONDS = 1_000_000_000  # a number this big under a time-named field is a moment, not a count


# The reference provider recordings are made with: asynchronous work that never ends by
# itself (the suites settle it through the control protocol), so that no job's
# progress, and no state, depends on how long a request took.
RECORDING_JOB_SECONDS = 24 * 3600.0


def default_directory() -> Path:
    """The checkout's `cassettes/`; an installed imagecert ships none: `./cassettes`."""
    root = checkout_root()
    return root / "cassettes" if root is not None else Path("cassettes")


# -- file names ----------------------------------------------------------------------


def _inside(parts: tuple[str, ...], dialect: str) -> tuple[str, ...]:
    """The path parts below the (last) `<dialect>` folder."""
    if dialect not in parts:
        return parts[-1:]
    return parts[len(parts) - parts[::-1].index(dialect):]


def suite_test_id(item: pytest.Item, dialect: str) -> str:
    """A suite test's id whatever folder pytest was started from:
    `suites/<dialect>/<file>::<name>` (it names the cassette and seeds its uuids)."""
    return "/".join(("suites", dialect, *_inside(item.path.parts, dialect))) + "::" + item.nodeid.partition("::")[2]


def cassette_path(directory: Path, dialect: str, test: str) -> Path:
    """`suites/jdcloud-vm/test_states.py::test_busy[stopped]` ->
    `<directory>/jdcloud-vm/test_states/test_busy[stopped].yaml`: stable, one per test."""
    file_part, _, name = test.partition("::")
    inner = _inside(Path(file_part).with_suffix("").parts, dialect)
    name = re.sub(r"[^A-Za-z0-9_.\[\]=,+-]+", "_", name.replace("::", "."))
    if len(name) > 120:  # keep paths short; the hash keeps long parameter ids apart
        name = name[:100] + "-" + hashlib.sha1(name.encode()).hexdigest()[:12]
    return directory.joinpath(dialect, *inner, name + ".yaml")


# -- credentials -----------------------------------------------------------------------


def placeholder_auth(label: str, auth: dict[str, str]) -> dict[str, str]:
    """The credentials written in place of `auth`: the scheme kept, each value named
    after whose it is, so that an offline replay signs with them and is recognized."""
    return {key: (value if key == "scheme" else f"{label}-{key.replace('_', '-')}") for key, value in auth.items()}


def _label_of_placeholder(value: str) -> str | None:
    match = re.fullmatch(r"(.+)-(access-key|token)", value or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class Known:
    label: str
    auth: dict[str, str]


class Redactor:
    """Removes every secret from one test's interactions as vcrpy records them, and
    rewrites the target's origins to fixed ones. One per cassette: it learns each
    tenant's credentials from the control protocol's answers."""

    def __init__(self, target: Target):
        self.origins = sorted(
            ((url, CONTROL_ORIGIN if url == target.control_url else API_ORIGIN)
             for url in (target.control_url, target.base_url) if url),
            key=lambda pair: -len(pair[0]))
        # a bare host:port (Apsara's HostId) is the API's when both share one
        self.hosts = [(urlsplit(url).netloc, urlsplit(fixed).netloc)
                      for url, fixed in ((target.base_url, API_ORIGIN), (target.control_url, CONTROL_ORIGIN)) if url]
        self.known: dict[str, Known] = {}      # access key or token -> whose
        self.secrets: dict[str, str] = {}      # secret value -> what is written instead
        self.tenants = 0
        if target.mode == "static":
            self._learn("target", dict(target.auth))

    def _learn(self, label: str, auth: dict[str, str]) -> None:
        known = Known(label, dict(auth))
        shown = placeholder_auth(label, auth)
        for key in AUTH_VALUE_KEYS:
            if auth.get(key):
                self.secrets[auth[key]] = shown[key]
        for key in ("access_key", "token"):
            if auth.get(key):
                self.known[auth[key]] = known

    def _who(self, key: str | None) -> Known | None:
        """Whose credentials a claimed key is: learned while recording, or a
        placeholder's own label when replaying (the replayed tenant signs with those)."""
        if not key:
            return None
        if key in self.known:
            return self.known[key]
        label = _label_of_placeholder(key)
        if label is None:
            return None
        return Known(label, placeholder_auth(label, {name: "" for name in AUTH_VALUE_KEYS}))

    def credential_tag(self, wire: signing.WireRequest) -> str:
        """Whose credentials signed a request and whether they verified: `tenant-1`,
        `tenant-1-wrong-secret`, `unknown-credentials` (a key or token nobody has),
        `no-credentials`."""
        for scheme in ("huawei-aksk", "jdcloud-hmac", "apsara-aksk", "token"):
            if not signing.presented(scheme, wire.headers):
                continue
            key = signing.claimed_key(scheme, wire.headers)
            known = self._who(key)
            if known is None:
                return "unknown-credentials"
            secret = known.auth.get("token") if scheme == "token" else known.auth.get("secret_key")
            try:
                signing.verify(scheme, wire, lambda claimed: secret if claimed == key else None)
            except signing.AuthError as error:
                return f"{known.label}-{'wrong-secret' if error.reason == 'bad-signature' else error.reason}"
            return known.label
        return "no-credentials"

    # text --------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """The target's origins made fixed and every learned secret replaced."""
        for origin, fixed in self.origins:
            text = text.replace(origin, fixed)
        for host, fixed in self.hosts:
            text = text.replace(host, fixed)
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, self.secrets[secret])
        return text

    # vcrpy hooks -------------------------------------------------------------------
    def request(self, request: Request) -> Request:
        parts = urlsplit(request.uri)
        body = _bytes(request.body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        tag = self.credential_tag(signing.WireRequest(request.method, parts.path or "/", parts.query, headers, body))
        query = "&".join(_redact_query_part(part) for part in parts.query.split("&")) if parts.query else ""
        request.uri = self.scrub(parts._replace(query=query).geturl())
        kept = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in DROPPED_REQUEST_HEADERS or lower in VOLATILE_REQUEST_HEADERS:
                continue
            if lower in SECRET_HEADERS and not str(value).startswith("<redacted"):
                # (vcrpy runs this hook on the recorded requests it loads, too)
                value = f"<redacted {tag}>"
            elif lower == "host":
                value = urlsplit(request.uri).netloc
            kept[name] = self.scrub(str(value))
        request.headers = kept
        request.body = self._redact_body(body)
        request.__dict__.pop("_imagecert_keys", None)  # a changed request: its match keys anew
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = _bytes(response["body"]["string"])
        text = body.decode("utf-8", "replace")
        data = _json(text)
        if isinstance(data, dict) and isinstance(data.get("auth"), dict) and "tenant_id" in data:
            self.tenants += 1  # a control protocol tenant: its credentials, learned and replaced
            self._learn(f"tenant-{self.tenants}", {k: str(v) for k, v in data["auth"].items()})
        response["body"]["string"] = self._redact_body(body)
        response["headers"] = {
            name: [REDACTED if name.lower() in SECRET_HEADERS else self.scrub(str(v))
                   for v in values]
            for name, values in response["headers"].items() if name.lower() not in DROPPED_RESPONSE_HEADERS
        }
        return response

    def _redact_body(self, body: bytes) -> bytes:
        """Learned secrets replaced, then every credential-named field's value (short
        ones too, which a text-wide replacement could not do safely)."""
        if not body:
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        data = _json(text)
        if data is not None:
            held = list(secrets.secret_values(data))
            for value in held:
                if len(value) >= MIN_SECRET_LENGTH:
                    self.secrets.setdefault(value, REDACTED)
            if held:  # rewritten only when it holds a credential
                return json.dumps(self._scrubbed(secrets.redact_json(data, self.secrets)),
                                  ensure_ascii=False).encode("utf-8")
            return self.scrub(text).encode("utf-8")
        text = self.scrub(text)
        return (secrets.redact_form(text) if secrets.looks_like_form(text) else text).encode("utf-8")

    def _scrubbed(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {key: self._scrubbed(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self._scrubbed(value) for value in node]
        return self.scrub(node) if isinstance(node, str) else node


def _redact_query_part(part: str) -> str:
    name, sep, _ = part.partition("=")
    if sep and name.lower() in VOLATILE_QUERY_PARAMS:
        return f"{name}={quote(VOLATILE)}"
    return secrets.redact_query(part)


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        return body.read()
    return b"".join(body)


_json = secrets.parse_json


# -- normalization -----------------------------------------------------------------


def shaped(value: str, number: int) -> str:
    """The `number`th placeholder for an id, in a shape that depends only on the id's
    layout: a UUID stays a (version 4) UUID; otherwise a short letter prefix (`i-`,
    `req-`), the separators and the length are kept and every other letter or digit
    becomes a digit of `number` (digits fit hex, alphanumeric and numeric ids alike,
    and never depend on the random letters of the id they replace)."""
    if re.fullmatch(UUID, value):
        return f"00000000-0000-4000-8000-{number:012d}"
    if re.fullmatch(HEX, value):  # still long hex with a letter, so that matching masks it alike
        return ("a" if value.lower() == value else "A") + f"{number:0{len(value) - 1}d}"
    prefix = re.match(r"[A-Za-z]{1,5}[-_.:]", value)
    head = prefix.group(0) if prefix else ""
    out, rest = [], number
    for char in reversed(value[len(head):]):
        if char.isalnum():
            out.append(str(rest % 10))
            rest //= 10
        else:
            out.append(char)
    return head + "".join(reversed(out))


def fixed_date(value: str) -> str:
    """One fixed moment (2000-01-01T00:00:00) written in the layout of `value`."""
    if value.endswith("GMT"):
        return FIXED_HTTP_DATE
    digits = iter(FIXED_DATE_DIGITS)
    return "".join(next(digits, "0") if c.isdigit() else c for c in value)


def fixed_number(text: str) -> str:
    """A moment given as a number (epoch seconds or milliseconds), fixed: as many whole
    digits (seconds or milliseconds), and a fraction of `.0` when it has one (its
    length varies from one moment to the next)."""
    whole, dot, _ = text.partition(".")
    return "1" + "0" * (len(whole) - 1) + (".0" if dot else "")


class Volatile:
    """The volatile values of one cassette, each with its stable replacement."""

    def __init__(self, stable: Iterable[str] = ()):
        self.stable = {s for s in stable if s}
        self.ids: dict[str, str] = {}
        self.numbers: dict[str, str] = {}
        self.sent: list[str] = []  # request texts so far: what the test itself chose

    def note_id(self, value: str) -> None:
        """An id an answer introduced. A value the test sent first is its own choice
        (names and tokens made with `uuid.uuid4()` are repeatable, see
        `deterministic_uuids`): it is the same at every run and is kept as it is."""
        if value in self.ids or value in self.stable or value.startswith("<"):
            return
        if any(value in text for text in self.sent):
            return
        self.ids[value] = shaped(value, len(self.ids) + 1)

    def note_sent(self, text: str) -> None:
        self.sent.append(text)

    def note_answer(self, node: Any, key: str = "") -> None:
        """Ids an answer introduces: values of id-named fields that the test did not
        send first (a value the test chose is the same at every run)."""
        if isinstance(node, dict):
            for name, value in node.items():
                self.note_answer(value, str(name))
        elif isinstance(node, list):
            for value in node:
                self.note_answer(value, key)
        elif isinstance(node, str):
            if key and ID_FIELD.match(key) and not STABLE_FIELD.search(key) and _generated(node):
                self.note_id(node)
            self.note_text(node)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if key and TIME_FIELD.search(key) and node >= EPOCH_SECONDS:
                text = json.dumps(node)
                self.numbers.setdefault(text, fixed_number(text))

    def note_text(self, text: str) -> None:
        for match in ID_SHAPED.finditer(text):
            self.note_id(match.group(0))

    def apply(self, text: str) -> str:
        """`text` with every volatile value noted so far replaced."""
        if self.ids:
            text = self._pattern("ids", self.ids, _EDGE_BEFORE, _EDGE_AFTER).sub(lambda m: self.ids[m.group(1)], text)
        text = DATE_SHAPED.sub(lambda m: fixed_date(m.group(0)), text)
        if self.numbers:
            text = self._pattern("numbers", self.numbers, r"(?<![0-9.])", r"(?![0-9.])").sub(
                lambda m: self.numbers[m.group(1)], text)
        return text

    def _pattern(self, name: str, values: dict[str, str], before: str, after: str) -> re.Pattern[str]:
        cached = self.__dict__.get(f"_{name}_pattern")
        if cached is None or cached[0] != len(values):
            alternatives = "|".join(map(re.escape, sorted(values, key=len, reverse=True)))
            cached = (len(values), re.compile(f"{before}({alternatives}){after}"))
            self.__dict__[f"_{name}_pattern"] = cached
        return cached[1]


def _generated(value: str) -> bool:
    """Whether a value under an id-named field looks generated rather than chosen."""
    return 6 <= len(value) <= 200 and not any(c.isspace() for c in value) and (
        any(c.isdigit() for c in value) or len(value) >= 8)


@dataclass
class Interaction:
    """One recorded exchange, as plain data (what a cassette file holds)."""

    method: str
    uri: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    reason: str
    response_headers: dict[str, list[str]]
    response_body: str

    @property
    def control(self) -> bool:
        return self.uri.startswith(CONTROL_ORIGIN)

    def request_json(self) -> Any:
        return _json(self.request_body)

    def response_json(self) -> Any:
        return _json(self.response_body)


def normalize(interactions: list[Interaction], stable: Iterable[str] = ()) -> list[Interaction]:
    """Every volatile value replaced, consistently across the cassette (the same id is
    the same placeholder wherever it appears), numbered in order of first appearance."""
    volatile = Volatile(stable)
    for x in interactions:
        volatile.note_sent(x.uri)
        for name in sorted(x.request_headers):
            volatile.note_sent(x.request_headers[name])
        volatile.note_sent(x.request_body)
        for name in sorted(x.response_headers):
            for value in x.response_headers[name]:
                if ID_HEADER.search(name) and _generated(value) and not ID_SHAPED.search(value):
                    volatile.note_id(value)
                volatile.note_text(value)
        data = _json(x.response_body)
        if data is not None:
            volatile.note_answer(data)
        else:
            volatile.note_text(x.response_body)
    out = []
    for x in interactions:
        request_body = volatile.apply(x.request_body)
        response_body = volatile.apply(x.response_body)
        out.append(Interaction(
            x.method, volatile.apply(x.uri), {k: volatile.apply(v) for k, v in sorted(x.request_headers.items())},
            request_body, x.status, x.reason,
            _with_length({k: [volatile.apply(v) for v in vs] for k, vs in sorted(x.response_headers.items())},
                         response_body),
            response_body))
    return out


def _with_length(headers: dict[str, list[str]], body: str) -> dict[str, list[str]]:
    """Content-Length made true again (redaction changes a body's length)."""
    length = str(len(body.encode("utf-8")))
    return {k: ([length] if k.lower() == "content-length" else v) for k, v in headers.items()}


# -- files ---------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.endswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16,
                     default_flow_style=False)


def write_atomically(path: Path, text: str) -> None:
    """Two xdist workers may write the same file; each write is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".yaml")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


def _stored_body(text: str) -> Any:
    """A body as the file keeps it: text, or compressed when large (the bodies that
    prove a size limit are megabytes of one repeated character)."""
    if len(text) <= LARGE_BODY_CHARS:
        return text
    return {"zlib_base64": base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")}


def _loaded_body(node: Any) -> str:
    if isinstance(node, dict):
        return zlib.decompress(base64.b64decode(node["zlib_base64"])).decode("utf-8")
    return node or ""


def write_cassette(path: Path, meta: dict[str, Any], interactions: list[Interaction]) -> None:
    document = {"imagecert_cassette": FORMAT, **meta, "interactions": [
        {"request": {"method": x.method, "uri": x.uri, "headers": x.request_headers,
                     "body": _stored_body(x.request_body)},
         "response": {"status": x.status, "reason": x.reason,
                      "headers": {k: (v[0] if len(v) == 1 else v) for k, v in x.response_headers.items()},
                      "body": _stored_body(x.response_body)}}
        for x in interactions]}
    write_atomically(path, dump_yaml(document))


# Reading with libyaml when it is there (the same data, several times faster); writing
# always with the pure-Python emitter, whose output cannot depend on the machine.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_cassette(path: Path) -> tuple[dict[str, Any], list[Interaction]]:
    document = yaml.load(path.read_text("utf-8"), Loader=_Loader)
    if not isinstance(document, dict) or document.get("imagecert_cassette") != FORMAT:
        raise ValueError(f"{path} is not an imagecert cassette (format {FORMAT})")
    meta = {k: v for k, v in document.items() if k not in ("imagecert_cassette", "interactions")}
    interactions = []
    for item in document["interactions"]:
        request, response = item["request"], item["response"]
        interactions.append(Interaction(
            request["method"], request["uri"], dict(request.get("headers") or {}), _loaded_body(request.get("body")),
            int(response["status"]), response.get("reason") or "",
            {k: (v if isinstance(v, list) else [v]) for k, v in (response.get("headers") or {}).items()},
            _loaded_body(response.get("body"))))
    return meta, interactions


def _from_vcr(request: Request, response: dict[str, Any]) -> Interaction:
    return Interaction(
        request.method, request.uri, {k: str(v) for k, v in request.headers.items()},
        _bytes(request.body).decode("utf-8", "replace"),
        int(response["status"]["code"]), response["status"].get("message") or "",
        {k: [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in response["headers"].items()},
        _bytes(response["body"]["string"]).decode("utf-8", "replace"))


def _to_vcr(x: Interaction) -> tuple[Request, dict[str, Any]]:
    request = Request(x.method, x.uri, x.request_body.encode("utf-8") if x.request_body else None,
                      dict(x.request_headers))
    response = {"status": {"code": x.status, "message": x.reason}, "headers": dict(x.response_headers),
                "body": {"string": x.response_body.encode("utf-8")}}
    return request, response


class Persister:
    """vcrpy's load and save for one test's cassette: our YAML layout, with the test's
    metadata, normalized as a whole when saved."""

    def __init__(self, meta: dict[str, Any], recording: bool, stable: Iterable[str] = ()):
        self.meta = meta
        self.recording = recording
        self.stable = list(stable)

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Request], list[dict[str, Any]]]:
        path = Path(cassette_path)
        if self.recording or not path.is_file():  # recording starts every cassette afresh
            raise CassetteNotFoundError()
        _, interactions = read_cassette(path)
        pairs = [_to_vcr(x) for x in interactions]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        interactions = [_from_vcr(q, r) for q, r in zip(cassette_dict["requests"], cassette_dict["responses"])]
        write_cassette(Path(cassette_path), self.meta, normalize(interactions, self.stable))


# -- matching ------------------------------------------------------------------------


def mask(text: str) -> str:
    """Ids and dates made anonymous, for comparing a request with a recorded one."""
    text = DATE_SHAPED.sub("<date>", text)
    return ID_SHAPED.sub("<id>", text)


def _query_key(request: Request) -> list[tuple[str, str]]:
    query = urlsplit(request.uri).query
    return sorted((name, mask(value)) for name, value in parse_qsl(query, keep_blank_values=True)
                  if name.lower() not in SECRET_QUERY_PARAMS | VOLATILE_QUERY_PARAMS)


def _body_key(request: Request) -> Any:
    text = _bytes(request.body).decode("utf-8", "replace")
    data = _json(text)
    if data is not None:
        return mask(json.dumps(data, sort_keys=True, ensure_ascii=False))
    if "=" in text and "\n" not in text:
        return sorted((name, mask(value)) for name, value in parse_qsl(text, keep_blank_values=True)
                      if name.lower() not in SECRET_QUERY_PARAMS | VOLATILE_QUERY_PARAMS)
    return mask(text)


def _credentials_key(request: Request) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in request.headers.items() if k.lower() in SECRET_HEADERS)


def _matcher(key: Callable[[Request], Any], what: str) -> Callable[[Request, Request], None]:
    def cached(request: Request) -> Any:
        # vcrpy compares each request with every recorded one: compute each key once
        keys = request.__dict__.setdefault("_imagecert_keys", {})
        if what not in keys:
            keys[what] = key(request)
        return keys[what]

    def match(live: Request, recorded: Request) -> None:
        if cached(live) != cached(recorded):
            raise AssertionError(f"{what}: {cached(live)!r} != {cached(recorded)!r}")

    return match


MATCHERS = {
    "imagecert_method": _matcher(lambda r: r.method.upper(), "method"),
    "imagecert_endpoint": _matcher(lambda r: (urlsplit(r.uri).netloc, mask(urlsplit(r.uri).path)), "endpoint and path"),
    "imagecert_query": _matcher(_query_key, "query"),
    "imagecert_body": _matcher(_body_key, "body"),
    "imagecert_credentials": _matcher(_credentials_key, "credentials"),
}


# -- targets -------------------------------------------------------------------------


def write_target_description(directory: Path, target: Target) -> None:
    """What an offline replay needs to know of the recorded target: no URL, no secret."""
    description = {"dialect": target.dialect, "mode": target.mode, "auth_scheme": target.scheme}
    if target.mode == "static":
        description.update(scope=dict(target.scope), fixtures=dict(target.fixtures))
    write_atomically(directory / target.dialect / TARGET_FILE, dump_yaml(description))


def replay_targets(directory: Path, dialects: Iterable[str] = DIALECTS) -> dict[str, Target]:
    """A target per dialect that has cassettes under `directory`, pointing at the fixed
    origins the recordings were rewritten to (nothing listens there: vcrpy answers)."""
    targets = {}
    for dialect in dialects:
        path = directory / dialect / TARGET_FILE
        if not path.is_file():
            continue
        description = yaml.safe_load(path.read_text("utf-8"))
        document: dict[str, Any] = {"dialect": dialect, "base_url": API_ORIGIN}
        if description["mode"] == "control":
            document.update(scope={key: "replayed" for key in SCOPE_KEYS[dialect]}, auth={"scheme": "none"},
                            provisioning={"mode": "control", "control_url": CONTROL_ORIGIN, "tenant_id": "replayed"})
        else:
            auth = placeholder_auth("target", {"scheme": description["auth_scheme"],
                                               **{k: "" for k in _scheme_keys(description["auth_scheme"])}})
            document.update(scope=description.get("scope") or {}, auth=auth,
                            fixtures=description.get("fixtures") or {}, provisioning={"mode": "static"})
        targets[dialect] = parse_target(document, f"cassettes of {dialect} ({directory})")
    return targets


def _scheme_keys(scheme: str) -> tuple[str, ...]:
    from imagecert.target import SCHEME_KEYS

    return SCHEME_KEYS[scheme]


# -- the network guard ---------------------------------------------------------------


class NetworkRefused(ConnectionRefusedError):
    """A replayed test tried to reach the network."""


@contextlib.contextmanager
def network_refused() -> Iterator[None]:
    """Every socket connect in this process refused (an offline replay touches nothing)."""
    def refuse(sock: socket.socket, address: Any, *args: Any) -> None:
        raise NetworkRefused(f"replaying cassettes: the network is refused (connect to {address!r})")

    saved = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]


INSTALLED = (sys.prefix, sys.base_prefix)  # the standard library and installed packages


@contextlib.contextmanager
def deterministic_uuids(seed: str) -> Iterator[None]:
    """`uuid.uuid4()` repeatable when the project's code calls it in this thread (the
    test's: names and tokens a suite makes unique), so that a re-recording sends the
    same requests and a replay finds them. Other threads (an in-process provider) and
    installed packages (allure names its results with uuids, and only in some runs) keep
    real randomness and take nothing from the sequence."""
    rng = random.Random(seed)
    owner = threading.get_ident()
    real = uuid.uuid4

    def uuid4() -> uuid.UUID:
        caller = sys._getframe(1).f_code.co_filename
        if threading.get_ident() != owner or "site-packages" in caller or caller.startswith(INSTALLED):
            return real()
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    uuid.uuid4 = uuid4  # type: ignore[assignment]
    try:
        yield
    finally:
        uuid.uuid4 = real  # type: ignore[assignment]


@contextlib.contextmanager
def one_request_at_a_time() -> Iterator[None]:
    """Requests from several threads sent one after the other. vcrpy is not thread-safe:
    while it sends one recorded request it unpatches HTTP process-wide, so a concurrent
    request would go unrecorded, and two replayed ones could take the same answer."""
    lock = threading.RLock()
    real = requests.Session.send

    def send(session: requests.Session, *args: Any, **kwargs: Any) -> requests.Response:
        with lock:
            return real(session, *args, **kwargs)

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        requests.Session.send = real  # type: ignore[method-assign]


# -- the pytest side -----------------------------------------------------------------


def generation_independent_of_local_code() -> None:
    """Hypothesis also draws strings and numbers from the constants of the project's own
    modules loaded so far, so a fuzz test would send other requests after any edit of any
    module, or when replaying (no provider loaded) than when recording: a recorded fuzz
    run could then never be replayed. In a cassette run it draws from its built-in
    constants only, so generation depends on the test, its contract and its seed."""
    providers = importlib.import_module("hypothesis.internal.conjecture.providers")
    if not hasattr(providers, "_get_local_constants"):
        raise RuntimeError("this hypothesis version has no _get_local_constants: update imagecert.cassettes")
    providers._get_local_constants = lambda: providers.Constants()
    providers.CONSTANTS_CACHE.cache.clear()


class CassettePlugin:
    """Wraps each suite test, from its setup to its teardown, in its own cassette."""

    def __init__(self, state: Any, mode: str, directory: Path):
        self.state = state
        self.mode = mode  # "record" or "replay"
        self.directory = directory
        self.described: set[str] = set()
        generation_independent_of_local_code()

    def cassette(self, item: pytest.Item, dialect: str, target: Target) -> contextlib.AbstractContextManager:
        from imagecert.plugin import constraint_ids

        test = suite_test_id(item, dialect)
        path = cassette_path(self.directory, dialect, test)
        recording = self.mode == "record"
        redactor = Redactor(target)
        meta = {"test": test, "dialect": dialect, "constraints": constraint_ids(item)}
        stable = list(target.scope.values()) + [i for ids in target.fixtures.values() for i in ids]
        recorder = vcr.VCR(
            record_mode="all" if recording else "none",
            match_on=() if recording else list(MATCHERS),  # recording plays nothing: no need to compare
            before_record_request=redactor.request,
            before_record_response=redactor.response,
            decode_compressed_response=True,
        )
        for name, matcher in MATCHERS.items():
            recorder.register_matcher(name, matcher)
        recorder.register_persister(Persister(meta, recording, stable))
        stack = contextlib.ExitStack()
        stack.enter_context(deterministic_uuids(test))
        stack.enter_context(one_request_at_a_time())
        if not recording:
            stack.enter_context(network_refused())
        stack.enter_context(recorder.use_cassette(str(path)))
        if recording:  # a test that sent nothing still gets its (empty) cassette
            stack.callback(lambda: path.is_file() or write_cassette(path, meta, []))
        return stack

    @staticmethod
    def _dialect(item: pytest.Item) -> str | None:
        from imagecert.plugin import dialect_of

        dialect = dialect_of(item.path)
        return dialect if dialect and "world" in getattr(item, "fixturenames", ()) else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        dialect = self._dialect(item)
        missing = dialect and not cassette_path(self.directory, dialect, suite_test_id(item, dialect)).is_file()
        if self.mode == "replay" and missing:
            pytest.fail(f"no cassette for this test under {self.directory}: record it with --record", pytrace=False)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        dialect = self._dialect(item)
        if dialect is None:
            yield
            return
        target = self.state.target(dialect)
        if self.mode == "record" and dialect not in self.described:
            write_target_description(self.directory, target)
            self.described.add(dialect)
        with self.cassette(item, dialect, target):
            yield
