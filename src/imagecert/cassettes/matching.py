"""vcrpy glue: loading and saving our files through vcrpy, and matching a request with its recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request

from imagecert import secrets
from imagecert.cassettes.files import Interaction, as_bytes, read_cassette, write_cassette
from imagecert.cassettes.normalizing import mask, normalize
from imagecert.cassettes.redaction import VOLATILE_QUERY_PARAMS
from imagecert.secrets import SECRET_HEADERS, SECRET_QUERY_PARAMS


def _from_vcr(request: Request, response: dict[str, Any]) -> Interaction:
    return Interaction(
        request.method, request.uri, {k: str(v) for k, v in request.headers.items()},
        as_bytes(request.body).decode("utf-8", "replace"),
        int(response["status"]["code"]), response["status"].get("message") or "",
        {k: [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in response["headers"].items()},
        as_bytes(response["body"]["string"]).decode("utf-8", "replace"))


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


def _query_key(request: Request) -> list[tuple[str, str]]:
    query = urlsplit(request.uri).query
    return sorted((name, mask(value)) for name, value in parse_qsl(query, keep_blank_values=True)
                  if name.lower() not in SECRET_QUERY_PARAMS | VOLATILE_QUERY_PARAMS)


def _body_key(request: Request) -> Any:
    text = as_bytes(request.body).decode("utf-8", "replace")
    data = secrets.parse_json(text)
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


def _method_key(request: Request) -> str:
    return request.method.upper()


def _endpoint_key(request: Request) -> tuple[str, str]:
    parts = urlsplit(request.uri)
    return parts.netloc, mask(parts.path)


MATCHERS = {
    "imagecert_method": _matcher(_method_key, "method"),
    "imagecert_endpoint": _matcher(_endpoint_key, "endpoint and path"),
    "imagecert_query": _matcher(_query_key, "query"),
    "imagecert_body": _matcher(_body_key, "body"),
    "imagecert_credentials": _matcher(_credentials_key, "credentials"),
}


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


_KEYS = (_method_key, _endpoint_key, _query_key, _body_key, _credentials_key)


def match_key(request: Request, bodies: dict[bytes, Any] | None = None) -> tuple[Any, ...]:
    """All that `MATCHERS` compare of a request, as one hashable key: two requests match
    exactly when their keys are equal (the replay's index, `imagecert.cassettes.player`).
    `bodies`: the body keys worked out so far, by body (a replay mostly sends the recorded
    bodies again, some of them megabytes), and where this one's is kept."""
    def body_key(request: Request) -> Any:
        if bodies is None:
            return _body_key(request)
        body = as_bytes(request.body)
        if body not in bodies:
            bodies[body] = _body_key(request)
        return bodies[body]

    return tuple(_hashable((body_key if key is _body_key else key)(request)) for key in _KEYS)
