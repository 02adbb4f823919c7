"""imagecert.signing: our signers and verifiers agree, refuse every tampering with
the right reason, and are interchangeable with the official SDKs' own signers.

The interoperability tests point huaweicloudsdkcore/huaweicloudsdkims,
jdcloud-sdk and aliyun-python-sdk-core at a loopback HTTP server that records
the raw request, then require (a) our verifier to accept exactly what the SDK
sent and (b) our signer, given the same headers, date and nonce, to produce the
SDK's Authorization header byte for byte.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from imagecert import secrets as policy  # noqa: E402
from imagecert import signing  # noqa: E402
from imagecert.signing import AuthError, WireRequest, client_auth, verify  # noqa: E402

AK, SK = "AKTEST0123456789", "sk/Secret+Key=="
TOKEN = "gAAAAB-token-value"
PROJECT = "0123456789abcdef0123456789abcdef"
REGION = "cn-north-1"

SIGNED_SCHEMES = ("huawei-aksk", "jdcloud-hmac", "apsara-aksk")
ALL_SCHEMES = ("none", "token") + SIGNED_SCHEMES


def secrets(mapping: dict[str, str] | None = None) -> Callable[[str], str | None]:
    known = {AK: SK, TOKEN: "valid"} if mapping is None else mapping
    return known.get


def auth_for(scheme: str) -> requests.auth.AuthBase:
    return client_auth(scheme, access_key=AK, secret_key=SK, token=TOKEN, project_id=PROJECT, region_id=REGION)


def signed(scheme: str, method: str, url: str, **kwargs) -> requests.PreparedRequest:
    """What a suite's session would send: session defaults merged, then our auth."""
    return requests.Session().prepare_request(requests.Request(method, url, auth=auth_for(scheme), **kwargs))


def date_of(wire: WireRequest) -> datetime:
    """The request's own date, whatever the scheme."""
    if wire.header("x-sdk-date"):
        return datetime.strptime(wire.headers["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    if wire.header("x-jdcloud-date"):
        return datetime.strptime(wire.headers["x-jdcloud-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    if wire.header("date"):
        return parsedate_to_datetime(wire.headers["date"])
    return datetime.now(timezone.utc)


def reason(scheme: str, wire: WireRequest, secret_for=None, **kwargs) -> str:
    with pytest.raises(AuthError) as refused:
        verify(scheme, wire, secret_for or secrets(), **kwargs)
    return refused.value.reason


def with_headers(wire: WireRequest, **changes: str | None) -> WireRequest:
    headers = dict(wire.headers)
    for name, value in changes.items():
        name = name.replace("_", "-").lower()
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return replace(wire, headers=headers)


# -- the loopback server -------------------------------------------------------------


class Capture:
    """A loopback HTTP server that records each request as the server saw it."""

    def __init__(self) -> None:
        self.requests: list[WireRequest] = []
        captured = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    name = name.lower()
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                captured.append(WireRequest(self.command, path, query, headers, body))
                answer = json.dumps(
                    {"requestId": "req-1", "result": {"imageId": "img-1"}, "job_id": "job-1", "images": [],
                     "RequestId": "req-1", "ImageId": "m-1"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def last(self) -> WireRequest:
        assert self.requests, "the server saw no request"
        return self.requests[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def loopback() -> Iterator[Capture]:
    capture = Capture()
    yield capture
    capture.close()


# -- (1) round trip ------------------------------------------------------------------

SHAPES = {
    "jd-create-image": dict(
        method="POST",
        path=f"/v1/regions/{REGION}/instances/i-abc123:createImage",
        json={"name": "img", "description": "è ü 中文", "dataDisks": None},
    ),
    "ims-whole-image": dict(method="POST", path="/v1/cloudimages/wholeimages/action", json={"name": "n", "instance_id": "i"}),
    "nova-action": dict(method="POST", path=f"/v2.1/{PROJECT}/servers/s-1/action", json={"createImage": {"name": "x"}}),
    "apsara-form": dict(
        method="POST",
        path="/apsara/route/Ecs/CreateImage",
        params={"RegionId": REGION},
        data={"InstanceId": "i-1", "ImageName": "my image + more", "Tag.1.Key": "k"},
    ),
    "get-tricky-query": dict(
        method="GET",
        path="/v1/images/a%20b/c~d",
        params=[("z", "1"), ("a", "x y"), ("a", "+/é"), ("m", ""), ("b", "a&b=c")],
    ),
    "delete-no-body": dict(method="DELETE", path="/v2/images/img-1/", params={}),
    "trailing-slash-and-colon": dict(method="PUT", path="/v1/x:y/", data=b"\x00\xffraw bytes"),
}


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_round_trip_prepared(scheme: str, shape: str) -> None:
    spec = dict(SHAPES[shape])
    prepared = signed(scheme, spec.pop("method"), "http://127.0.0.1:8642" + spec.pop("path"), **spec)
    wire = WireRequest.from_prepared(prepared)
    expected = {"none": "", "token": TOKEN}.get(scheme, AK)
    assert verify(scheme, wire, secrets()) == expected


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_round_trip_over_the_wire(scheme: str, shape: str, loopback: Capture) -> None:
    """Sent for real through requests/urllib3: what arrives is what was signed."""
    spec = dict(SHAPES[shape])
    method = spec.pop("method")
    response = requests.request(method, loopback.url + spec.pop("path"), auth=auth_for(scheme), timeout=10, **spec)
    assert response.status_code == 200
    assert verify(scheme, loopback.last(), secrets()) == AK


def test_round_trip_token_over_the_wire(loopback: Capture) -> None:
    requests.post(loopback.url + "/v2.1/p/servers/s/action", json={}, auth=auth_for("token"), timeout=10)
    assert loopback.last().headers["x-auth-token"] == TOKEN
    assert verify("token", loopback.last(), secrets()) == TOKEN


def test_text_body_is_signed_as_the_utf8_it_is_sent_as(loopback: Capture) -> None:
    body = '{"name": "镜像"}'
    requests.post(
        loopback.url + "/v1/cloudimages/wholeimages/action",
        data=body,
        headers={"Content-Type": "application/json"},
        auth=auth_for("huawei-aksk"),
        timeout=10,
    )
    assert loopback.last().body == body.encode("utf-8")
    assert verify("huawei-aksk", loopback.last(), secrets()) == AK


def test_default_ports_and_explicit_host() -> None:
    prepared = signed("jdcloud-hmac", "GET", f"https://vm.example.test:443/v1/regions/{REGION}/images")
    assert prepared.headers["Host"] == "vm.example.test"
    prepared = signed("huawei-aksk", "GET", "http://[::1]:8080/v2/cloudimages")
    assert prepared.headers["Host"] == "[::1]:8080"
    assert verify("huawei-aksk", WireRequest.from_prepared(prepared), secrets()) == AK


def test_jdcloud_region_comes_from_the_path_when_not_given() -> None:
    auth = client_auth("jdcloud-hmac", access_key=AK, secret_key=SK)
    prepared = requests.Request("GET", "http://h/v1/regions/cn-east-2/images/img-1", auth=auth).prepare()
    assert "/cn-east-2/vm/jdcloud3_request" in prepared.headers["Authorization"]
    prepared = requests.Request("GET", "http://h/v1/other", auth=auth).prepare()
    assert "/jdcloud-api/vm/jdcloud3_request" in prepared.headers["Authorization"]
    assert verify("jdcloud-hmac", WireRequest.from_prepared(prepared), secrets()) == AK


def test_preset_dates_and_nonce_are_kept() -> None:
    headers = {"X-Sdk-Date": "20240102T030405Z"}
    prepared = requests.Request("GET", "http://h/v2/x", headers=headers, auth=auth_for("huawei-aksk")).prepare()
    assert prepared.headers["X-Sdk-Date"] == "20240102T030405Z"
    headers = {"x-jdcloud-date": "20240102T030405Z", "x-jdcloud-nonce": "n-1"}
    prepared = requests.Request("GET", "http://h/v1/x", headers=headers, auth=auth_for("jdcloud-hmac")).prepare()
    assert (prepared.headers["x-jdcloud-date"], prepared.headers["x-jdcloud-nonce"]) == ("20240102T030405Z", "n-1")
    assert "Credential=AKTEST0123456789/20240102/" in prepared.headers["Authorization"]
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert verify("jdcloud-hmac", WireRequest.from_prepared(prepared), secrets(), now=now) == AK


def test_clock_injection_and_skew_window() -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    for scheme, cls in (("huawei-aksk", signing.HuaweiAkSkAuth), ("jdcloud-hmac", signing.JdcloudHmacAuth),
                        ("apsara-aksk", signing.ApsaraAkSkAuth)):
        auth = cls(AK, SK, clock=lambda: moment)
        wire = WireRequest.from_prepared(requests.Request("POST", "http://h/v1/a", json={}, auth=auth).prepare())
        assert date_of(wire) == moment
        for offset in (timedelta(0), timedelta(minutes=14), -timedelta(minutes=14)):
            assert verify(scheme, wire, secrets(), now=moment + offset) == AK
        for offset in (timedelta(minutes=16), -timedelta(minutes=16)):
            assert reason(scheme, wire, now=moment + offset) == "stale"
        assert verify(scheme, wire, secrets(), now=moment + timedelta(hours=2), max_skew=timedelta(hours=3)) == AK
        naive_now = (moment + timedelta(minutes=20)).replace(tzinfo=None)
        assert reason(scheme, wire, now=naive_now) == "stale"


# -- (2) tampering -------------------------------------------------------------------


@pytest.fixture(params=SIGNED_SCHEMES)
def scheme(request) -> str:
    return request.param


def base_wire(scheme: str) -> WireRequest:
    prepared = signed(
        scheme,
        "POST",
        f"http://127.0.0.1:8642/v1/regions/{REGION}/instances/i-abc:createImage",
        params={"RegionId": REGION, "a": "1"},
        json={"name": "img"},
    )
    wire = WireRequest.from_prepared(prepared)
    assert verify(scheme, wire, secrets()) == AK
    return wire


def test_tampered_body(scheme: str) -> None:
    wire = base_wire(scheme)
    assert reason(scheme, replace(wire, body=b'{"name": "imh"}')) == "bad-signature"
    assert reason(scheme, replace(wire, body=wire.body + b" ")) == "bad-signature"


def test_tampered_body_with_matching_digest_header_still_fails(scheme: str) -> None:
    """Rewriting the body *and* its digest header (Content-MD5 / x-jdcloud-content-sha256)
    is caught by the signature itself."""
    import base64
    import hashlib

    wire = base_wire(scheme)
    body = b'{"name": "evil"}'
    wire = with_headers(
        replace(wire, body=body),
        content_md5=base64.b64encode(hashlib.md5(body).digest()).decode(),
        x_jdcloud_content_sha256=hashlib.sha256(body).hexdigest(),
    )
    assert reason(scheme, wire) == "bad-signature"


def test_tampered_path(scheme: str) -> None:
    wire = base_wire(scheme)
    assert reason(scheme, replace(wire, path=wire.path.replace("i-abc", "i-abd"))) == "bad-signature"
    assert reason(scheme, replace(wire, path=wire.path.replace(":createImage", ":deleteImage"))) == "bad-signature"


def test_tampered_query(scheme: str) -> None:
    wire = base_wire(scheme)
    assert reason(scheme, replace(wire, query=wire.query.replace("a=1", "a=2"))) == "bad-signature"
    assert reason(scheme, replace(wire, query=wire.query + "&b=1")) == "bad-signature"
    assert reason(scheme, replace(wire, query="")) == "bad-signature"


def test_tampered_method(scheme: str) -> None:
    assert reason(scheme, replace(base_wire(scheme), method="PUT")) == "bad-signature"


def test_tampered_signed_header(scheme: str) -> None:
    wire = base_wire(scheme)
    assert reason(scheme, with_headers(wire, content_type="text/plain")) == "bad-signature"
    if scheme != "apsara-aksk":  # apsara does not sign Host
        assert reason(scheme, with_headers(wire, host="other.example:8642")) == "bad-signature"
    if scheme == "huawei-aksk":
        assert reason(scheme, with_headers(wire, x_project_id="another-project")) == "bad-signature"
    if scheme == "apsara-aksk":
        assert reason(scheme, with_headers(wire, x_acs_region_id="cn-other")) == "bad-signature"
        assert reason(scheme, with_headers(wire, x_acs_extra="1")) == "bad-signature"
        assert reason(scheme, with_headers(wire, accept="application/xml")) == "bad-signature"


def test_tampered_date_within_the_window(scheme: str) -> None:
    wire = base_wire(scheme)
    moment = date_of(wire) + timedelta(seconds=1)
    name = {"huawei-aksk": "x-sdk-date", "jdcloud-hmac": "x-jdcloud-date", "apsara-aksk": "date"}[scheme]
    if scheme == "apsara-aksk":
        value = moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    else:
        value = moment.strftime("%Y%m%dT%H%M%SZ")
    assert reason(scheme, with_headers(wire, **{name: value}), now=moment) == "bad-signature"


def test_wrong_secret(scheme: str) -> None:
    assert reason(scheme, base_wire(scheme), secrets({AK: SK + "x"})) == "bad-signature"


def test_unknown_key(scheme: str) -> None:
    assert reason(scheme, base_wire(scheme), secrets({"SOMEONE-ELSE": SK})) == "unknown-key"


def test_missing_authorization(scheme: str) -> None:
    assert reason(scheme, with_headers(base_wire(scheme), authorization=None)) == "missing"


def test_missing_date(scheme: str) -> None:
    name = {"huawei-aksk": "x_sdk_date", "jdcloud-hmac": "x_jdcloud_date", "apsara-aksk": "date"}[scheme]
    assert reason(scheme, with_headers(base_wire(scheme), **{name: None})) == "missing"


def test_missing_scheme_specific_header(scheme: str) -> None:
    wire = base_wire(scheme)
    if scheme == "huawei-aksk":
        assert reason(scheme, with_headers(wire, content_type=None)) == "missing"  # a signed header
        assert reason(scheme, with_headers(wire, host=None)) == "missing"
    elif scheme == "jdcloud-hmac":
        assert reason(scheme, with_headers(wire, x_jdcloud_nonce=None)) == "missing"
        assert reason(scheme, with_headers(wire, content_type=None)) == "missing"
    else:
        assert reason(scheme, with_headers(wire, content_md5=None)) == "missing"


def test_stale(scheme: str) -> None:
    wire = base_wire(scheme)
    assert reason(scheme, wire, now=date_of(wire) + timedelta(minutes=16)) == "stale"
    assert reason(scheme, wire, now=date_of(wire) - timedelta(minutes=16)) == "stale"
    assert reason(scheme, wire, now=date_of(wire) + timedelta(minutes=5), max_skew=timedelta(minutes=1)) == "stale"


MALFORMED = {
    "huawei-aksk": [
        "garbage",
        "SDK-HMAC-SM3 Access=AK, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 Access=AK, Signature=00",
        "SDK-HMAC-SHA256 Access=AK SignedHeaders=host Signature=00",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;x-sdk-date, Signature=00",  # host not signed
    ],
    "jdcloud-hmac": [
        "garbage",
        "JDCLOUD2-HMAC-SHA256 Credential=AK/20240101/r/vm/jdcloud2_request, SignedHeaders=host, Signature=00",
        "JDCLOUD3-HMAC-SHA256 Credential=AK/20240101/r/vm, SignedHeaders=host, Signature=00",
        "JDCLOUD3-HMAC-SHA256 Credential=AK/20240101/r/vm/jdcloud3_request, Signature=00",
        "JDCLOUD3-HMAC-SHA256 Credential=AK/20240101/r/ecs/jdcloud3_request, SignedHeaders=host, Signature=00",
    ],
    "apsara-aksk": ["garbage", "acs AK-without-signature", "acs :sig", "ACS4-HMAC-SHA256 Credential=x"],
}


def test_malformed_authorization(scheme: str) -> None:
    wire = base_wire(scheme)
    for value in MALFORMED[scheme]:
        assert reason(scheme, with_headers(wire, authorization=value)) == "malformed", value


def test_malformed_date(scheme: str) -> None:
    name = {"huawei-aksk": "x_sdk_date", "jdcloud-hmac": "x_jdcloud_date", "apsara-aksk": "date"}[scheme]
    assert reason(scheme, with_headers(base_wire(scheme), **{name: "yesterday"})) == "malformed"


def test_huawei_project_header_must_be_signed() -> None:
    wire = base_wire("huawei-aksk")
    authorization = wire.headers["authorization"].replace(";x-project-id", "")
    assert reason("huawei-aksk", with_headers(wire, authorization=authorization)) == "malformed"


def test_apsara_signature_method_must_be_hmac_sha1() -> None:
    wire = base_wire("apsara-aksk")
    assert reason("apsara-aksk", with_headers(wire, x_acs_signature_method="HMAC-SHA256")) == "malformed"


def test_token() -> None:
    wire = WireRequest.from_prepared(signed("token", "POST", "http://h/v2.1/p/servers/s/action", json={}))
    assert verify("token", wire, secrets()) == TOKEN
    assert reason("token", wire, secrets({})) == "unknown-key"
    assert reason("token", with_headers(wire, x_auth_token=None)) == "missing"
    assert reason("token", with_headers(wire, x_auth_token=" ")) == "missing"
    # a token is a bearer secret: body and path are not covered
    assert verify("token", replace(wire, body=b"{}", path="/elsewhere"), secrets()) == TOKEN


def test_none_accepts_anything() -> None:
    assert verify("none", WireRequest("GET", "/", "", {}, b""), secrets({})) == ""


def test_unknown_scheme() -> None:
    with pytest.raises(ValueError):
        verify("basic", WireRequest("GET", "/", "", {}, b""), secrets())
    with pytest.raises(ValueError):
        client_auth("basic")


@pytest.mark.parametrize("scheme", ("token",) + SIGNED_SCHEMES)
def test_client_auth_needs_credentials(scheme: str) -> None:
    with pytest.raises(ValueError):
        client_auth(scheme)


def test_auth_error_reasons_are_closed() -> None:
    assert set(signing.REASONS) == {"missing", "malformed", "unknown-key", "bad-signature", "stale"}
    with pytest.raises(ValueError):
        AuthError("nope")


def test_presented_and_claimed_key() -> None:
    for scheme in ALL_SCHEMES:
        wire = WireRequest.from_prepared(signed(scheme, "POST", "http://h/v1/x", json={}))
        for other in ALL_SCHEMES:
            assert signing.presented(other, wire.headers) == (other in ("none", scheme)), (scheme, other)
        expected = {"none": None, "token": TOKEN}.get(scheme, AK)
        assert signing.claimed_key(scheme, wire.headers) == expected
        # claimed_key does not check the signature
        if scheme in SIGNED_SCHEMES:
            forged = wire.headers["authorization"].replace(AK, "FORGED")
            assert signing.claimed_key(scheme, {"Authorization": forged}) == "FORGED"
    assert signing.claimed_key("huawei-aksk", {"authorization": "garbage"}) is None
    assert signing.claimed_key("jdcloud-hmac", {}) is None


def test_redaction() -> None:
    for scheme in ("token",) + SIGNED_SCHEMES:
        prepared = signed(scheme, "POST", "http://h/v1/x", json={})
        redacted = policy.redact_headers(prepared.headers)
        for name, value in redacted.items():
            if name.lower() in ("authorization", "x-auth-token"):
                assert value == policy.REDACTED
        assert SK not in json.dumps(redacted) and TOKEN not in json.dumps(redacted)
    query = "Action=CreateImage&Signature=abc%3D&AccessKeyId=AK&SecurityToken=tok&Name=x"
    assert policy.redact_query(query) == (
        "Action=CreateImage&Signature=%3Credacted%3E&AccessKeyId=%3Credacted%3E&SecurityToken=%3Credacted%3E&Name=x"
    )


def test_wire_request_from_asgi() -> None:
    scope = {
        "type": "http",
        "method": "post",
        "path": "/v1/a b:c",
        "raw_path": b"/v1/a%20b:c",
        "query_string": b"x=1%202",
        "headers": [(b"Host", b"h:1"), (b"X-Sdk-Date", b"20240101T000000Z")],
    }
    wire = WireRequest.from_asgi(scope, b"{}")
    assert wire == WireRequest("POST", "/v1/a%20b:c", "x=1%202", {"host": "h:1", "x-sdk-date": "20240101T000000Z"}, b"{}")


def test_canonical_forms_match_the_sdks_documented_quirks() -> None:
    # Huawei: every segment re-encoded (':' -> %3A), '/' appended; query decoded, sorted, re-encoded.
    assert signing._huawei_uri("/v1/instances/i-1:createImage") == "/v1/instances/i-1%3AcreateImage/"
    assert signing._huawei_uri("/v2/a%20b/") == "/v2/a%20b/"
    assert signing._huawei_query("b=2&a=x+y&a=%C3%A9&c") == "a=x%2By&a=%C3%A9&b=2&c="  # sorted on decoded values
    # JD: '+' is a space, runs of '/' collapse, ':' -> %3A, no trailing '/'; query parts without '=' dropped.
    assert signing._jdcloud_uri("/v1//regions/r/instances/i-1:createImage") == "/v1/regions/r/instances/i-1%3AcreateImage"
    assert signing._jdcloud_uri("/a+b/") == "/a%20b/"
    assert signing._jdcloud_query("b=2&a=x+y&flag&=v&c=%7E") == "a=x%20y&b=2&c=~"
    # Apsara: decoded path and pairs, sorted by name only, bare names kept bare.
    assert signing._apsara_resource("/apsara/route/Ecs/CreateImage", "RegionId=cn&A=a+b%2Bc&flag") == (
        "/apsara/route/Ecs/CreateImage?A=a b+c&RegionId=cn&flag"
    )
    assert signing._apsara_resource("/p", "b=2&a=2&a=1") == "/p?a=2&a=1&b=2"  # by name only, stable


def test_jdcloud_ignores_query_parts_without_equals() -> None:
    """jdcloud-sdk leaves a query part with no '=' out of the signature; so do we
    (a JD server must accept what the SDK signs)."""
    wire = base_wire("jdcloud-hmac")
    assert verify("jdcloud-hmac", replace(wire, query=wire.query + "&dryRun"), secrets()) == AK


# -- (3) interoperability with the official SDKs ---------------------------------------------


def resign(wire: WireRequest, base_url: str, auth: requests.auth.AuthBase) -> requests.PreparedRequest:
    """Our signer over the same request the SDK sent: same method, target, body and
    headers (Authorization and transport headers dropped; dates and nonce kept)."""
    drop = {"authorization", "content-length", "accept-encoding", "connection"}
    headers = {name: value for name, value in wire.headers.items() if name not in drop}
    url = base_url + wire.path + (f"?{wire.query}" if wire.query else "")
    prepared = requests.Request(wire.method, url, headers=headers, data=wire.body or None).prepare()
    return auth(prepared)


def assert_interoperable(scheme: str, wire: WireRequest, base_url: str, auth: requests.auth.AuthBase) -> None:
    # (a) we accept exactly what the SDK sent ...
    assert verify(scheme, wire, secrets(), now=date_of(wire)) == AK
    # ... and refuse it once tampered with
    if wire.body:
        assert reason(scheme, replace(wire, body=wire.body[:-1] + b"X"), now=date_of(wire)) == "bad-signature"
    assert reason(scheme, replace(wire, path=wire.path + "x"), now=date_of(wire)) == "bad-signature"
    assert reason(scheme, wire, secrets({AK: "wrong"}), now=date_of(wire)) == "bad-signature"
    # (b) our signer, same inputs: the same Authorization, byte for byte
    ours = resign(wire, base_url, auth)
    assert ours.headers["Authorization"] == wire.headers["authorization"]


@pytest.fixture(scope="module")
def huawei_client(loopback: Capture):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkims.v2 import ImsClient

    return (
        ImsClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([loopback.url])
        .build()
    )


def test_huaweicloudsdk_create_whole_image(loopback: Capture, huawei_client) -> None:
    from huaweicloudsdkims.v2 import CreateWholeImageRequest, CreateWholeImageRequestBody

    body = CreateWholeImageRequestBody(name="整机镜像-1", instance_id="i-123", description="from a server")
    huawei_client.create_whole_image(CreateWholeImageRequest(body=body))
    wire = loopback.last()
    assert (wire.method, wire.path) == ("POST", "/v1/cloudimages/wholeimages/action")
    assert wire.headers["x-project-id"] == PROJECT
    assert "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date," in wire.headers["authorization"]
    assert_interoperable("huawei-aksk", wire, loopback.url, auth_for("huawei-aksk"))


def test_huaweicloudsdk_list_images_with_query(loopback: Capture, huawei_client) -> None:
    from huaweicloudsdkims.v2 import ListImagesRequest

    huawei_client.list_images(ListImagesRequest(name="a b+c/é", limit=5, imagetype="private", tag="k.v"))
    wire = loopback.last()
    assert wire.method == "GET" and wire.path == "/v2/cloudimages"
    assert "name=a%20b%2Bc%2F%C3%A9" in wire.query
    assert_interoperable("huawei-aksk", wire, loopback.url, auth_for("huawei-aksk"))
    assert reason("huawei-aksk", replace(wire, query=wire.query.replace("limit=5", "limit=6")), now=date_of(wire)) == (
        "bad-signature"
    )


@pytest.mark.filterwarnings("ignore:Method 'show_job' of ImsClient is deprecated:DeprecationWarning")
def test_huaweicloudsdk_job_query(loopback: Capture, huawei_client) -> None:
    from huaweicloudsdkims.v2 import ShowJobRequest

    huawei_client.show_job(ShowJobRequest(job_id="job 1/2"))
    wire = loopback.last()
    assert wire.path == f"/v1/{PROJECT}/jobs/job%201%2F2"
    assert_interoperable("huawei-aksk", wire, loopback.url, auth_for("huawei-aksk"))


def test_huaweicloudsdk_signer_directly() -> None:
    """The SDK's Signer on a hand-made request: a ':' path, repeated and encoded query values."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    request = SdkRequest(
        method="POST",
        schema="http",
        host="ims.example.test:8443",
        resource_path="/v2.1/p/servers/s%201:createImage",
        query_params=[("b", "2"), ("a", ["z", "x y"]), ("c", True), ("é", "~*")],
        header_params={"Content-Type": "application/json", "X-Project-Id": "p", "X-Custom": " padded "},
        body=b'{"createImage": {"name": "x"}}',
    )
    Signer(BasicCredentials(AK, SK)).sign(request)
    path, _, query = request.uri.partition("?")
    assert query == "a=x%20y&a=z&b=2&c=true&%C3%A9=~%2A"
    wire = WireRequest(
        "POST", path, query, {k.lower(): v for k, v in request.header_params.items()}, request.body
    )
    assert_interoperable("huawei-aksk", wire, "http://ims.example.test:8443", signing.HuaweiAkSkAuth(AK, SK))


def test_huaweicloudsdk_unsigned_payload_is_accepted() -> None:
    """For a content type other than JSON/BSON the SDK sends X-Sdk-Content-Sha256:
    UNSIGNED-PAYLOAD and leaves the body out of the signature; we accept that."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    request = SdkRequest(
        method="PUT", schema="http", host="h", resource_path="/v1/file", query_params=[],
        header_params={"Content-Type": "application/octet-stream"}, body=b"\x00\x01",
    )
    Signer(BasicCredentials(AK, SK)).sign(request)
    wire = WireRequest("PUT", "/v1/file", "", {k.lower(): v for k, v in request.header_params.items()}, request.body)
    assert wire.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert verify("huawei-aksk", wire, secrets(), now=date_of(wire)) == AK


@pytest.fixture(scope="module")
def jdcloud_client(loopback: Capture):
    from jdcloud_sdk.core.config import Config
    from jdcloud_sdk.core.credential import Credential
    from jdcloud_sdk.core.logger import ERROR, Logger
    from jdcloud_sdk.services.vm.client.VmClient import VmClient

    host = loopback.url.removeprefix("http://")
    return VmClient(Credential(AK, SK), Config(host, scheme="http"), Logger(ERROR))


def test_jdcloud_sdk_create_image(loopback: Capture, jdcloud_client) -> None:
    from jdcloud_sdk.services.vm.apis.CreateImageRequest import CreateImageParameters, CreateImageRequest

    parameters = CreateImageParameters(REGION, "i-abc123", "image-1")
    parameters.setDescription("描述 with spaces")
    response = jdcloud_client.send(CreateImageRequest(parameters))
    assert response.error is None
    wire = loopback.last()
    assert (wire.method, wire.path) == ("POST", f"/v1/regions/{REGION}/instances/i-abc123:createImage")  # literal ':'
    assert json.loads(wire.body)["dataDisks"] is None  # every parameter, nulls included
    assert "SignedHeaders=content-type;host," in wire.headers["authorization"]
    assert f"/{REGION}/vm/jdcloud3_request" in wire.headers["authorization"]
    assert wire.headers["jdcloud3-hmac-sha256"] == "JDCLOUD3-HMAC-SHA256"
    assert_interoperable("jdcloud-hmac", wire, loopback.url, auth_for("jdcloud-hmac"))
    # and the nonce our signer keeps is the SDK's
    ours = resign(wire, loopback.url, auth_for("jdcloud-hmac"))
    assert ours.headers["x-jdcloud-nonce"] == wire.headers["x-jdcloud-nonce"]
    assert ours.headers["x-jdcloud-content-sha256"] == wire.headers["x-jdcloud-content-sha256"]


def test_jdcloud_sdk_describe_images_with_query(loopback: Capture, jdcloud_client) -> None:
    from jdcloud_sdk.services.vm.apis.DescribeImagesRequest import DescribeImagesParameters, DescribeImagesRequest

    parameters = DescribeImagesParameters(REGION)
    parameters.setPageSize(10)
    parameters.setImageSource("private")
    parameters.setIds(["img-1", "img 2"])
    jdcloud_client.send(DescribeImagesRequest(parameters))
    wire = loopback.last()
    assert wire.method == "GET" and "ids.2=img%202" in wire.query
    assert_interoperable("jdcloud-hmac", wire, loopback.url, auth_for("jdcloud-hmac"))
    assert reason("jdcloud-hmac", replace(wire, query=wire.query.replace("pageSize=10", "pageSize=11")),
                  now=date_of(wire)) == "bad-signature"


def test_jdcloud_sdk_describe_image(loopback: Capture, jdcloud_client) -> None:
    from jdcloud_sdk.services.vm.apis.DescribeImageRequest import DescribeImageParameters, DescribeImageRequest

    jdcloud_client.send(DescribeImageRequest(DescribeImageParameters(REGION, "img-xyz")))
    wire = loopback.last()
    assert wire.path == f"/v1/regions/{REGION}/images/img-xyz"
    assert_interoperable("jdcloud-hmac", wire, loopback.url, auth_for("jdcloud-hmac"))


def test_jdcloud_sdk_signer_directly() -> None:
    """The SDK's Signer on a hand-made URL: '+' in the path, a bare query name, a region of its own."""
    from jdcloud_sdk.core.credential import Credential
    from jdcloud_sdk.core.logger import ERROR, Logger
    from jdcloud_sdk.core.signer import Signer

    url = "http://vm.example.test:8000/v1/regions/cn-east-2/instances/i+1:createImage?b=2&a=x+y&flag&c=%7E"
    headers = {"Content-Type": "application/json", "x-jdcloud-pin": "cGlu"}
    body = '{"name": "x"}'
    Signer(Logger(ERROR)).sign(
        method="POST", service="vm", region="cn-east-2", uri=url, headers=headers, data=body,
        credential=Credential(AK, SK), security_token="",
    )
    headers["Host"] = "vm.example.test:8000"
    wire = WireRequest(
        "POST", "/v1/regions/cn-east-2/instances/i+1:createImage", "b=2&a=x+y&flag&c=%7E",
        {k.lower(): v for k, v in headers.items()}, body.encode(),
    )
    assert "SignedHeaders=content-type;host;x-jdcloud-pin," in wire.headers["authorization"]
    auth = signing.JdcloudHmacAuth(AK, SK)  # region taken from the path, as the SDK takes regionId
    assert_interoperable("jdcloud-hmac", wire, "http://vm.example.test:8000", auth)


@pytest.fixture(scope="module")
def aliyun_client(loopback: Capture):
    from aliyunsdkcore.client import AcsClient

    return AcsClient(AK, SK, REGION, port=loopback.port)


def aliyun_common(method: str, uri_pattern: str):
    from aliyunsdkcore.request import CommonRequest

    request = CommonRequest(domain="127.0.0.1", version="2016-01-01", uri_pattern=uri_pattern, product="Ecs")
    request.set_method(method)
    request.set_protocol_type("http")
    return request


def test_aliyunsdkcore_create_image_on_the_apsara_route(loopback: Capture, aliyun_client) -> None:
    request = aliyun_common("POST", "/apsara/route/Ecs/CreateImage")
    for name, value in {"InstanceId": "i-1", "ImageName": "my image+1", "Description": "说明", "Tag.1.Key": "k"}.items():
        request.add_body_params(name, value)
    aliyun_client.do_action_with_exception(request)
    wire = loopback.last()
    assert (wire.method, wire.path, wire.query) == ("POST", "/apsara/route/Ecs/CreateImage", f"RegionId={REGION}")
    assert wire.headers["content-type"] == "application/x-www-form-urlencoded"
    assert wire.headers["authorization"].startswith(f"acs {AK}:")
    assert wire.headers["x-acs-version"] == "2016-01-01" and wire.headers["x-acs-region-id"] == REGION
    assert_interoperable("apsara-aksk", wire, loopback.url, auth_for("apsara-aksk"))
    assert reason("apsara-aksk", with_headers(wire, content_md5=None), now=date_of(wire)) == "missing"


def test_aliyunsdkcore_get_with_query(loopback: Capture, aliyun_client) -> None:
    request = aliyun_common("GET", "/apsara/route/Ecs/DescribeImages")
    request.add_query_param("ImageName", "a b+c/é")
    request.add_query_param("PageSize", 10)
    aliyun_client.do_action_with_exception(request)
    wire = loopback.last()
    assert wire.method == "GET" and not wire.body and "ImageName=a+b%2Bc%2F%C3%A9" in wire.query
    assert_interoperable("apsara-aksk", wire, loopback.url, auth_for("apsara-aksk"))
    assert reason("apsara-aksk", replace(wire, query=wire.query.replace("PageSize=10", "PageSize=11")),
                  now=date_of(wire)) == "bad-signature"


def test_aliyunsdkcore_path_parameter_is_signed_decoded(loopback: Capture, aliyun_client) -> None:
    """The SDK signs the path with its parameters as given; requests percent-encodes it on the wire."""
    request = aliyun_common("DELETE", "/apsara/route/Ecs/images/[ImageId]")
    request.add_path_param("ImageId", "m 1é")
    aliyun_client.do_action_with_exception(request)
    wire = loopback.last()
    assert wire.path == "/apsara/route/Ecs/images/m%201%C3%A9"
    assert_interoperable("apsara-aksk", wire, loopback.url, auth_for("apsara-aksk"))


def test_aliyunsdkcore_roa_composer_directly() -> None:
    """The SDK's ROA composer with a bare query name and path parameters."""
    from urllib.parse import urlencode

    from aliyunsdkcore.auth.composer import roa_signature_composer as roa

    queries = {"RegionId": "cn-x", "Z": "1 2", "A": "é&="}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
               "x-acs-version": "2016-01-01", "X-Acs-Custom": "v", "x-other": "unsigned"}
    signed_headers, to_sign = roa.get_signature_headers(
        dict(queries), AK, SK, "JSON", dict(headers), "/apsara/route/[Product]/Describe?flag", {"Product": "Ecs"}, "GET"
    )
    assert to_sign.endswith("/apsara/route/Ecs/Describe?A=é&=&RegionId=cn-x&Z=1 2&flag")
    wire = WireRequest(
        "GET", "/apsara/route/Ecs/Describe", urlencode(queries) + "&flag",
        {k.lower(): v for k, v in signed_headers.items()} | {"host": "h"}, b"",
    )
    assert verify("apsara-aksk", wire, secrets(), now=date_of(wire)) == AK
    ours = resign(wire, "http://h", signing.ApsaraAkSkAuth(AK, SK))
    assert ours.headers["Authorization"] == signed_headers["Authorization"]
