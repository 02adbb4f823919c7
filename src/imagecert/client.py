"""Call a dialect's operations by their contract name, signed like a real client.

Tests never build a URL by hand: `ApiClient.call("createImage", path={...}, json={...})`
finds the operation in the contract, fills its path from the arguments and the
target's scope, signs the request with the target's scheme and keeps a redacted copy
of every exchange, so that a failing test can show exactly what was sent and answered.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Mapping, Protocol
from urllib.parse import quote

import requests
from requests.auth import AuthBase
from requests.structures import CaseInsensitiveDict

from imagecert import interrupts, secrets
from imagecert.contracts import operations

TIMEOUT_S = 30.0
SHOWN_BODY_CHARS = 4000


class Unreachable(ConnectionError):
    """The endpoint did not answer at all (refused, timed out, no such host)."""


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, with every secret replaced."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    response_body: str

    def show(self) -> str:
        def headers(h: Mapping[str, str]) -> str:
            return "".join(f"  {k}: {v}\n" for k, v in h.items())

        return (
            f"> {self.method} {self.url}\n{headers(self.request_headers)}"
            f"{('  ' + self.request_body[:SHOWN_BODY_CHARS] + chr(10)) if self.request_body else ''}"
            f"< {self.status}\n{headers(self.response_headers)}"
            f"  {self.response_body[:SHOWN_BODY_CHARS]}\n"
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def scope_value(scope: Mapping[str, str], name: str) -> str | None:
    """A path parameter from the scope, whatever its spelling (`regionId` is `region_id`)."""
    wanted = name.replace("_", "").lower()
    for key, value in scope.items():
        if key.replace("_", "").lower() == wanted:
            return value
    return None


def prepare(session: requests.Session, method: str, url: str, *, params: Any = None,
            headers: Mapping[str, str] | None = None, json: Any = None, data: Any = None,
            auth: AuthBase | None = None) -> requests.PreparedRequest:
    """What `session.prepare_request` makes of a request, with the session's headers and
    cookies; the settings imagecert never gives a session (params, hooks) are not merged,
    which costs `requests` a fifth of each request, and no credentials are read from
    ~/.netrc: an unsigned request goes out unsigned."""
    merged = CaseInsensitiveDict(session.headers)
    merged.update(headers or {})
    prepared = requests.PreparedRequest()
    prepared.prepare(method=method.upper(), url=url, headers=merged, params=params, data=data, json=json,
                     auth=auth, cookies=session.cookies)
    return prepared


class Observer(Protocol):
    """Who wants to know of every image a client's requests make (`imagecert.world`)."""

    def makes_images(self, method: str, url: str) -> bool: ...

    def answered(self, prepared: requests.PreparedRequest, response: requests.Response) -> None: ...


class ApiClient:
    def __init__(self, dialect: str, base_url: str, scope: Mapping[str, str], auth: AuthBase):
        self.dialect = dialect
        self.base_url = base_url.rstrip("/")
        self.scope = dict(scope)
        self.auth = auth
        self.session = requests.Session()
        self.exchanges: list[Exchange] = []
        # told of every create's answer before the caller sees it; while a create is on
        # the wire, SIGINT and SIGTERM wait for its answer (imagecert.interrupts)
        self.observer: Observer | None = None

    def url_for(self, operation_id: str, path: Mapping[str, str] | None = None) -> tuple[str, str]:
        """(method, url) of an operation, its path filled from `path`, then the scope."""
        operation = operations(self.dialect)[operation_id]
        given = dict(path or {})

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            value = given[name] if name in given else scope_value(self.scope, name)
            if value is None:
                raise KeyError(f"{operation_id} needs the path parameter {name}")
            return quote(str(value), safe="")

        return operation.method, self.base_url + re.sub(r"\{([^}]+)\}", fill, operation.path)

    def call(self, operation_id: str, *, path: Mapping[str, str] | None = None, json: Any = None,
             form: Mapping[str, Any] | None = None, data: bytes | str | None = None,
             query: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
             auth: AuthBase | None = None) -> requests.Response:
        """Send one operation. `json` is sent as JSON, `form` form-encoded, `data` as
        raw bytes (give the content type in `headers`); `auth` replaces the target's."""
        method, url = self.url_for(operation_id, path)
        return self.send(method, url, json=json, form=form, data=data, query=query, headers=headers, auth=auth)

    def send(self, method: str, url: str, *, json: Any = None, form: Mapping[str, Any] | None = None,
             data: bytes | str | None = None, query: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, auth: AuthBase | None = None) -> requests.Response:
        prepared = prepare(self.session, method, url, params=query, headers=headers, json=json,
                           data=form if form is not None else data, auth=auth or self.auth)
        try:
            observer = self.observer if self.observer is not None and self.observer.makes_images(method, url) else None
        except ReferenceError:  # the world it reported to is gone
            observer = None
        with interrupts.deferred() if observer is not None else nullcontext():
            try:
                response = self.session.send(prepared, timeout=TIMEOUT_S, allow_redirects=False)
            except requests.ConnectionError as error:
                raise Unreachable(f"{method} {url}: the endpoint did not answer ({error.__class__.__name__})") from None
            except requests.Timeout:
                raise Unreachable(f"{method} {url}: no answer within {TIMEOUT_S:.0f} s") from None
            if observer is not None:
                observer.answered(prepared, response)
        self.exchanges.append(self._record(prepared, response))
        return response

    @staticmethod
    def _record(prepared: requests.PreparedRequest, response: requests.Response) -> Exchange:
        url = prepared.url or ""
        base, _, query = url.partition("?")
        return Exchange(
            method=prepared.method or "",
            url=base + ("?" + secrets.redact_query(query) if query else ""),
            request_headers=secrets.redact_headers(dict(prepared.headers)),
            request_body=secrets.redact_body(_text(prepared.body)),
            status=response.status_code,
            response_headers=secrets.redact_headers(dict(response.headers)),
            response_body=secrets.redact_body(response.text),
        )
