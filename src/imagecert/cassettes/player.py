"""Offline replay without vcrpy: one test's recorded answers, found by their request.

vcrpy compares every live request with every recorded one, through each matcher in turn
(a fuzz test's cassette holds hundreds of requests: its replay was slower than the live
run it replaces). The player keeps vcrpy's rules — a request gets the first recorded
answer not played yet whose request has the same key (`MATCHERS`), each answer played
once — but finds it in a dict and answers `requests` directly, with no HTTP connection
faked. A replay mostly sends again, byte for byte once redacted, what was recorded: such
a request is found by its method, URL, body and credentials as they are, and the match
keys (parsing and masking every body) are worked out only for a request that differs.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pytest
import requests
from requests import sessions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse
from vcr.request import Request

from imagecert.cassettes.files import CONTROL_ORIGIN, Interaction, as_bytes
from imagecert.cassettes.matching import match_key
from imagecert.cassettes.redaction import VOLATILE_QUERY_PARAMS
from imagecert.secrets import SECRET_HEADERS, SECRET_QUERY_PARAMS


class NotRecorded(Exception):
    """A replayed test sent a request its cassette holds no (unplayed) answer for."""


def _vcr_request(method: str, uri: str, body: Any, headers: dict[str, Any]) -> Request:
    return Request(method, uri, body if body else None, dict(headers))


def _as_sent(method: str, uri: str, body: bytes, headers: dict[str, Any]) -> tuple[Any, ...]:
    """A redacted request as it is: two requests equal in this are equal in their match key."""
    credentials = tuple(sorted((k.lower(), str(v)) for k, v in headers.items() if k.lower() in SECRET_HEADERS))
    return method.upper(), uri, body, credentials


class Player:
    """The recorded answers of one test's cassette, played to the requests a replay sends."""

    def __init__(self, interactions: list[Interaction], redactor: Any, meta: dict[str, Any] | None = None):
        self.meta = dict(meta or {})
        self.redactor = redactor
        self.interactions = interactions
        self._unplayed = [True] * len(interactions)
        self._as_recorded: dict[tuple[Any, ...], deque[int]] = {}
        self._index: dict[Any, deque[int]] | None = None  # by match key: made when a request differs
        self._bodies: dict[bytes, Any] = {}  # body keys, by body (some bodies are megabytes)
        for number, x in enumerate(interactions):
            sent = _as_sent(x.method, x.uri, x.request_body.encode("utf-8"), x.request_headers)
            self._as_recorded.setdefault(sent, deque()).append(number)
            # the file holds every answer redacted; the redactor learns the tenants the
            # control protocol answered (a replay signs with their placeholder credentials)
            if x.uri.startswith(CONTROL_ORIGIN) and '"auth"' in x.response_body:
                redactor.response({"status": {"code": x.status, "message": x.reason},
                                   "headers": {k: list(v) for k, v in x.response_headers.items()},
                                   "body": {"string": x.response_body.encode("utf-8")}})
        self._lock = threading.Lock()
        self.played = 0

    def _first_unplayed(self, waiting: deque[int] | None) -> int | None:
        while waiting and not self._unplayed[waiting[0]]:
            waiting.popleft()  # played through the other lookup
        return waiting.popleft() if waiting else None

    def _by_match_key(self) -> dict[Any, deque[int]]:
        if self._index is None:
            self._index = {}
            for number, x in enumerate(self.interactions):
                key = match_key(_vcr_request(x.method, x.uri, x.request_body.encode("utf-8"), x.request_headers),
                                self._bodies)
                self._index.setdefault(key, deque()).append(number)
        return self._index

    def answer(self, prepared: requests.PreparedRequest, adapter: HTTPAdapter) -> requests.Response:
        live = self.redactor.request(_vcr_request(prepared.method or "GET", prepared.url or "",
                                                  prepared.body, dict(prepared.headers)))
        with self._lock:
            number = self._first_unplayed(self._as_recorded.get(
                _as_sent(live.method, live.uri, as_bytes(live.body), live.headers)))
            if number is None:
                number = self._first_unplayed(self._by_match_key().get(match_key(live, self._bodies)))
            if number is None:
                raise NotRecorded(f"replaying cassettes: no recorded answer (or none left) for {live.method} "
                                  f"{live.uri}; the test now sends what was not recorded: re-record it")
            self._unplayed[number] = False
            self.played += 1
        x = self.interactions[number]
        raw_headers = HTTPHeaderDict()
        for name, values in x.response_headers.items():
            for value in values:
                raw_headers.add(name, str(value))
        response = requests.Response()
        response.status_code = x.status
        response.reason = x.reason
        response.headers = CaseInsensitiveDict(raw_headers)
        # what schemathesis reads the headers from (as urllib3 hands them to requests)
        response.raw = HTTPResponse(body=b"", headers=raw_headers, status=x.status, version=11, reason=x.reason,
                                    preload_content=False, decode_content=False)
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = x.response_body.encode("utf-8")
        response.url = prepared.url or ""
        response.request = prepared
        response.connection = adapter
        return response


@contextlib.contextmanager
def playing(player: Player) -> Iterator[Player]:
    """Every request `requests` sends in this process answered by `player`. Nothing is
    sent, so no proxy or netrc is looked up in the environment for it (`requests` does
    that for every request: milliseconds each on a loaded machine)."""
    real = HTTPAdapter.send
    looked_up = sessions.get_environ_proxies, sessions.resolve_proxies, sessions.get_netrc_auth

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        return player.answer(request, adapter)

    HTTPAdapter.send = send  # type: ignore[method-assign]
    sessions.get_environ_proxies = lambda url, no_proxy=None: {}
    sessions.resolve_proxies = lambda request, proxies, trust_env=True: dict(proxies or {})
    sessions.get_netrc_auth = lambda url, raise_errors=False: None
    try:
        yield player
    finally:
        HTTPAdapter.send = real  # type: ignore[method-assign]
        sessions.get_environ_proxies, sessions.resolve_proxies, sessions.get_netrc_auth = looked_up


PLAYER = pytest.StashKey[Player]()  # on a replayed suite test's item: its cassette's player
RECORDING = pytest.StashKey[dict]()  # on a recorded suite test's item: its cassette's metadata
DRAWN = "drawn"  # the metadata key of what a test drew before sending anything (JSON)


def kept_draws(item: pytest.Item, draw: Callable[[], None], drawn: list[Any],
               keep: Callable[[Any], dict[str, Any]], again: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """Cases drawn before any is sent (the state machine's valid requests): drawn by
    `draw()` into `drawn` and, when recording, kept in the cassette (`keep(case)` each,
    as JSON); a replay of a cassette that kept them draws nothing and gets them back
    (`again(kept)` each). A recording from before they were kept is drawn anew."""
    player = getattr(item, "stash", {}).get(PLAYER, None)  # (a bare node: no replay)
    if player is not None and DRAWN in player.meta:
        return [again(kept) for kept in json.loads(player.meta[DRAWN])]
    draw()
    meta = item.stash.get(RECORDING, None)
    if meta is not None:
        try:
            meta[DRAWN] = json.dumps([keep(make()) for make in drawn], sort_keys=True)
        except (TypeError, ValueError):
            meta.pop(DRAWN, None)  # not JSON: its replay draws again
    return drawn


@dataclass(frozen=True)
class Recorded:
    """One recorded request as it went on the wire (before signing)."""

    method: str
    url: str                   # with its query, signing parameters left out
    path_parameters: dict[str, str]  # as the contract's path template names them
    query: dict[str, Any]      # the query parameters (a repeated one: a list)
    headers: dict[str, str]    # every recorded header; the signing ones are the sender's to drop
    body: bytes
    media: str                 # the body's content type, without parameters


def recorded_requests(item: pytest.Item, method: str, path: str, base_url: str) -> list[Recorded] | None:
    """On an offline replay, the requests of this test's cassette to one operation
    (`method`, the contract's `path` template under `base_url`), in their recorded order;
    None when the test is not replayed.

    A body that was not UTF-8 (a fuzzed JSON body of random bytes) is kept as text with
    each undecodable run as U+FFFD (no JSON or form encoder writes that character raw):
    it is sent again with a lone continuation byte in each place, as unreadable as the
    original and decoding to the same recorded text."""
    player = getattr(item, "stash", {}).get(PLAYER, None)  # (a bare node: no replay)
    if player is None:
        return None
    base = urlsplit(base_url)
    names = re.findall(r"\{([^}]+)\}", path)
    template = re.escape(base.path.rstrip("/")) + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(path))
    found = []
    for x in player.interactions:
        parts = urlsplit(x.uri)
        matched = re.fullmatch(template, parts.path)
        if x.method.upper() != method.upper() or parts.netloc != base.netloc or not matched:
            continue
        every = parse_qsl(parts.query, keep_blank_values=True)
        pairs = [(k, v) for k, v in every if k.lower() not in SECRET_QUERY_PARAMS | VOLATILE_QUERY_PARAMS]
        query: dict[str, Any] = {}
        for name, value in pairs:
            if name in query:
                query[name] = (query[name] if isinstance(query[name], list) else [query[name]]) + [value]
            else:
                query[name] = value
        url = x.uri if len(pairs) == len(every) else urlunsplit(parts._replace(query=urlencode(pairs)))
        headers = dict(x.request_headers)
        media = next((v for k, v in headers.items() if k.lower() == "content-type"), "").split(";")[0].strip().lower()
        path_parameters = {n: unquote(v) for n, v in zip(names, matched.groups())}
        found.append(Recorded(x.method, url, path_parameters, query, headers,
                              _undecodable_again(x.request_body), media))
    return found


def _undecodable_again(text: str) -> bytes:
    return b"\x80".join(part.encode("utf-8") for part in text.split("\ufffd"))
