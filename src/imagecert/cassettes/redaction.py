"""Secrets out of each recorded interaction (on top of `imagecert.secrets`): whose credentials
signed a request, placeholder credentials in tenant answers, learned secrets replaced anywhere."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from vcr.request import Request

from imagecert import secrets, signing
from imagecert.cassettes.files import API_ORIGIN, CONTROL_ORIGIN, as_bytes
from imagecert.secrets import REDACTED, SECRET_HEADERS
from imagecert.target import Target


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
# Signature nonces are kept as their place in the cassette (`<nonce N>`, the same value the
# same N): what a test proves by sending one nonce twice (APS-C009) is replayed with a fresh
# nonce sent twice.
NONCE_HEADERS = frozenset({"x-jdcloud-nonce", "x-acs-signature-nonce"})
NONCE_PLACEHOLDER = "<nonce "


MIN_SECRET_LENGTH = 8  # shorter credential values are replaced only where their field names them


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
        self.nonces: dict[str, str] = {}       # a nonce sent -> its place in the cassette
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
            secret = known.auth.get(signing.REGISTRY[scheme].secret)
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
        body = as_bytes(request.body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        tag = self.credential_tag(signing.WireRequest(request.method, parts.path or "/", parts.query, headers, body))
        query = "&".join(_redact_query_part(part) for part in parts.query.split("&")) if parts.query else ""
        request.uri = self.scrub(parts._replace(query=query).geturl())
        kept = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in NONCE_HEADERS:
                kept[name] = self._nonce(str(value))
                continue
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

    def _nonce(self, value: str) -> str:
        if value.startswith(NONCE_PLACEHOLDER):  # (vcrpy runs this hook on the recorded requests it loads, too)
            return value
        return self.nonces.setdefault(value, f"{NONCE_PLACEHOLDER}{len(self.nonces) + 1}>")

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = as_bytes(response["body"]["string"])
        text = body.decode("utf-8", "replace")
        data = secrets.parse_json(text)
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
        data = secrets.parse_json(text)
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


