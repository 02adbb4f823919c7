"""The cassette file format (YAML, large bodies compressed), and what replay needs of the recorded target."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imagecert import secrets


FORMAT = 1
# The origins recorded URLs are rewritten to, and that an offline replay sends to.
API_ORIGIN = "http://api.imagecert.invalid"
CONTROL_ORIGIN = "http://control.imagecert.invalid"
TARGET_FILE = "_target.yaml"  # per dialect: what kind of target the cassettes came from


LARGE_BODY_CHARS = 16 * 1024


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

    def response_json(self) -> Any:
        return secrets.parse_json(self.response_body)


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


def _cache_directory() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imagecert" / "cassettes"


def _load(path: Path) -> Any:
    """A cassette file's data. YAML takes most of a replay's reading time, so what it
    parsed is kept as JSON in the user's cache, named by the file's own digest (a changed
    file is parsed anew; a cache that cannot be written is only slower)."""
    raw = path.read_bytes()
    cached = _cache_directory() / f"{hashlib.sha256(raw).hexdigest()}.json"
    try:
        return json.loads(cached.read_bytes())
    except (OSError, ValueError):
        pass
    document = yaml.load(raw.decode("utf-8"), Loader=_Loader)
    try:
        text = json.dumps(document, ensure_ascii=False)
        cached.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cached.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, cached)
    except (OSError, TypeError, ValueError):
        pass
    return document


def read_cassette(path: Path) -> tuple[dict[str, Any], list[Interaction]]:
    document = _load(path)
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


def as_bytes(body: Any) -> bytes:
    """A body as vcrpy holds it (None, text, bytes, a file, chunks) as bytes."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        return body.read()
    return b"".join(body)
