"""Request authentication for the four dialects: signing (client) and verifying (server).

One module serves both sides so that they cannot drift apart:

* the suites, the fuzzer and cassette replay sign with :func:`client_auth`, a
  ``requests.auth.AuthBase`` per scheme;
* the reference provider checks what it received with :func:`verify`.

Each scheme is one :class:`Scheme` entry of :data:`REGISTRY` (at the end of this file):
the ``[auth]`` keys it needs, how it signs, how it verifies, how a request shows it
carries it, and whose key a request claims. :func:`client_auth`, :func:`verify`,
:func:`presented` and :func:`claimed_key` look the scheme up there.

Each scheme is byte-exact to what the provider's official Python SDK puts on the
wire (huaweicloudsdkcore 3.1, jdcloud-sdk 1.6, aliyun-python-sdk-core 2.16); the
tests in ``tests/test_signing.py`` run those SDKs against a loopback server and
require :func:`verify` to accept what they sent and our signers to compute the
same signature from the same date and nonce. The algorithms were written from
the SDKs' behaviour; nothing here imports an SDK.

Schemes (the target file's ``[auth] scheme``):

``none``
    nothing is sent, nothing is checked.
``token``
    ``X-Auth-Token: <token>`` (huawei-nova; huawei-ims accepts it too).
``huawei-aksk``
    SDK-HMAC-SHA256 as huaweicloudsdkcore signs: ``X-Sdk-Date``,
    ``X-Project-Id`` and ``Authorization: SDK-HMAC-SHA256 Access=AK,
    SignedHeaders=h1;h2, Signature=hex``. Canonical request: method, the path
    decoded, split at ``/``, each segment percent-encoded (RFC 3986 unreserved
    kept, so ``:`` becomes ``%3A``) and a ``/`` appended when missing, the query
    pairs decoded, sorted by (name, value) and re-encoded the same way, the
    signed headers as ``name:value`` lines, the signed header list, and the hex
    SHA-256 of the body (of ``b""`` when there is none; the SDK sends
    ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` for a content type other than JSON
    or BSON, and then the body is not covered). String to sign:
    ``SDK-HMAC-SHA256\\n<X-Sdk-Date>\\n<hex sha256 of canonical request>``,
    HMAC-SHA256 keyed with the secret key itself.
``jdcloud-hmac``
    JDCLOUD3-HMAC-SHA256 as jdcloud-sdk signs: ``x-jdcloud-date``,
    ``x-jdcloud-nonce``, ``x-jdcloud-content-sha256`` and ``Authorization:
    JDCLOUD3-HMAC-SHA256 Credential=AK/YYYYMMDD/REGION/vm/jdcloud3_request,
    SignedHeaders=…, Signature=hex``. The path is decoded (``+`` as a space),
    runs of ``/`` collapsed and re-encoded keeping ``/`` — the literal ``:`` of
    ``/instances/{id}:createImage`` is signed as ``%3A`` but sent as ``:``. The
    query is split at ``&`` and the first ``=``, each part decoded and
    re-encoded, pairs sorted; a part without ``=`` is left out of the
    signature. ``host`` is always signed; the SDK signs every header it holds
    before signing except ``authorization`` and ``user-agent`` (in practice
    ``content-type;host``) — so ``x-jdcloud-date`` and the nonce are *not*
    signed headers (the date is in the string to sign). The signing key is
    HMAC-SHA256 chained over date, region, service and ``jdcloud3_request``,
    starting from ``"JDCLOUD3" + secret``.
``apsara-aksk``
    ``Authorization: acs AK:base64(HMAC-SHA1(secret, string))`` as aliyunsdkcore
    signs a ROA-style ``CommonRequest`` (``uri_pattern`` set). String to sign:
    method, Accept, Content-MD5, Content-Type and Date, one per line, then each
    ``x-acs-*`` header as ``name:value\\n`` sorted by lower-case name, then the
    decoded path and, if there is a query, ``?`` and the *decoded* pairs sorted
    by name (``name=value``, or ``name`` alone when it had no ``=``). The body
    is covered only through ``Content-MD5``, which the verifier therefore
    requires whenever there is a body.

A request carrying a secret or a signature must never be written out as it is:
:mod:`imagecert.secrets` is the one policy that says what to hide.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, unquote, unquote_plus, urlsplit

import requests
from requests.auth import AuthBase

__all__ = [
    "SCHEMES",
    "REGISTRY",
    "Scheme",
    "Credentials",
    "AuthError",
    "WireRequest",
    "client_auth",
    "verify",
    "presented",
    "claimed_key",
    "NoAuth",
    "TokenAuth",
    "HuaweiAkSkAuth",
    "JdcloudHmacAuth",
    "ApsaraAkSkAuth",
]

#: Reasons an :class:`AuthError` carries.
REASONS = ("missing", "malformed", "unknown-key", "bad-signature", "stale")

_BASIC_DATE = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

HUAWEI_ALGORITHM = "SDK-HMAC-SHA256"
JDCLOUD_ALGORITHM = "JDCLOUD3-HMAC-SHA256"
JDCLOUD_SERVICE = "vm"
JDCLOUD_TERMINATOR = "jdcloud3_request"
JDCLOUD_DEFAULT_REGION = "jdcloud-api"  # what jdcloud-sdk signs with when a call has no regionId
APSARA_API_VERSION = "2016-01-01"  # ECS; sent as x-acs-version

# Headers a client's HTTP stack adds or may rewrite after signing: never signed
# by our clients (the SDKs add them after signing too).
_TRANSPORT_HEADERS = frozenset(
    {
        "authorization",
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "expect",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# What jdcloud-sdk adds after signing (so never in SignedHeaders), plus its own exclusions.
_JDCLOUD_UNSIGNED = frozenset(
    {"user-agent", "x-jdcloud-date", "x-jdcloud-nonce", "x-jdcloud-content-sha256", "jdcloud3-hmac-sha256"}
)


class AuthError(Exception):
    """Authentication refused. ``reason`` is one of :data:`REASONS`:

    ``missing``        a header the scheme needs is absent (Authorization, the date, a signed header, …)
    ``malformed``      present but unparsable, or an algorithm/scope this scheme does not use
    ``unknown-key``    the access key (or token) is not known to ``secret_for``
    ``bad-signature``  the signature does not match the request (tampered, or wrong secret)
    ``stale``          the request's date is outside the allowed clock skew
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown AuthError reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class WireRequest:
    """A request exactly as the server saw it.

    ``path`` is the request target's path as sent (still percent-encoded — ASGI's
    ``raw_path``, not the decoded ``path``), ``query`` the raw query string
    without ``?``, ``headers`` with lower-case names (one value per name), and
    ``body`` the raw bytes.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())  # the names are lower-case already

    @classmethod
    def from_prepared(cls, prepared: requests.PreparedRequest) -> "WireRequest":
        """What a server would see for ``prepared`` (the Host header computed as
        http.client sends it when the request does not set one)."""
        parts = urlsplit(prepared.url or "")
        headers = {k.lower(): v for k, v in prepared.headers.items()}
        headers.setdefault("host", _wire_host(prepared.url or ""))
        return cls(
            method=(prepared.method or "GET").upper(),
            path=parts.path or "/",
            query=parts.query,
            headers=headers,
            body=_as_bytes(prepared.body),
        )

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], body: bytes) -> "WireRequest":
        """From an ASGI HTTP scope (uses ``raw_path`` and ``query_string``)."""
        raw_path = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
        return cls(
            method=scope["method"].upper(),
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])},
            body=body,
        )


# -- small helpers ------------------------------------------------------------------


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lname = name.lower()
        for key, val in headers.items():
            if key.lower() == lname:
                return val
    return value


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError("signing needs the whole body: streamed or file bodies cannot be signed")


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wire_text(value: str) -> str:
    """A header value as its sender meant it: HTTP stacks decode header bytes as
    latin-1, while the SDKs sign the text and send it UTF-8 encoded."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _wire_host(url: str) -> str:
    """The Host header http.client sends for ``url``: the default port is left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    return host


@functools.lru_cache(maxsize=256)  # a verifier sees the same second's date many times
def _parse_basic_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, _BASIC_DATE).replace(tzinfo=timezone.utc)
    except ValueError:
        raise AuthError("malformed", f"date {value!r} is not YYYYMMDDTHHMMSSZ") from None


def _check_skew(moment: datetime, now: datetime | None, max_skew: timedelta) -> None:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    if abs(now - moment) > max_skew:
        raise AuthError("stale", f"request date {moment.isoformat()} is more than {max_skew} from {now.isoformat()}")


def _parse_fields(text: str) -> dict[str, str]:
    """``A=1, B=2, C=3`` -> dict (the Huawei and JD Authorization parameters)."""
    fields: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise AuthError("malformed", f"Authorization parameter {item!r} has no '='")
        fields[name.strip()] = value.strip()
    return fields


def _secret(secret_for: Callable[[str], str | None], key: str) -> str:
    secret = secret_for(key)
    if secret is None:
        raise AuthError("unknown-key", f"access key {key!r} is not known")
    return secret


def _same(expected: str, given: str) -> None:
    if not hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8")):
        raise AuthError("bad-signature", "the signature does not match the request")


def _sign_headers_of(request: requests.PreparedRequest, excluded: Iterable[str]) -> list[str]:
    skip = set(excluded) | _TRANSPORT_HEADERS
    return sorted({name.lower() for name in request.headers if name.lower() not in skip})


def _prepare_body(request: requests.PreparedRequest) -> bytes:
    """The body as the bytes that will be sent (a text body is sent UTF-8 encoded)."""
    body = _as_bytes(request.body)
    if isinstance(request.body, str):
        request.body = body
        request.prepare_content_length(body)
    return body


def _set_host(request: requests.PreparedRequest) -> str:
    """Pin the Host header so that what is signed is what is sent."""
    host = request.headers.get("Host")
    if not host:
        host = _wire_host(request.url or "")
        request.headers["Host"] = host
    return host


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- huawei-aksk ---------------------------------------------------------------------


def _huawei_uri(path: str) -> str:
    uri = "/".join(quote(segment, safe="~") for segment in unquote(path or "/").split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _huawei_query(query: str) -> str:
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    pairs.sort()
    return "&".join(f"{quote(n, safe='~')}={quote(v, safe='~')}" for n, v in pairs)


def _canonical_headers(headers: Mapping[str, str], signed: list[str]) -> str:
    """The signed headers as `name:value` lines (both SDK-HMAC and JDCLOUD3 sign them so)."""
    lines = []
    for name in signed:
        value = _get(headers, name)
        if value is None:
            raise AuthError("missing", f"signed header {name!r} is absent")
        lines.append(f"{name}:{_wire_text(value).strip()}\n")
    return "".join(lines)


def _huawei_signature(
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
    date: str,
) -> str:
    if not body:
        payload = _EMPTY_SHA256
    else:
        payload = _get(headers, "x-sdk-content-sha256") or _sha256_hex(body)
    canonical = "\n".join(
        [method.upper(), _huawei_uri(path), _huawei_query(query), _canonical_headers(headers, signed), ";".join(signed), payload]
    )
    to_sign = f"{HUAWEI_ALGORITHM}\n{date}\n{_sha256_hex(canonical.encode('utf-8'))}"
    return hmac.digest(secret.encode("utf-8"), to_sign.encode("utf-8"), "sha256").hex()


def _huawei_parse(authorization: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != HUAWEI_ALGORITHM:
        raise AuthError("malformed", f"algorithm {algorithm!r} is not {HUAWEI_ALGORITHM}")
    fields = _parse_fields(rest)
    try:
        access, signed, signature = fields["Access"], fields["SignedHeaders"], fields["Signature"]
    except KeyError as missing:
        raise AuthError("malformed", f"Authorization lacks {missing.args[0]}") from None
    if not access or not signed or not signature:
        raise AuthError("malformed", "empty Access, SignedHeaders or Signature")
    return access, signed.split(";"), signature


def _verify_huawei(request: WireRequest, secret_for, now, max_skew) -> str:
    authorization = request.header("authorization")
    if not authorization:
        raise AuthError("missing", "no Authorization header")
    access, signed, signature = _huawei_parse(authorization)
    date = request.header("x-sdk-date")
    if not date:
        raise AuthError("missing", "no X-Sdk-Date header")
    moment = _parse_basic_date(date)
    lowered = {name.lower() for name in signed}
    for required in ("host", "x-sdk-date") + (("x-project-id",) if request.header("x-project-id") else ()):
        if required not in lowered:
            raise AuthError("malformed", f"{required!r} is not among the signed headers")
    for name in signed:
        if request.header(name) is None:
            raise AuthError("missing", f"signed header {name!r} is absent")
    content_hash = request.header("x-sdk-content-sha256")
    if request.body and content_hash and content_hash != "UNSIGNED-PAYLOAD":
        _same(_sha256_hex(request.body), content_hash)
    _check_skew(moment, now, max_skew)
    secret = _secret(secret_for, access)
    expected = _huawei_signature(
        secret, request.method, request.path, request.query, request.headers, signed, request.body, date
    )
    _same(expected, signature)
    return access


class HuaweiAkSkAuth(AuthBase):
    """SDK-HMAC-SHA256, as huaweicloudsdkcore's ``Signer`` signs.

    Sets ``Host`` (pinned, so the signed value is the sent one), ``X-Project-Id``
    (when a project id is given and the request has none), ``X-Sdk-Date`` (a
    preset one is kept, as the SDK does) and ``Authorization``. Signed: every
    header on the request except transport ones (Accept, Accept-Encoding,
    Connection, Content-Length, …) and names containing ``_`` — the same set the
    SDK signs (``content-type;host;user-agent;x-project-id;x-sdk-date``). The
    body is always covered (we never send ``UNSIGNED-PAYLOAD``).
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        project_id: str | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("huawei-aksk needs access_key and secret_key")
        self.access_key, self.secret_key, self.project_id, self.clock = access_key, secret_key, project_id, clock

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _prepare_body(request)
        request.headers.pop("Authorization", None)
        _set_host(request)
        if self.project_id and "X-Project-Id" not in request.headers:
            request.headers["X-Project-Id"] = self.project_id
        date = request.headers.get("X-Sdk-Date") or self.clock().strftime(_BASIC_DATE)
        request.headers["X-Sdk-Date"] = date
        signed = [name for name in _sign_headers_of(request, ()) if "_" not in name]
        parts = urlsplit(request.url or "")
        signature = _huawei_signature(
            self.secret_key, request.method or "GET", parts.path, parts.query, request.headers, signed, body, date
        )
        request.headers["Authorization"] = (
            f"{HUAWEI_ALGORITHM} Access={self.access_key}, SignedHeaders={';'.join(signed)}, Signature={signature}"
        )
        return request


# -- jdcloud-hmac --------------------------------------------------------------------


def _jdcloud_uri(path: str) -> str:
    decoded = re.sub("/+", "/", unquote_plus(path))
    if not decoded:
        return "/"
    encoded = quote(decoded, safe="/~")
    return encoded if encoded.startswith("/") else "/" + encoded


def _jdcloud_query(query: str) -> str:
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        items = [quote(unquote_plus(item), safe="~") for item in part.split("=", 1)]
        if items[0] and len(items) == 2:  # jdcloud-sdk leaves out 'name' without '=' and empty names
            pairs.append(items)
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


@functools.lru_cache(maxsize=256)  # one key per secret and day: a verifier derives it once
def _jdcloud_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("JDCLOUD3" + secret).encode("utf-8")
    for part in (date, region, service, JDCLOUD_TERMINATOR):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return key


def _jdcloud_signature(
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
    date: str,
    region: str,
    service: str,
) -> str:
    canonical = "\n".join(
        [method.upper(), _jdcloud_uri(path), _jdcloud_query(query), _canonical_headers(headers, signed), ";".join(signed), _sha256_hex(body)]
    )
    scope = f"{date[:8]}/{region}/{service}/{JDCLOUD_TERMINATOR}"
    to_sign = f"{JDCLOUD_ALGORITHM}\n{date}\n{scope}\n{_sha256_hex(canonical.encode('utf-8'))}"
    return hmac.digest(_jdcloud_key(secret, date[:8], region, service), to_sign.encode("utf-8"), "sha256").hex()


def _jdcloud_parse(authorization: str) -> tuple[str, str, str, str, list[str], str]:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != JDCLOUD_ALGORITHM:
        raise AuthError("malformed", f"algorithm {algorithm!r} is not {JDCLOUD_ALGORITHM}")
    fields = _parse_fields(rest)
    try:
        credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError as missing:
        raise AuthError("malformed", f"Authorization lacks {missing.args[0]}") from None
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not all(parts) or parts[4] != JDCLOUD_TERMINATOR:
        raise AuthError("malformed", f"credential {credential!r} is not AK/DATE/REGION/SERVICE/{JDCLOUD_TERMINATOR}")
    if not signed or not signature:
        raise AuthError("malformed", "empty SignedHeaders or Signature")
    access, day, region, service, _ = parts
    return access, day, region, service, signed.split(";"), signature


def _verify_jdcloud(request: WireRequest, secret_for, now, max_skew) -> str:
    authorization = request.header("authorization")
    if not authorization:
        raise AuthError("missing", "no Authorization header")
    access, day, region, service, signed, signature = _jdcloud_parse(authorization)
    if service != JDCLOUD_SERVICE:
        raise AuthError("malformed", f"credential scope service {service!r} is not {JDCLOUD_SERVICE!r}")
    date = request.header("x-jdcloud-date")
    if not date:
        raise AuthError("missing", "no x-jdcloud-date header")
    if not request.header("x-jdcloud-nonce"):
        raise AuthError("missing", "no x-jdcloud-nonce header")
    moment = _parse_basic_date(date)
    if "host" not in {name.lower() for name in signed}:
        raise AuthError("malformed", "'host' is not among the signed headers")
    for name in signed:
        if request.header(name) is None:
            raise AuthError("missing", f"signed header {name!r} is absent")
    if day != date[:8]:
        raise AuthError("bad-signature", f"credential date {day} is not the day of x-jdcloud-date {date}")
    content_hash = request.header("x-jdcloud-content-sha256")
    if content_hash is not None:
        _same(_sha256_hex(request.body), content_hash.strip())
    _check_skew(moment, now, max_skew)
    secret = _secret(secret_for, access)
    expected = _jdcloud_signature(
        secret, request.method, request.path, request.query, request.headers, signed, request.body, date, region, service
    )
    _same(expected, signature)
    return access


_REGION_IN_PATH = re.compile(r"/regions/([^/?]+)")


class JdcloudHmacAuth(AuthBase):
    """JDCLOUD3-HMAC-SHA256, as jdcloud-sdk's ``Signer`` signs.

    Sets ``Host`` (pinned), ``x-jdcloud-date``, ``x-jdcloud-nonce`` (preset ones
    are kept, as the SDK does), ``x-jdcloud-content-sha256``, the SDK's
    ``JDCLOUD3-HMAC-SHA256: JDCLOUD3-HMAC-SHA256`` marker header and
    ``Authorization``. Signed: ``host`` and every other header on the request
    except ``user-agent``, transport headers and the ones this signer adds —
    what the SDK signs (``content-type;host``). The region of the credential
    scope is ``region_id``, else the ``/regions/{id}/`` of the path, else
    ``jdcloud-api`` (the SDK takes the call's ``regionId`` parameter).
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region_id: str | None = None,
        *,
        service: str = JDCLOUD_SERVICE,
        clock: Callable[[], datetime] = _utcnow,
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("jdcloud-hmac needs access_key and secret_key")
        self.access_key, self.secret_key, self.region_id = access_key, secret_key, region_id
        self.service, self.clock, self.nonce = service, clock, nonce

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _prepare_body(request)
        request.headers.pop("Authorization", None)
        _set_host(request)
        parts = urlsplit(request.url or "")
        region = self.region_id
        if not region:
            found = _REGION_IN_PATH.search(parts.path)
            region = unquote(found.group(1)) if found else JDCLOUD_DEFAULT_REGION
        date = request.headers.get("x-jdcloud-date") or self.clock().strftime(_BASIC_DATE)
        nonce = request.headers.get("x-jdcloud-nonce") or self.nonce()
        signed = sorted(set(_sign_headers_of(request, _JDCLOUD_UNSIGNED)) | {"host"})
        signature = _jdcloud_signature(
            self.secret_key,
            request.method or "GET",
            parts.path,
            parts.query,
            request.headers,
            signed,
            body,
            date,
            region,
            self.service,
        )
        scope = f"{date[:8]}/{region}/{self.service}/{JDCLOUD_TERMINATOR}"
        request.headers["Authorization"] = (
            f"{JDCLOUD_ALGORITHM} Credential={self.access_key}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, Signature={signature}"
        )
        request.headers["x-jdcloud-date"] = date
        request.headers["x-jdcloud-content-sha256"] = _sha256_hex(body)
        request.headers[JDCLOUD_ALGORITHM] = JDCLOUD_ALGORITHM
        request.headers["x-jdcloud-nonce"] = nonce
        return request


# -- apsara-aksk ---------------------------------------------------------------------


def _apsara_resource(path: str, query: str) -> str:
    pairs: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        if part:
            name, sep, value = part.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(value) if sep else None))
    pairs.sort(key=lambda pair: pair[0])
    resource = unquote(path or "/")
    if pairs:
        resource += "?" + "&".join(name if value is None else f"{name}={value}" for name, value in pairs)
    return resource


def _apsara_string_to_sign(method: str, path: str, query: str, headers: Mapping[str, str]) -> str:
    lines = [method.upper()]
    for name in ("accept", "content-md5", "content-type", "date"):
        lines.append(_get(headers, name) or "")
    acs = sorted((name.lower(), value) for name, value in headers.items() if name.lower().startswith("x-acs-"))
    return "\n".join(lines) + "\n" + "".join(f"{name}:{value}\n" for name, value in acs) + _apsara_resource(path, query)


def _apsara_signature(secret: str, method: str, path: str, query: str, headers: Mapping[str, str]) -> str:
    digest = hmac.new(secret.encode("utf-8"), _apsara_string_to_sign(method, path, query, headers).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def _content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


# a verifier sees the same second's date many times (a datetime is immutable: safe to share)
_parse_http_date = functools.lru_cache(maxsize=256)(parsedate_to_datetime)


def _apsara_parse(authorization: str) -> tuple[str, str]:
    word, _, rest = authorization.strip().partition(" ")
    if word != "acs":
        raise AuthError("malformed", "Authorization is not 'acs AK:signature'")
    access, sep, signature = rest.strip().rpartition(":")
    if not sep or not access or not signature:
        raise AuthError("malformed", "Authorization is not 'acs AK:signature'")
    return access, signature


def _verify_apsara(request: WireRequest, secret_for, now, max_skew) -> str:
    authorization = request.header("authorization")
    if not authorization:
        raise AuthError("missing", "no Authorization header")
    access, signature = _apsara_parse(authorization)
    date = request.header("date")
    if not date:
        raise AuthError("missing", "no Date header")
    try:
        moment = _parse_http_date(date)
    except (TypeError, ValueError, IndexError):
        raise AuthError("malformed", f"Date {date!r} is not an RFC 2616 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    method = request.header("x-acs-signature-method")
    if method is not None and method != "HMAC-SHA1":
        raise AuthError("malformed", f"x-acs-signature-method {method!r} is not HMAC-SHA1")
    version = request.header("x-acs-signature-version")
    if version is not None and version != "1.0":
        raise AuthError("malformed", f"x-acs-signature-version {version!r} is not 1.0")
    md5 = request.header("content-md5")
    if request.body and not md5:
        raise AuthError("missing", "a request with a body needs Content-MD5")
    if md5 is not None:
        _same(_content_md5(request.body), md5.strip())
    _check_skew(moment, now, max_skew)
    secret = _secret(secret_for, access)
    _same(_apsara_signature(secret, request.method, request.path, request.query, request.headers), signature)
    return access


class ApsaraAkSkAuth(AuthBase):
    """``acs AK:signature``, as aliyunsdkcore signs a ROA-style ``CommonRequest``.

    Sets ``Date`` (a preset one is kept; the SDK always sets its own),
    ``x-acs-signature-method: HMAC-SHA1``, ``x-acs-signature-version: 1.0``,
    ``x-acs-version`` (ECS's ``2016-01-01``) and ``x-acs-region-id`` when absent,
    ``Content-MD5`` for a body, and ``Authorization``. The SDK also puts
    ``RegionId`` in the query and sends ``Accept: application/json``; building
    the URL and choosing Accept stay with the caller.
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region_id: str | None = None,
        *,
        api_version: str = APSARA_API_VERSION,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("apsara-aksk needs access_key and secret_key")
        self.access_key, self.secret_key, self.region_id = access_key, secret_key, region_id
        self.api_version, self.clock = api_version, clock

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _prepare_body(request)
        request.headers.pop("Authorization", None)
        _set_host(request)
        if not request.headers.get("Date"):
            request.headers["Date"] = formatdate(self.clock().timestamp(), usegmt=True)
        defaults = {
            "x-acs-version": self.api_version,
            "x-acs-signature-method": "HMAC-SHA1",
            "x-acs-signature-version": "1.0",
        }
        if self.region_id:
            defaults["x-acs-region-id"] = self.region_id
        for name, value in defaults.items():
            if name not in request.headers:
                request.headers[name] = value
        if body or "Content-MD5" in request.headers:
            request.headers["Content-MD5"] = _content_md5(body)  # a stale one would be refused
        parts = urlsplit(request.url or "")
        signature = _apsara_signature(self.secret_key, request.method or "GET", parts.path, parts.query, request.headers)
        request.headers["Authorization"] = f"acs {self.access_key}:{signature}"
        return request


# -- token and none ------------------------------------------------------------------


class NoAuth(AuthBase):
    """Sends the request as it is."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class TokenAuth(AuthBase):
    """``X-Auth-Token: <token>`` (Keystone/IAM token)."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("token scheme needs a token")
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-Auth-Token"] = self.token
        return request


def _verify_token(request: WireRequest, secret_for, now, max_skew) -> str:
    token = (request.header("x-auth-token") or "").strip()
    if not token:
        raise AuthError("missing", "no X-Auth-Token header")
    if secret_for(token) is None:
        raise AuthError("unknown-key", "the token is not valid")
    return token


def _verify_none(request: WireRequest, secret_for, now, max_skew) -> str:
    return ""


# -- the registry: one entry a scheme ------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """A target file's [auth] secrets (resolved) and the scope values a signer puts on the wire."""

    access_key: str | None = None
    secret_key: str | None = None
    token: str | None = None
    project_id: str | None = None
    region_id: str | None = None


@dataclass(frozen=True)
class Scheme:
    """Everything about one scheme: the [auth] keys it needs (and which of them is the
    secret), how a client signs, how a server verifies, how a request shows it carries the
    scheme at all, and whose key it claims (read without checking anything)."""

    name: str
    keys: tuple[str, ...]
    secret: str | None
    sign: Callable[[Credentials], AuthBase]
    verify: Callable[[WireRequest, Callable[[str], str | None], datetime | None, timedelta], str]
    presented: Callable[[Mapping[str, str]], bool]
    claimed_key: Callable[[Mapping[str, str]], str | None]


def _in_authorization(marker: str, parse: Callable[[str], tuple[str, ...]]) -> dict[str, Callable[..., Any]]:
    """`presented` and `claimed_key` of a scheme that signs in the Authorization header:
    its value starts with `marker`; `parse` reads the access key first."""

    def presented(headers: Mapping[str, str]) -> bool:
        return (_get(headers, "authorization") or "").strip().lower().startswith(marker)

    def claimed_key(headers: Mapping[str, str]) -> str | None:
        authorization = _get(headers, "authorization")
        if not authorization:
            return None
        try:
            return parse(authorization)[0]
        except AuthError:
            return None

    return {"presented": presented, "claimed_key": claimed_key}


_AK_SK = ("access_key", "secret_key")
REGISTRY: dict[str, Scheme] = {entry.name: entry for entry in (
    Scheme("none", keys=(), secret=None, sign=lambda c: NoAuth(), verify=_verify_none,
           presented=lambda headers: True, claimed_key=lambda headers: None),
    Scheme("token", keys=("token",), secret="token", sign=lambda c: TokenAuth(c.token or ""), verify=_verify_token,
           presented=lambda headers: bool(_get(headers, "x-auth-token")),
           claimed_key=lambda headers: (_get(headers, "x-auth-token") or "").strip() or None),
    Scheme("huawei-aksk", keys=_AK_SK, secret="secret_key", verify=_verify_huawei,
           sign=lambda c: HuaweiAkSkAuth(c.access_key or "", c.secret_key or "", c.project_id),
           **_in_authorization("sdk-", _huawei_parse)),
    Scheme("jdcloud-hmac", keys=_AK_SK, secret="secret_key", verify=_verify_jdcloud,
           sign=lambda c: JdcloudHmacAuth(c.access_key or "", c.secret_key or "", c.region_id),
           **_in_authorization("jdcloud", _jdcloud_parse)),
    Scheme("apsara-aksk", keys=_AK_SK, secret="secret_key", verify=_verify_apsara,
           sign=lambda c: ApsaraAkSkAuth(c.access_key or "", c.secret_key or "", c.region_id),
           **_in_authorization("acs ", _apsara_parse)),
)}
SCHEMES = tuple(REGISTRY)


def lookup(name: str, expected: bool = True) -> Scheme:
    """The registry's entry, or ValueError naming the schemes there are."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown auth scheme {name!r}" + (f"; expected one of {', '.join(SCHEMES)}"
                                                             if expected else "")) from None


# -- public entry points -------------------------------------------------------------


def client_auth(
    scheme: str,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    token: str | None = None,
    project_id: str | None = None,
    region_id: str | None = None,
) -> AuthBase:
    """The ``requests`` auth for a target file's ``[auth]`` (secrets already resolved).

    ``project_id`` is sent as ``X-Project-Id`` by huawei-aksk; ``region_id`` is
    the jdcloud-hmac credential scope's region and apsara-aksk's
    ``x-acs-region-id``. Raises ``ValueError`` for an unknown scheme or a
    missing credential.
    """
    return lookup(scheme).sign(Credentials(access_key, secret_key, token, project_id, region_id))


def verify(
    scheme: str,
    request: WireRequest,
    secret_for: Callable[[str], str | None],
    *,
    now: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=15),
) -> str:
    """Check ``request``'s authentication under ``scheme``.

    ``secret_for(access_key)`` gives the secret key, or ``None`` for an unknown
    key; for ``token``, ``secret_for(token)`` not ``None`` means the token is
    valid. Returns the access key (the token; ``""`` for ``none``) that
    authenticated, or raises :class:`AuthError`. ``now`` (default: the clock,
    UTC) and ``max_skew`` bound the request's own date. Stateless: nonces are
    not remembered, so replay inside the skew window is not detected.
    """
    return lookup(scheme).verify(request, secret_for, now, max_skew)


def presented(scheme: str, headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` carry credentials of ``scheme`` at all (``none`` always
    does) — to pick the scheme to verify when a dialect accepts several."""
    return lookup(scheme, expected=False).presented(headers)


def claimed_key(scheme: str, headers: Mapping[str, str]) -> str | None:
    """The access key (or token) the request claims, without checking anything;
    ``None`` when it claims none or it cannot be read."""
    return lookup(scheme, expected=False).claimed_key(headers)
