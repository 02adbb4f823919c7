"""Offline replay without vcrpy: one test's recorded answers, indexed by their match key.

vcrpy compares every live request with every recorded one, through each matcher in turn
(a fuzz test's cassette holds hundreds of requests: its replay was slower than the live
run it replaces). The player keeps vcrpy's rules — a request gets the first recorded
answer not played yet whose request has the same key (`MATCHERS`), each answer played
once — but finds it in a dict, each recorded request's key computed once when its
cassette is read, and answers `requests` directly, with no HTTP connection faked.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from typing import Any, Iterator

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse
from vcr.request import Request

from imagecert.cassettes.files import Interaction
from imagecert.cassettes.matching import match_key


class NotRecorded(Exception):
    """A replayed test sent a request its cassette holds no (unplayed) answer for."""


def _vcr_request(method: str, uri: str, body: Any, headers: dict[str, Any]) -> Request:
    return Request(method, uri, body if body else None, dict(headers))


class Player:
    """The recorded answers of one test's cassette, played to the requests a replay sends."""

    def __init__(self, interactions: list[Interaction], redactor: Any):
        self.redactor = redactor
        self.interactions = interactions
        self._index: dict[Any, deque[int]] = {}
        self._answers: list[tuple[int, str, list[tuple[str, str]], bytes]] = []
        for number, x in enumerate(interactions):
            # the recorded request as the file holds it: already redacted, so its key is final
            key = match_key(_vcr_request(x.method, x.uri, x.request_body.encode("utf-8"), x.request_headers))
            self._index.setdefault(key, deque()).append(number)
            # what vcrpy did with each recorded answer it loaded (the redactor learns the tenants)
            answer = redactor.response({"status": {"code": x.status, "message": x.reason},
                                        "headers": {k: list(v) for k, v in x.response_headers.items()},
                                        "body": {"string": x.response_body.encode("utf-8")}})
            headers = [(k, str(v)) for k, vs in answer["headers"].items() for v in vs]
            self._answers.append((x.status, x.reason, headers, bytes(answer["body"]["string"])))
        self._lock = threading.Lock()
        self.played = 0

    def answer(self, prepared: requests.PreparedRequest, adapter: HTTPAdapter) -> requests.Response:
        live = self.redactor.request(_vcr_request(prepared.method or "GET", prepared.url or "",
                                                  prepared.body, dict(prepared.headers)))
        key = match_key(live)
        with self._lock:
            waiting = self._index.get(key)
            if not waiting:
                raise NotRecorded(f"replaying cassettes: no recorded answer (or none left) for {live.method} "
                                  f"{live.uri}; the test now sends what was not recorded: re-record it")
            number = waiting.popleft()
            self.played += 1
        status, reason, headers, body = self._answers[number]
        raw_headers = HTTPHeaderDict()
        for name, value in headers:
            raw_headers.add(name, value)
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = CaseInsensitiveDict(raw_headers)
        # what schemathesis reads the headers from (as urllib3 hands them to requests)
        response.raw = HTTPResponse(body=b"", headers=raw_headers, status=status, version=11, reason=reason,
                                    preload_content=False, decode_content=False)
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = body
        response.url = prepared.url or ""
        response.request = prepared
        response.connection = adapter
        return response


@contextlib.contextmanager
def playing(player: Player) -> Iterator[Player]:
    """Every request `requests` sends in this process answered by `player`."""
    real = HTTPAdapter.send

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        return player.answer(request, adapter)

    HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield player
    finally:
        HTTPAdapter.send = real  # type: ignore[method-assign]
