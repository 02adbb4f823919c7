"""Catalog rules as the reference provider enforces them, and the defects that break them.

A dialect's model never writes a status or an error code: it names the catalog rule a
call breaks (`rules.require("JD-C001", ok, instance_id)`), and the answer — status,
code, message — comes from that entry's `expect` (or a return-code row). A defect is
a named, deliberate way of breaking one rule, so that the project can prove the
suites catch a provider that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from imagecert.contracts import Catalog, Entry, load_catalog

# How a catalog-derived defect breaks its rule.
UNCHECKED = "unchecked"        # accept what must be rejected
WRONG_STATUS = "wrong-status"  # refuse, but with another HTTP status
WRONG_CODE = "wrong-code"      # refuse with the right status but another error code


class ProviderError(Exception):
    """A call broke a catalog rule; the wire layer renders it in the dialect's error body."""

    def __init__(self, rule_id: str, *values: object, message: str | None = None):
        super().__init__(rule_id)
        self.rule_id = rule_id
        self.values = tuple(str(v) for v in values)
        self.message = message


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None
    message: str


@dataclass(frozen=True)
class Defect:
    id: str
    rule: str
    description: str


def fill(template: str, values: tuple[str, ...]) -> str:
    """Put values where the documents write `xx` (JD's tables), in order."""
    it = iter(values)
    return re.sub(r"\bxx\b", lambda m: next(it, m.group(0)), template)


def _answer_of(entry: Entry) -> tuple[int, str | None, str | None] | None:
    if entry.kind == "return-code":
        return (entry.http_status, entry.code, entry.message)
    if entry.expect is not None:
        return (entry.expect.status, entry.expect.code, entry.expect.message)
    return None


def catalog_defects(catalog: Catalog) -> list[Defect]:
    """The defects of every observable rule with a documented answer. A return-code row
    that only restates a rule's answer gets none of its own: the rule's defects break it."""
    restated = {_answer_of(e) for e in catalog.entries if e.kind != "return-code" and e.expect}
    found = []
    for entry in catalog.entries:
        answer = _answer_of(entry)
        if not entry.testable or answer is None:
            continue
        if entry.kind == "return-code" and (answer in restated or entry.http_status < 400):
            continue
        found.append(Defect(f"{entry.id}:{UNCHECKED}", entry.id, f"accepts what {entry.id} refuses: {entry.summary}"))
        found.append(Defect(f"{entry.id}:{WRONG_STATUS}", entry.id, f"refuses {entry.id} with the wrong HTTP status"))
        if answer[1]:
            found.append(Defect(f"{entry.id}:{WRONG_CODE}", entry.id, f"refuses {entry.id} with the wrong error code"))
    return found


class Rules:
    """One dialect's rules, with the defects in force."""

    def __init__(self, dialect: str, defects: Iterable[str] = ()):
        self.catalog = load_catalog(dialect)
        self.defects = frozenset(defects)

    def on(self, defect_id: str) -> bool:
        return defect_id in self.defects

    def require(self, rule_id: str, ok: bool, *values: object, message: str | None = None) -> None:
        """Raise the rule's documented error unless `ok` (or the rule, or the return-code
        row of its answer, is switched off)."""
        if ok or any(self.on(f"{owner}:{UNCHECKED}") for owner in self._owners(rule_id)):
            return
        raise ProviderError(rule_id, *values, message=message)

    def _owners(self, rule_id: str) -> tuple[str, ...]:
        """The rule, and the return-code row documenting its status and code: a defect of
        that row breaks every answer it documents (409 conflictingRequest for every state
        refusal), the answers the suites cause as well as injected ones."""
        entry = self.catalog.by_id.get(rule_id)
        if entry is None or entry.kind == "return-code" or entry.expect is None:
            return (rule_id,)
        rows = [r.id for r in self.catalog.of_kind("return-code")
                if r.http_status == entry.expect.status and (r.code or None) == (entry.expect.code or None)]
        return (rule_id, *rows[:1])

    def answer(self, error: ProviderError) -> Answer:
        entry: Entry = self.catalog[error.rule_id]
        if entry.kind == "return-code":
            status, code, template = entry.http_status, entry.code, entry.message or ""
        elif entry.expect is not None:
            status, code, template = entry.expect.status, entry.expect.code, entry.expect.message or entry.summary
        else:
            raise LookupError(f"{entry.id} documents no answer; a model cannot refuse a call with it")
        message = error.message or fill(template, error.values)
        owners = self._owners(entry.id)
        if any(self.on(f"{owner}:{WRONG_STATUS}") for owner in owners):
            status = 422 if status == 400 else 400
        if any(self.on(f"{owner}:{WRONG_CODE}") for owner in owners) and code:
            code = "WRONG" if "." not in code else code.split(".")[0] + ".9999"
        return Answer(int(status), code, message)

    def return_code(self, status: int, code: str | None = None) -> Entry | None:
        """The first return-code row documenting this status (faults and plain errors use it),
        or, given a code, the row of this status with that code."""
        for entry in self.catalog.of_kind("return-code"):
            if entry.http_status == status and (code is None or str(entry.code) == code):
                return entry
        return None
