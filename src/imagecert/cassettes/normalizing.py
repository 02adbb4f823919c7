"""Volatile values (ids, dates, epoch times) made stable, so a re-recording is byte-identical,
and masked, so a request matches its recording."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from imagecert import secrets
from imagecert.cassettes.files import Interaction


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


def names_an_id(key: str) -> bool:
    """Whether a field of this name holds a generated id (regions and zones are names
    the target was configured with, stable across runs)."""
    return bool(key) and bool(ID_FIELD.match(key)) and not STABLE_FIELD.search(key)


class Identifiers:
    """Identifiers (or other volatile values), each with what is written in its place:
    the placeholder a cassette keeps (see `Volatile`), or, in a replay, the target's own
    id answered where the recording had the placeholder."""

    def __init__(self, initial: dict[str, str] | None = None, *, before: str = _EDGE_BEFORE,
                 after: str = _EDGE_AFTER):
        self.known: dict[str, str] = dict(initial or {})
        self.edges = before, after  # what may not touch a value (it is never part of a longer one)
        self._pattern: tuple[int, re.Pattern[str]] | None = None

    def __contains__(self, value: str) -> bool:
        return value in self.known

    def __len__(self) -> int:
        return len(self.known)

    def add(self, value: str, replacement: str) -> None:
        self.known.setdefault(value, replacement)

    def learn(self, recorded: Any, live: Any, key: str = "") -> None:
        """The ids of a live answer, from the recorded answer given in the same place."""
        if isinstance(recorded, dict) and isinstance(live, dict):
            for name, value in recorded.items():
                if name != "auth" and name in live:
                    self.learn(value, live[name], str(name))
        elif isinstance(recorded, list) and isinstance(live, list):
            for a, b in zip(recorded, live):
                self.learn(a, b, key)
        elif isinstance(recorded, str) and isinstance(live, str) and recorded != live:
            if names_an_id(key) or ID_SHAPED.fullmatch(recorded):
                self.add(recorded, live)

    def learn_url(self, recorded: str, live: str) -> None:
        """Ids in a header URL (Nova's Location names the new image)."""
        for a, b in zip(recorded.split("/"), live.split("/")):
            if a != b and ID_SHAPED.fullmatch(a):
                self.add(a, b)

    def apply(self, text: str) -> str:
        """`text` with every known value replaced (whole values only)."""
        if not self.known or not text:
            return text
        if self._pattern is None or self._pattern[0] != len(self.known):  # ids are only ever added
            alternatives = "|".join(map(re.escape, sorted(self.known, key=len, reverse=True)))
            self._pattern = (len(self.known), re.compile(f"{self.edges[0]}({alternatives}){self.edges[1]}"))
        return self._pattern[1].sub(lambda m: self.known[m.group(1)], text)


class Volatile:
    """The volatile values of one cassette, each with its stable replacement."""

    def __init__(self, stable: Iterable[str] = ()):
        self.stable = {s for s in stable if s}
        self.ids = Identifiers()
        self.numbers = Identifiers(before=r"(?<![0-9.])", after=r"(?![0-9.])")  # epoch times
        self.sent: list[str] = []  # request texts so far: what the test itself chose

    def note_id(self, value: str) -> None:
        """An id an answer introduced. A value the test sent first is its own choice
        (names and tokens made with `uuid.uuid4()` are repeatable, see
        `deterministic_uuids`): it is the same at every run and is kept as it is."""
        if value in self.ids or value in self.stable or value.startswith("<"):
            return
        if any(value in text for text in self.sent):
            return
        self.ids.add(value, shaped(value, len(self.ids) + 1))

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
            if names_an_id(key) and _generated(node):
                self.note_id(node)
            self.note_text(node)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if key and TIME_FIELD.search(key) and node >= EPOCH_SECONDS:
                text = json.dumps(node)
                self.numbers.add(text, fixed_number(text))

    def note_text(self, text: str) -> None:
        for match in ID_SHAPED.finditer(text):
            self.note_id(match.group(0))

    def apply(self, text: str) -> str:
        """`text` with every volatile value noted so far replaced."""
        text = self.ids.apply(text)
        text = DATE_SHAPED.sub(lambda m: fixed_date(m.group(0)), text)
        return self.numbers.apply(text)


def _generated(value: str) -> bool:
    """Whether a value under an id-named field looks generated rather than chosen."""
    return 6 <= len(value) <= 200 and not any(c.isspace() for c in value) and (
        any(c.isdigit() for c in value) or len(value) >= 8)


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
        data = secrets.parse_json(x.response_body)
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


# On a long text (the megabytes of a too-large body) the patterns, tried at every
# character, take most of a replay's matching: there they are tried only in the runs of
# the characters a date or an id is made of (the same result: a match never crosses a
# run's end, and the patterns' edges see the same there) that are not letters alone
# (every date and every id holds a digit or a hyphen).
_DATE_RUN = re.compile(r"[0-9A-Za-z:.+, -]+")
_ID_RUN = re.compile(r"[0-9A-Za-z-]+")
LONG_TEXT = 1 << 16


def mask(text: str) -> str:
    """Ids and dates made anonymous, for comparing a request with a recorded one."""
    if len(text) < LONG_TEXT:
        return ID_SHAPED.sub("<id>", DATE_SHAPED.sub("<date>", text))
    text = _DATE_RUN.sub(lambda run: run[0] if run[0].isalpha() else DATE_SHAPED.sub("<date>", run[0]), text)
    return _ID_RUN.sub(lambda run: run[0] if run[0].isalpha() else ID_SHAPED.sub("<id>", run[0]), text)
