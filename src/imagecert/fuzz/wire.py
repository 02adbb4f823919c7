"""How a generated case becomes the request on the wire: the fills' values, the request
before signing, and a recorded body read back as a case holds it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from schemathesis.core import NOT_SET

from imagecert.fuzz.dialect import Fill
from imagecert.world import World

FORM = "application/x-www-form-urlencoded"


class Provisioned:
    """The fills' values for one request (or one set of requests), each made the first
    time a request needs it: a body without `backup_id` makes no backup."""

    def __init__(self, world: World, fills: Iterable[Fill], kept: dict[tuple[str, str], Any] | None = None):
        self.world = world
        self.fills = {(f.location, f.name): f for f in fills}
        self.made: dict[tuple[str, str], Any] = {}
        self.kept = {} if kept is None else kept  # the reusable fills' values, shared with other requests

    def keys(self) -> list[tuple[str, str]]:
        return list(self.fills)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.fills

    def value(self, key: tuple[str, str]) -> Any:
        if key not in self.made:
            fill = self.fills[key]
            if fill.reusable:
                if key not in self.kept:
                    self.kept[key] = fill.make(self.world)
                self.made[key] = self.kept[key]
            else:
                self.made[key] = fill.make(self.world)
        return self.made[key]


@dataclass(frozen=True)
class Outgoing:
    """One request as it will be sent (before signing)."""

    method: str
    url: str
    query: Any
    headers: dict[str, str]
    kwargs: dict[str, Any]   # json= / form= / data= for ApiClient.send
    body: bytes              # the body bytes on the wire
    media: str               # its content type


def as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode("utf-8")


def wire_body(sent: bytes, media: str) -> Any:
    """A recorded body as a case holds it (for the checks that read it): JSON and forms parsed."""
    if not sent:
        return NOT_SET
    text = sent.decode("utf-8", "replace")
    if "json" in media:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if media == FORM:
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def set_present(node: Any, name: str, value: Callable[[], Any], replaced: tuple[type, ...]) -> None:
    """Put `value()` where the body already has a value of a `replaced` type at `name`:
    a flat key (`*` standing for a number, as in a form's `DiskDeviceMapping.*.SnapshotId`)
    or a dotted path into nested objects (`*` standing for every item of an array)."""
    if isinstance(node, dict):
        flat = re.compile(re.escape(name).replace(r"\*", r"[^.]+") + "$")
        keys = [k for k in node if flat.match(k)]
        for key in keys:
            if isinstance(node[key], replaced):
                node[key] = value()
        if keys:
            return
    head, _, rest = name.partition(".")
    if head == "*":
        for item in node if isinstance(node, list) else []:
            if rest:
                set_present(item, rest, value, replaced)
    elif isinstance(node, dict) and head in node and rest:
        set_present(node[head], rest, value, replaced)

