"""Property-based fuzzing of each dialect's operation under test, driven by its contract.

schemathesis (on hypothesis) reads a dialect's OpenAPI fragment and generates requests
for the operation under test; this module sends each one through the target's own
signing (`world.api`, so every request is signed like a real client's and recorded
for the failure output) and holds the answer to the contract:

* a schema-valid request that breaks no catalog rule must be accepted (a documented
  2xx with a body of the documented shape);
* a schema-invalid one must be refused with a documented 4xx and the dialect's error
  body — with the status and code of the rule its `x-constraint` names when the
  contract names one;
* never a 5xx, an undocumented status, a body that breaks the response schema or a
  content type the contract does not give (schemathesis' own checks).

All of it runs as schemathesis checks on each answer: its built-in ones and
imagecert's `documented_answer`, registered with `schemathesis.check`.

imagecert itself decides what is valid, by validating the body as it went on the wire
against the contract, so that filling an identifier, a form flattening a number or a
generator's mistake can never turn a refusal into a "pass". What JSON Schema cannot say (bytes rather than
characters, a size not smaller than the snapshot's) each dialect hands over as
`CatalogRule`s, and the identifiers that must name a real resource as `Fill`s; the
rest is generic. Phases: the contract's own examples (and the catalog rules' probes
made from them), schemathesis' coverage phase
(values just under, at and over every documented limit, each keyword broken once),
hypothesis-generated positive and negative requests, and a state machine that makes
an image, follows it to its end, reads it and deletes it.

Budget and reproduction: `--fuzz-examples N` (else the hypothesis profile's
`max_examples`: profiles `ci` and `deep`, see the top-level conftest.py), one seed per
phase (`--hypothesis-seed`, else stable in a derandomized profile), every failure shown
with its seed and a `curl` line, and recorded for the report as `imagecert_fuzz`.
"""

from __future__ import annotations

import json
import random
import re
import shlex
import time
import zlib
from contextlib import contextmanager
from contextvars import ContextVar
from copy import deepcopy
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl
from weakref import WeakKeyDictionary

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    multiple,
    rule,
    run_state_machine_as_test,
)
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import relevance
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure as Failure_
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imagecert.checks import (
    RuleViolation,
    expect_refusal,
    expect_success,
    schema_problems,
)
from imagecert.client import Exchange, scope_value
from imagecert.contracts import (
    contract_path,
    load_catalog,
    load_contract,
    operations,
    request_pointer,
    resolve,
    validator,
)
from imagecert.secrets import redact_body
from imagecert.world import World, not_verified

FUZZ_PROPERTY = "imagecert_fuzz"  # the test item's user property the report reads
SHOWN_FAILURES = 8                # per test: the first distinct failures are enough to act on
LIFECYCLE_SHARE = 0.2             # state machine runs per fuzzed example (each runs several steps)
LIFECYCLE_STEPS = 8
FORM = "application/x-www-form-urlencoded"


# -- what a dialect hands the engine ------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """A path parameter, header, query parameter or body field that must name something
    real for a schema-valid request to be accepted: `make(world)` provisions it (a
    resource in the right state, or a fixed value). `name` is the parameter's name, or
    a body field: a dotted path where `*` stands for every item of an array
    (`dataDisks.*.cloudDiskSpec.snapshotId`), or a form's flat name where `*` stands
    for a number (`DiskDeviceMapping.*.SnapshotId`). A body field is filled only where
    the generated body carries it (so every branch of a `oneOf` keeps being generated)
    and, in JSON, holds a string (so a generated wrong type stays wrong).

    `reusable`: nothing an accepted request does uses it up (a snapshot an image is
    made from stays as it was; a fixed value), so it is made once per test and given to
    every request, as one request already gives it to each field it fills. By default a
    fill is made afresh for each request that may be accepted (an instance is busy once
    an image is being made from it)."""

    location: str
    name: str
    make: Callable[[World], Any]
    reusable: bool = False


@dataclass(frozen=True)
class CatalogRule:
    """A catalog rule JSON Schema cannot say, as a predicate on the request body sent:
    a schema-valid body that `broken_by` must be refused as `rule_id` documents.
    `probes(example)` turns one of the contract's request examples into bodies at the
    rule's edge (just inside and just over it), sent in the examples phase so that the
    rule is checked every run, not only when generation happens upon it."""

    rule_id: str
    broken_by: Callable[[Any], bool]
    probes: Callable[[Any], list[Any]] = lambda example: []


@dataclass(frozen=True)
class Lifecycle:
    """How the stateful phase follows what an accepted create made.

    `image_of(world, response)` runs once the jobs are settled: it follows the job (or
    the image) to its end, checks it ended well, and returns the image id;
    `read(world, image_id)` reads the image; `ready(body)` says whether a read body
    shows a usable image; `gone(response)` whether a read shows a deleted image gone
    (default: a documented 4xx). Deleting uses the contract's `x-imagecert-cleanup`
    operation."""

    image_of: Callable[[World, requests.Response], str]
    read: Callable[[World, str], requests.Response]
    ready: Callable[[Any], bool]
    gone: Callable[[requests.Response], bool] | None = None


@dataclass(frozen=True)
class Ambiguity:
    """A schema-valid body the documents can be read two ways about (a `D…` catalog
    entry with both readings): `applies(body)` says the body is one. Such a body is
    never sent as a valid request; elsewhere either documented answer passes."""

    entry_id: str
    applies: Callable[[Any], bool]


# -- schemathesis, configured from the contract --------------------------------------------


@cache
def load_schema(dialect: str):
    """The dialect's contract as a schemathesis schema. The coverage phase probes no
    method the contract does not document on the path; whether a request was valid is
    decided by imagecert on the wire (see `Fuzzer.expectation`), so schemathesis'
    positive_data_acceptance / negative_data_rejection are not used: its regexes follow
    ECMA-262 where the contract's validator (Python `re`) differs, e.g. on `\\s`."""
    config = schemathesis.Config.from_dict({"phases": {"coverage": {"unexpected-methods": []}}})
    return schemathesis.openapi.from_path(contract_path(dialect), config=config)


def under_test(dialect: str) -> str:
    found = [op.operation_id for op in operations(dialect).values() if op.role == "under-test"]
    if len(found) != 1:
        raise LookupError(f"the {dialect} contract marks {len(found)} operations under test; give operation_id")
    return found[0]


def constraint_ids_in(dialect: str, node: Any, seen: set[int] | None = None) -> list[str]:
    """Every `x-constraint` id in a schema, `$ref`s followed, in order of appearance."""
    seen = set() if seen is None else seen
    node = resolve(dialect, node)
    if id(node) in seen:
        return []
    seen.add(id(node))
    found: list[str] = []
    if isinstance(node, dict):
        marks = node.get("x-constraint") or []
        found += [marks] if isinstance(marks, str) else list(marks)
        for key, value in node.items():
            if key not in ("examples", "example", "x-constraint"):
                found += constraint_ids_in(dialect, value, seen)
    elif isinstance(node, list):
        for value in node:
            found += constraint_ids_in(dialect, value, seen)
    return list(dict.fromkeys(found))


# -- which rule a schema error breaks (the judge's own reading of the x-constraint marks) --

UNKNOWN_FIELD = ("additionalProperties", "unevaluatedProperties")


def _marks(node: Any) -> list[str]:
    marks = node.get("x-constraint") or [] if isinstance(node, dict) else []
    return [marks] if isinstance(marks, str) else list(marks)


def _schema_nodes(dialect: str, root: Any, path: Iterable[Any]) -> list[Any]:
    """The schemas an error's schema path passes through. jsonschema leaves `$ref` out
    of the path: a step a node does not have is taken in the schema its `$ref` names."""
    node, nodes = root, [root]
    for key in path:
        while isinstance(node, dict) and key not in node and "$ref" in node:
            node = resolve(dialect, {"$ref": "#" + node["$ref"].split("#", 1)[1]})
            nodes.append(node)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        nodes.append(node)
    return nodes


def _missing_field(error: ValidationError) -> str | None:
    match = re.match(r"'([^']+)' is a required property", error.message)
    return match.group(1) if error.validator == "required" and match else None


def rules_broken(dialect: str, root: Any, error: ValidationError) -> tuple[str, ...]:
    """The catalog rules a schema error breaks: the `x-constraint` of the schema whose
    keyword failed (for a missing field, that field's own mark first), else of the most
    relevant branch of an `anyOf`/`oneOf`, else the nearest mark up the schema path.
    Where one schema carries several marks, those whose `param` names the field; every
    mark left is a rule the request broke (any of their answers is right)."""
    nodes = _schema_nodes(dialect, root, error.absolute_schema_path)
    owner = nodes[-2] if len(nodes) > 1 and isinstance(nodes[-2], dict) else {}
    missing = _missing_field(error)
    found = _marks(resolve(dialect, ((owner.get("properties") or {}).get(missing)) or {})) if missing else []
    found = found or _marks(owner)
    if not found and error.context:
        return rules_broken(dialect, root, sorted(error.context, key=relevance)[-1])
    for node in reversed(nodes[:-1]):
        found = found or _marks(node)
    field = missing or next((p for p in reversed(error.absolute_path) if isinstance(p, str)), None)
    if field and len(found) > 1:
        catalog = load_catalog(dialect).by_id
        named = [r for r in found if r in catalog and (catalog[r].param or "").split(".")[-1].lower() == field.lower()]
        found = named or found
    return tuple(dict.fromkeys(found))


# -- what to expect of one request ---------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    accepted: bool
    why: str                       # in words, for the failure output
    rules: tuple[str, ...] = ()    # a refusal must match one of these rules' documented answer...
    any_refusal: bool = False      # ...unless something no rule names is broken: then any documented 4xx
    either: bool = False           # the contract says nothing: accepted or refused, as documented either way


@dataclass
class Failure:
    phase: str
    seed: int | None
    expected: str
    problems: list[str]
    status: int | None
    curl: str
    exchange: str
    rules: tuple[str, ...] = ()   # the rules the target broke; empty: unknown, every rule of the test

    def key(self) -> tuple[str, ...]:
        # distinct failures: the same problem on another generated value is the same failure
        return (self.phase, *(re.sub(r"\d+|'[^']*'", "#", p)[:120] for p in self.problems))

    def show(self) -> str:
        seed = (f"seed {self.seed} (rerun with --hypothesis-seed {self.seed})" if self.seed is not None
                else "no seed: this phase sends the same requests every run")
        lines = "".join(f"    - {p}\n" for p in self.problems)
        broke = f"    rule(s) broken: {', '.join(self.rules)}\n" if self.rules else ""
        return (f"[{self.phase}, {seed}] expected: {self.expected}\n{lines}{broke}"
                f"    reproduce (credentials redacted, sign it again): {self.curl}\n")

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "seed": self.seed, "expected": self.expected, "problems": self.problems,
                "status": self.status, "curl": self.curl, "exchange": self.exchange, "rules": list(self.rules)}


def curl_line(exchange: Exchange, body: bytes | None) -> str:
    """A curl command that sends the request again, secrets already redacted in `exchange`."""
    parts = ["curl", "-X", exchange.method, shlex.quote(exchange.url)]
    for name, value in exchange.request_headers.items():
        if name.lower() not in ("content-length", "connection", "accept-encoding"):
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        try:
            text = redact_body(body.decode("utf-8"))
            parts += ["--data-binary", shlex.quote(text)]
        except UnicodeDecodeError:  # not text: give the bytes as printf escapes
            escaped = "".join(f"\\x{b:02x}" for b in body)
            parts += ["--data-binary", f"\"$(printf '{escaped}')\""]
    return " ".join(parts)


# -- imagecert's check, registered with schemathesis ----------------------------------------


@dataclass(frozen=True)
class Judging:
    """What `documented_answer` judges: the answer to the request being checked."""

    fuzzer: "Fuzzer"
    world: World
    response: requests.Response
    expected: Expected


_JUDGING: ContextVar[Judging | None] = ContextVar("imagecert_judging", default=None)


class ContractAnswer(Failure_):
    """The answer is not the one the contract and the catalog document for the request."""

    code = "IC001"
    kind_title = "Not the documented answer"


@schemathesis.check
def documented_answer(ctx, response, case) -> bool | None:
    """A schema-valid request that breaks no catalog rule accepted as documented; any
    other refused with the documented 4xx, status and code of the catalog rule it breaks
    — the rules the schema's `x-constraint` marks name and the `CatalogRule`s JSON
    Schema cannot say — in the dialect's error body."""
    judging = _JUDGING.get()
    if judging is None:
        return True  # a schemathesis run outside imagecert's fuzzer: nothing to judge against
    problems = judging.fuzzer.judge(judging.world, judging.response, judging.expected)
    if problems:
        raise FailureGroup([ContractAnswer(operation=case.operation.label, title=ContractAnswer.kind_title,
                                           message=p, case_id=case.id) for p in problems])
    return None


# never a 5xx, only documented statuses, content types and response bodies; then imagecert's
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          documented_answer]


# -- hypothesis' regex strategies, built once per (pattern, alphabet) ----------------------
#
# schemathesis builds the strategy of a patterned string anew for every draw in the
# negative phase (each draw mutates the schema and builds from it) and filters it, and a
# filtered `st.from_regex` is a new lazy strategy that parses the pattern again and
# intersects each of its character classes with the alphabet: for the contracts' CJK
# classes that is most of the time a negative draw takes, for a handful of distinct
# patterns. No schemathesis or hypothesis option caches it, so while a phase runs
# `hypothesis.strategies.from_regex` (public) answers with one strategy per (pattern,
# fullmatch, alphabet), built once for the process: a `st.deferred` over hypothesis' own,
# so that filtering or mapping it never builds it again. It relies on schemathesis calling
# `st.from_regex` through the module (tests/test_fuzz.py fails loudly when it stops).
# The strategies are the same ones hypothesis would build: same values, same seeds.

_FROM_REGEX = st.from_regex
_REGEX_STRATEGIES: dict[tuple[Any, ...], Any] = {}  # (pattern, fullmatch, alphabet): strategy; alphabets kept alive


def _memoized_from_regex(regex, fullmatch: bool = False, *, alphabet=None):
    key = (type(regex), regex, bool(fullmatch), alphabet)
    try:
        found = _REGEX_STRATEGIES.get(key)
    except TypeError:  # an unhashable alphabet (a list of characters): nothing to share
        return _FROM_REGEX(regex, fullmatch=fullmatch, alphabet=alphabet)
    if found is None:
        built = _FROM_REGEX(regex, fullmatch=fullmatch, alphabet=alphabet)
        found = _REGEX_STRATEGIES[key] = st.deferred(lambda: built)
    return found


@contextmanager
def memoized_regex_strategies():
    """While the block runs, `st.from_regex` gives the strategy built once per key."""
    if st.from_regex is _memoized_from_regex:  # nested: already on
        yield
        return
    previous, st.from_regex = st.from_regex, _memoized_from_regex
    try:
        yield
    finally:
        st.from_regex = previous


# -- the engine ---------------------------------------------------------------------------


class Fuzzer:
    """Fuzzing of one dialect's operation under test (see the module docstring)."""

    def __init__(self, dialect: str, fills: Iterable[Fill] = (), rules: Iterable[CatalogRule] = (),
                 lifecycle: Lifecycle | None = None, operation_id: str | None = None,
                 malformed_rule: str | None = None, empty_body_rule: str | None = None,
                 ambiguities: Iterable[Ambiguity] = ()):
        """`malformed_rule`: the catalog rule that refuses a body the contract's marks
        name no rule for (unreadable, a wrong type, an unknown key); `empty_body_rule`:
        the one that refuses a missing body (default: the malformed rule). Without them
        any documented 4xx with the dialect's error body will do."""
        self.dialect = dialect
        self.malformed_rule = malformed_rule
        self.empty_body_rule = empty_body_rule or malformed_rule
        self.operation_id = operation_id or under_test(dialect)
        self.fills = tuple(fills)
        self.rules = tuple(rules)
        self.ambiguities = tuple(ambiguities)
        self.lifecycle = lifecycle
        self._parameters: list[dict[str, Any]] | None = None
        self._parameter_validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._reusable: "WeakKeyDictionary[World, dict[tuple[str, str], Any]]" = WeakKeyDictionary()
        self.operation = operations(dialect)[self.operation_id]

    # markers -------------------------------------------------------------------
    def schema_rule_ids(self) -> list[str]:
        """The catalog ids the request schema carries: what the negative phases exercise."""
        return constraint_ids_in(self.dialect, self.operation.spec.get("requestBody", {}))

    def catalog_rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.rules]

    # schemathesis --------------------------------------------------------------
    @property
    def st_operation(self):
        return load_schema(self.dialect).find_operation_by_id(self.operation_id)

    def _path_parameters(self, world: World, made: "Provisioned") -> dict[str, Any]:
        """Every path parameter: provisioned, else from the scope."""
        found = {}
        for name in re.findall(r"\{([^}]+)\}", self.operation.path):
            if ("path", name) in made:
                found[name] = made.value(("path", name))
            elif scope_value(world.scope, name) is not None:
                found[name] = scope_value(world.scope, name)
        return found

    def _provision(self, world: World) -> "Provisioned":
        """Fresh fills for a request (or a set of requests); the reusable ones kept per
        test (per World): made at most once in it, whatever phase asks."""
        return Provisioned(world, self.fills, self._reusable.setdefault(world, {}))

    def strategy(self, mode: GenerationMode, world: World):
        """Cases of the operation. What the fills and the scope decide (path parameters,
        the scope's query parameters, signing and filled headers) is given, not
        generated, so a negative case is never one whose only mistake is overwritten."""
        path = {name: "filled" for name in re.findall(r"\{([^}]+)\}", self.operation.path)}
        query = {p["name"]: scope_value(world.scope, p["name"]) for p in self._declared_parameters()
                 if p["in"] == "query" and scope_value(world.scope, p["name"]) is not None}
        headers = {name: "signed" for name in _security_headers(self.dialect)}
        headers.update({f.name: "filled" for f in self.fills if f.location == "header"})
        return self.st_operation.as_strategy(mode, path_parameters=path, query=query or None, headers=headers)

    def _fill(self, case, made: "Provisioned", world: World) -> None:
        case.path_parameters = {**case.path_parameters, **self._path_parameters(world, made)}
        for parameter in self._declared_parameters():  # the scope's region or project, as the client sends it
            if parameter["in"] == "query" and scope_value(world.scope, parameter["name"]) is not None:
                case.query = {**(case.query or {}), parameter["name"]: scope_value(world.scope, parameter["name"])}
        if isinstance(case.body, dict) and any(location == "body" for location, _ in made.keys()):
            case.body = deepcopy(case.body)  # generated bodies may share objects with the loaded schema
        for key in made.keys():
            location, name = key
            if location == "header":
                case.headers[name] = made.value(key)
            elif location == "query":
                case.query = {**(case.query or {}), name: made.value(key)}
            elif location == "body" and isinstance(case.body, dict):
                # a form sends every value as text: there a generated number is no wrong type to keep
                _set_present(case.body, name, lambda key=key: made.value(key),
                             (object,) if case.media_type == FORM else (str,))

    # one request ---------------------------------------------------------------
    def _request(self, world: World, case) -> "Outgoing":
        """The request a case makes: schemathesis serialises it; the signing headers
        it generated for the security schemes are left to the target's own signing."""
        kwargs = case.as_transport_kwargs(base_url=world.target.base_url)
        declared = {p["name"].lower() for p in self._declared_parameters() if p["in"] == "header"}
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items()
                   if k.lower() == "content-type" or k.lower() in declared}
        body: dict[str, Any] = {}
        if "json" in kwargs:
            body["json"] = kwargs["json"]
        elif isinstance(kwargs.get("data"), dict):
            body["form"] = kwargs["data"]
        elif kwargs.get("data") is not None:
            body["data"] = kwargs["data"]
        query = kwargs.get("params") or None
        prepared = requests.Request(kwargs["method"], kwargs["url"], params=query, headers=headers,
                                    json=body.get("json"), data=body.get("form", body.get("data"))).prepare()
        media = (prepared.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return Outgoing(kwargs["method"], kwargs["url"], query, headers, body, _as_bytes(prepared.body), media)

    def expectation(self, case, outgoing: "Outgoing", strict: bool = False) -> Expected:
        """Whether the request, as it goes on the wire, is valid by the contract, and the
        rules it breaks. `strict`: the strict profile, which also holds the target to
        what no document says (refusing unknown fields)."""
        broken = self._parameter_problems(case)
        if broken:
            return Expected(False, "; ".join(broken), any_refusal=True)
        request_body = resolve(self.dialect, self.operation.spec.get("requestBody") or {})
        if not request_body:
            return self._catalog_expectation(None)
        content = request_body.get("content", {})
        if not outgoing.body and set(content) == {FORM}:
            outgoing = replace(outgoing, media=FORM)  # an empty form is a form without fields
        elif not outgoing.body.strip():
            if outgoing.body:  # only whitespace: empty to one reader, unreadable to another
                return Expected(False, "the body is only whitespace", tuple(
                    dict.fromkeys(r for r in (self.empty_body_rule, self.malformed_rule) if r)),
                    any_refusal=not self.malformed_rule)
            if request_body.get("required"):
                return self._refusal("the required request body is missing", self.empty_body_rule)
            return self._catalog_expectation(None)
        if outgoing.media not in content:
            return Expected(False, f"content type {outgoing.media or '(none)'} is undocumented: "
                                   "accepted or refused as documented, never anything else", either=True)
        pointer = request_pointer(self.dialect, self.operation_id, outgoing.media)
        data = _parse_body(outgoing.body, outgoing.media, resolve(self.dialect, content[outgoing.media]["schema"]))
        if data is NOT_SET:
            return self._refusal(f"the body is not a readable {outgoing.media} (each field once)", self.malformed_rule)
        check = validator(self.dialect, pointer)
        errors = list(check.iter_errors(data))
        if not errors:
            return self._catalog_expectation(data)
        malformed = (self.malformed_rule,) if self.malformed_rule else ()
        unknown = [e for e in errors if e.validator in UNKNOWN_FIELD]
        refusing_unknown: list[str] = []  # core: a target may refuse an unknown field too, as documented
        if unknown and not strict:  # no document says an unknown field is refused: strict profile only
            errors = [e for e in errors if e.validator not in UNKNOWN_FIELD]
            if not errors:
                caught = self._catalog_expectation(data)
                return caught if not caught.accepted else Expected(
                    False, "an unknown field (no document says it is refused): accepted or refused as "
                           "documented", either=True)
            refusing_unknown = [r for e in unknown for r in (rules_broken(self.dialect, check.schema, e) or malformed)]
        # a wrong type breaks the field's rule to one reader and makes the body malformed to another
        marked = [(rules_broken(self.dialect, check.schema, e) + (malformed if e.validator == "type" else ()))
                  or malformed for e in errors]
        rules = [r for found in marked for r in found] + list(self._catalog_rules_broken(data)) + refusing_unknown
        why = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:100]}" for e in errors[:3])
        return Expected(False, f"schema-invalid ({why})", tuple(dict.fromkeys(rules)),
                        any_refusal=any(not found for found in marked))

    @staticmethod
    def _refusal(why: str, rule_id: str | None) -> Expected:
        return Expected(False, why, (rule_id,)) if rule_id else Expected(False, why, any_refusal=True)

    def _parameter_problems(self, case) -> list[str]:
        """How the query and header parameters break their schemas (as strings on the
        wire; the signing headers are the target's own business)."""
        problems = []
        for parameter in self._declared_parameters():
            sent = (case.query or {}) if parameter["in"] == "query" else case.headers
            value = sent.get(parameter["name"])
            if value is None:
                if parameter.get("required"):
                    problems.append(f"the required {parameter['in']} parameter {parameter['name']} is missing")
                continue
            schema = resolve(self.dialect, parameter.get("schema") or {})
            key = (parameter["in"], parameter["name"])
            if key not in self._parameter_validators:  # built once per run, not per request
                self._parameter_validators[key] = Draft202012Validator(schema)
            if not self._parameter_validators[key].is_valid(_typed(value, schema)):
                problems.append(f"the {parameter['in']} parameter {parameter['name']}={value!r} breaks its schema")
        return problems

    def _declared_parameters(self) -> list[dict[str, Any]]:
        """The query and header parameters the contract declares (the signing headers
        left to the target's signing); the same for every request: worked out once."""
        if self._parameters is None:
            self._parameters = self._find_declared_parameters()
        return self._parameters

    def _find_declared_parameters(self) -> list[dict[str, Any]]:
        signing = _security_headers(self.dialect)
        found = []
        for parameter in self.operation.spec.get("parameters") or []:
            parameter = resolve(self.dialect, parameter)
            if parameter["in"] == "query" or (parameter["in"] == "header" and parameter["name"].lower() not in signing):
                found.append(parameter)
        return found

    def _catalog_rules_broken(self, data: Any) -> tuple[str, ...]:
        broken = []
        for catalog_rule in self.rules:
            try:
                if catalog_rule.broken_by(data):
                    broken.append(catalog_rule.rule_id)
            except (TypeError, AttributeError, KeyError, ValueError):
                pass  # a schema-invalid body may not have the shape the rule reads
        return tuple(broken)

    def _catalog_expectation(self, data: Any) -> Expected:
        broken = self._catalog_rules_broken(data)
        if broken:
            return Expected(False, f"schema-valid but breaks {', '.join(broken)}", broken)
        ambiguous = [a.entry_id for a in self.ambiguities if a.applies(data)] + (
            ["an integer field given a whole number with a fraction part (472377.0)"] if _integral_float(data) else [])
        if ambiguous:
            return Expected(False, f"ambiguous ({', '.join(ambiguous)}): accepted or refused as documented, "
                                   "never sent as a valid request", either=True)
        return Expected(True, "schema-valid: accepted")

    def judge(self, world: World, response: requests.Response, expected: Expected) -> list[str]:
        """How the answer breaks the contract; empty when it is as documented."""
        api = world.api
        if expected.accepted or (expected.either and 200 <= response.status_code < 300):
            return _violations(lambda: expect_success(api, response))
        if expected.either and 400 <= response.status_code < 500:
            return schema_problems(self.dialect, response, self.operation_id)
        if 200 <= response.status_code < 300:
            return [f"a request that must be refused was accepted with HTTP {response.status_code}"]
        tried = []
        for rule_id in expected.rules:  # the first rule the refusal matches is enough
            problems = _violations(lambda r=rule_id: expect_refusal(api, response, r))
            if not problems:
                return []
            tried.append(problems)
        if expected.any_refusal and 400 <= response.status_code < 500:
            return schema_problems(self.dialect, response, self.operation_id)
        if not tried:
            return [f"expected a documented 4xx, got HTTP {response.status_code}"]
        return list(dict.fromkeys(p for problems in tried for p in problems))[:4]

    def prepare(self, world: World, case, made: "Provisioned") -> tuple["Outgoing", Expected]:
        self._fill(case, made, world)
        outgoing = self._request(world, case)
        return outgoing, self.expectation(case, outgoing, strict=world.option("profile") == "strict")

    def exercise(self, world: World, case, outgoing: "Outgoing", expected: Expected, phase: str,
                 run: "Run") -> requests.Response:
        """Send one request; judge the answer with schemathesis' checks, imagecert's among them."""
        response = world.api.send(outgoing.method, outgoing.url, query=outgoing.query,
                                  headers=outgoing.headers, **outgoing.kwargs)
        run.examples += 1
        judging = _JUDGING.set(Judging(self, world, response, expected))
        try:
            problems = self._schemathesis_problems(case, response)
        finally:
            _JUDGING.reset(judging)
        if problems:
            exchange = world.api.exchanges[-1]
            run.fail(Failure(phase, run.seed, expected.why, list(dict.fromkeys(problems)), response.status_code,
                             curl_line(exchange, outgoing.body), exchange.show(),
                             self.attribute(world, response, expected)))
        return response

    def attribute(self, world: World, response: requests.Response, expected: Expected) -> tuple[str, ...]:
        """The rules a failing answer breaks: those the request broke when it had to be
        refused; when it had to be accepted, those whose documented refusal the target
        gave (it enforced them where they do not apply). Empty when neither is known."""
        if not expected.accepted:
            return expected.rules
        claimed = [r for r in self.schema_rule_ids() + self.catalog_rule_ids()
                   if _documents_a_refusal(world.api.dialect, r)
                   and not _violations(lambda r=r: expect_refusal(world.api, response, r))]
        return tuple(claimed)

    @staticmethod
    def _schemathesis_problems(case, response: requests.Response) -> list[str]:
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            return [f.message if isinstance(f, ContractAnswer) else
                    f"{f.title}: {f.message.splitlines()[0] if f.message else ''}".rstrip(": ") for f in group.exceptions]
        return []

    # phases --------------------------------------------------------------------
    def check_examples_and_boundaries(self, world: World, node: pytest.Item) -> None:
        """The contract's own examples (and the catalog rules' probes made from them),
        then schemathesis' coverage phase: each documented limit just under, at and
        over, each keyword broken once."""
        run = Run(node, None)
        with run, memoized_regex_strategies():
            if self._replayed(world, node, "examples", run) is not None:
                return
            shared = self._provision(world)
            for case in self._contract_examples():
                example = deepcopy(case.body)
                self._exercise_case(world, case, "examples", run, shared)
                for catalog_rule in self.rules:  # `rule` is hypothesis' stateful decorator here
                    for probe in catalog_rule.probes(deepcopy(example)):
                        probe_case = self.st_operation.Case(body=probe, media_type=case.media_type, path_parameters={})
                        self._exercise_case(world, probe_case, f"catalog {catalog_rule.rule_id}", run, shared)
            schema = load_schema(self.dialect)
            op = self.st_operation
            config = schema.config.generation_for(operation=op, phase="coverage")
            for case in schema.iter_coverage_cases(op, generation_modes=list(GenerationMode), generation_config=config):
                self._exercise_case(world, case, "coverage", run, shared)

    def check_valid_requests(self, world: World, node: pytest.Item) -> None:
        """Generated schema-valid requests, each against freshly provisioned resources
        (static mode: the leased ones, idle again, within the image budget)."""
        if world.max_images == 0:
            not_verified("every accepted request makes an image, and the target file's "
                         "[provisioning] max_images is 0")
        run = Run(node, phase_seed(node, "positive"))
        with run, memoized_regex_strategies():
            @_settings(node, run.seed, cap=world.max_images)
            @given(case=self.strategy(GenerationMode.POSITIVE, world))
            def valid_request(case):
                if run.stopped or not run.may_make_image(world):
                    return
                outgoing, expected = self.prepare(world, case, self._provision(world))
                if expected.either:
                    return  # ambiguous: a valid request only by some reading of the documents
                self._answered(world, self.exercise(world, case, outgoing, expected, "positive", run), run)

            if self._replayed(world, node, "positive", run) is None:
                valid_request()

    def check_invalid_requests(self, world: World, node: pytest.Item) -> None:
        """Generated schema-invalid requests, against one set of provisioned resources
        (a refused request changes nothing; the image count is checked after)."""
        run = Run(node, phase_seed(node, "negative"))
        with run, memoized_regex_strategies():
            made = self._provision(world)
            accepted: list[bool] = []
            before = world.resources("image")

            @_settings(node, run.seed)
            @given(case=self.strategy(GenerationMode.NEGATIVE, world))
            def invalid_request(case):
                # a generated mistake the wire mends (a number sent as form text, an
                # identifier filled) leaves a valid request: it is tested as one
                response = self._exercise_case(world, case, "negative", run, made)
                accepted.append(response is not None and 200 <= response.status_code < 300)

            if self._replayed(world, node, "negative", run, accepted) is None:
                invalid_request()
            after = world.resources("image")
            if before is not None and after is not None and len(after) - len(before) != sum(accepted):
                run.problem("negative", f"{sum(accepted)} accepted requests made {len(after) - len(before)} image(s): "
                                        "a refused request made one")

    def check_lifecycle(self, world: World, node: pytest.Item) -> None:
        """A state machine: create (a generated valid request), settle and follow the
        job to its end, read the image, delete it, read it again (gone)."""
        if self.lifecycle is None:
            raise LookupError(f"the {self.dialect} fuzz suite gives no Lifecycle")
        if not world.controlled:
            not_verified("the stateful phase makes images and settles their jobs: it needs the control protocol")
        run = Run(node, phase_seed(node, "stateful"))
        with run, memoized_regex_strategies():
            machine = _lifecycle_machine(self, world, run, self._valid_requests(world, node, run.seed))
            try:
                run_state_machine_as_test(hypothesis.seed(run.seed)(machine),
                                          settings=settings(fuzz_settings(node, LIFECYCLE_SHARE),
                                                            stateful_step_count=LIFECYCLE_STEPS))
            except* LifecycleBroken:
                pass  # recorded by the step that found it

    def _replayed(self, world: World, node: pytest.Item, phase: str, run: "Run",
                  accepted: list[bool] | None = None) -> list[requests.Response] | None:
        """On an offline replay (`--replay`), the phase's requests as its cassette recorded
        them, sent again in their order and judged as now, instead of generating them anew
        (hypothesis would only draw what the cassette already holds); None when not replaying."""
        from imagecert.cassettes.player import recorded_requests

        recorded = recorded_requests(node, self.operation.method, self.operation.path, world.target.base_url)
        if recorded is None:
            return None
        declared = {p["name"].lower() for p in self._declared_parameters() if p["in"] == "header"}
        answers = []
        for sent in recorded:
            headers = {k: v for k, v in sent.headers.items() if k.lower() == "content-type" or k.lower() in declared}
            outgoing = Outgoing(sent.method, sent.url, None, headers, {"data": sent.body} if sent.body else {},
                                sent.body, sent.media)
            case = self.st_operation.Case(body=_wire_body(sent.body, sent.media), media_type=sent.media or None,
                                          query=dict(sent.query), headers=dict(headers),
                                          path_parameters=dict(sent.path_parameters))
            expected = self.expectation(case, outgoing, strict=world.option("profile") == "strict")
            response = self.exercise(world, case, outgoing, expected, phase, run)
            if accepted is not None:
                accepted.append(200 <= response.status_code < 300)
            answers.append(response)
        return answers

    # helpers -------------------------------------------------------------------
    def _valid_requests(self, world: World, node: pytest.Item, seed: int) -> list[Callable[[], Any]]:
        """Generated valid requests, drawn before the state machine runs: a draw that
        schemathesis rejects half-way would throw away a run whose requests were sent."""
        drawn: list[Callable[[], Any]] = []

        @settings(fuzz_settings(node, LIFECYCLE_SHARE * LIFECYCLE_STEPS))
        @hypothesis.seed(seed)
        @given(case=self.strategy(GenerationMode.POSITIVE, world))
        def draw(case):
            body, media, query = deepcopy(case.body), case.media_type, dict(case.query or {})
            headers = dict(case.headers or {})
            drawn.append(lambda: self.st_operation.Case(body=deepcopy(body), media_type=media, query=dict(query),
                                                        headers=dict(headers), path_parameters={}))

        from imagecert.cassettes.player import kept_draws

        def keep(case) -> dict[str, Any]:
            return {"media": case.media_type, "query": dict(case.query or {}), "headers": dict(case.headers or {}),
                    **({} if case.body is NOT_SET else {"body": case.body})}

        def again(kept: dict[str, Any]):
            return lambda: self.st_operation.Case(body=deepcopy(kept.get("body", NOT_SET)), media_type=kept["media"],
                                                  query=dict(kept["query"]), headers=dict(kept["headers"]),
                                                  path_parameters={})

        # a recording keeps what was drawn in the cassette, and its replay draws nothing
        return kept_draws(node, draw, drawn, keep, again)

    def _exercise_case(self, world: World, case, phase: str, run: "Run",
                       shared: "Provisioned") -> requests.Response | None:
        """A request the target may accept gets fresh resources (accepting uses them up);
        in static mode only within the image budget (`World.max_images`)."""
        if run.stopped:
            return None
        outgoing, expected = self.prepare(world, case, shared)
        if expected.accepted or expected.either:
            if not run.may_make_image(world):
                return None
            outgoing, expected = self.prepare(world, case, self._provision(world))
        response = self.exercise(world, case, outgoing, expected, phase, run)
        self._answered(world, response, run, shared if not expected.accepted else None)
        return response

    def _answered(self, world: World, response: requests.Response, run: "Run",
                  shared: "Provisioned | None" = None) -> None:
        """After an accepted request, what it used is made idle before the next one, so that
        no later answer is a conflict with it: control mode gives the shared resources up
        (the teardown's sweep deletes what they made); static mode waits for the image, deletes
        it and waits for the leased server to be idle again."""
        if not 200 <= response.status_code < 300:
            return
        run.images += 1
        if world.controlled:
            if shared is not None:
                shared.made.clear()
            return
        # the world recorded the create's answer (World.makes_images): waiting ends it and deletes it
        if not world.quiesce():
            run.stop(f"what an accepted request made did not end within [provisioning] idle_timeout_s "
                     f"({world.target.idle_timeout_s:.0f} s): the phase sent nothing more")

    def _contract_examples(self) -> list[Any]:
        body = resolve(self.dialect, self.operation.spec.get("requestBody") or {})
        cases = []
        for media, content in (body.get("content") or {}).items():
            for example in (content.get("examples") or {}).values():
                example = resolve(self.dialect, example)
                if "value" in example:  # a copy: filling identifiers must not touch the loaded contract
                    cases.append(self.st_operation.Case(body=deepcopy(example["value"]), media_type=media,
                                                        path_parameters={}))
        return cases


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


class LifecycleBroken(AssertionError):
    """The stateful phase found a failure (already recorded); stop the machine."""


def _lifecycle_machine(fuzzer: Fuzzer, world: World, run: "Run", requests_drawn: list[Callable[[], Any]]):
    lifecycle = fuzzer.lifecycle
    assert lifecycle is not None
    cleanup = _cleanup_operation(fuzzer.dialect)

    def failed(step: str, problems: list[str], rules: tuple[str, ...] = ()) -> None:
        exchange = world.api.exchanges[-1]
        run.fail(Failure("stateful", run.seed, step, problems, exchange.status, curl_line(exchange, None),
                         exchange.show(), rules))
        raise LifecycleBroken(step)

    class ImageLifecycle(RuleBasedStateMachine):
        made = Bundle("made")
        images = Bundle("images")

        @rule(target=made, which=st.integers(0, len(requests_drawn) - 1))
        def create(self, which):
            case = requests_drawn[which]()
            outgoing, expected = fuzzer.prepare(world, case, fuzzer._provision(world))
            if expected.either:
                return multiple()  # ambiguous: not a valid request by every reading
            failures_before = len(run.failures)
            response = fuzzer.exercise(world, case, outgoing, expected, "stateful", run)
            if len(run.failures) > failures_before:
                raise LifecycleBroken("create")
            return response if expected.accepted else multiple()

        @rule(target=images, created=consumes(made))
        def follow_to_its_end(self, created):
            world.settle()
            try:
                image_id = lifecycle.image_of(world, created)
            except RuleViolation as error:
                failed("the job of an accepted create ends with an image", _problems_of(error), _rules_of(error))
            world.made_image(image_id)
            self._read(image_id)
            return image_id

        @rule(image=images)
        def read(self, image):
            self._read(image)

        @rule(image=consumes(images))
        def delete(self, image):
            where = {cleanup.name: image, **cleanup.scope(world)}
            response = world.api.call(cleanup.operation_id, **{cleanup.where: where})
            run.examples += 1
            problems = _violations(lambda: expect_success(world.api, response))
            if problems:
                failed(f"deleting the image made ({image}) succeeds", problems)
            gone = lifecycle.read(world, image)
            run.examples += 1
            problems = schema_problems(fuzzer.dialect, gone)
            if lifecycle.gone is not None:
                problems += [] if lifecycle.gone(gone) else [f"it still reads as there (HTTP {gone.status_code})"]
            elif not 400 <= gone.status_code < 500:
                problems.append(f"expected a documented 4xx, got HTTP {gone.status_code}")
            if problems:
                failed(f"a deleted image ({image}) reads as gone", problems)

        def _read(self, image_id: str) -> None:
            response = lifecycle.read(world, image_id)
            run.examples += 1
            problems = _violations(lambda: expect_success(world.api, response))
            if not problems and not lifecycle.ready(response.json()):
                problems = ["the image made is not ready once its job ended"]
            if problems:
                failed(f"the image made ({image_id}) reads as ready", problems)

    return ImageLifecycle


@dataclass(frozen=True)
class Cleanup:
    operation_id: str
    where: str
    name: str
    scope_keys: dict[str, str]

    def scope(self, world: World) -> dict[str, str]:
        return {name: world.scope.get(key) for name, key in self.scope_keys.items()}


def _cleanup_operation(dialect: str) -> Cleanup:
    for op in operations(dialect).values():
        how = op.spec.get("x-imagecert-cleanup")
        if how:
            return Cleanup(op.operation_id, how["in"], how["name"], dict(how.get("scope") or {}))
    raise LookupError(f"the {dialect} contract marks no x-imagecert-cleanup operation")


# -- running a phase ----------------------------------------------------------------------


class Run:
    """One phase's count of examples and its failures, recorded on the test item and
    turned into one pytest failure that lists them all."""

    def __init__(self, node: pytest.Item, seed: int | None):
        self.node = node
        self.seed = seed
        self.examples = 0
        self.failures: dict[tuple[str, ...], Failure] = {}
        self.started = time.monotonic()
        self.images = 0            # requests the target accepted (each made an image)
        self.stopped: str | None = None

    def may_make_image(self, world: World) -> bool:
        """Whether one more request the target may accept can be sent: the image budget."""
        return world.max_images is None or self.images < world.max_images

    def stop(self, why: str) -> None:
        self.stopped = why
        self.problem("static", why)

    def fail(self, failure: Failure) -> None:
        self.failures.setdefault(failure.key(), failure)

    def problem(self, phase: str, text: str) -> None:
        self.fail(Failure(phase, self.seed, "nothing changes", [text], None, "", ""))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind, error, tb) -> bool:
        failures = list(self.failures.values())
        seconds = time.monotonic() - self.started
        self.node.user_properties.append((FUZZ_PROPERTY, {
            "examples": self.examples, "seconds": round(seconds, 2), "seed": self.seed,
            "failures": [f.as_dict() for f in failures],
        }))
        if error is not None or not failures:
            return False
        __tracebackhide__ = True
        shown = "".join(f.show() for f in failures[:SHOWN_FAILURES])
        more = f"… and {len(failures) - SHOWN_FAILURES} more distinct failures\n" if len(failures) > SHOWN_FAILURES else ""
        first = failures[0].exchange
        # every failure attributed: only those rules fail; else every rule the test is linked to
        rules = () if any(not f.rules for f in failures) else tuple(dict.fromkeys(r for f in failures for r in f.rules))
        broken = f" breaking {', '.join(rules)}" if rules else ""
        raise RuleViolation(f"{len(failures)} distinct fuzz failure(s){broken} in {self.examples} examples:\n"
                            f"{shown}{more}\nfirst failing exchange:\n{first}", rules=rules)


def fuzz_examples(node: pytest.Item) -> int:
    """`--fuzz-examples N`, else the hypothesis profile's max_examples."""
    given_n = node.config.getoption("fuzz_examples", None)
    return int(given_n) if given_n else settings.default.max_examples


def phase_seed(node: pytest.Item, phase: str) -> int:
    """`--hypothesis-seed`, else stable per test and phase in a derandomized profile
    (CI never flakes), else random (printed with every failure)."""
    from hypothesis import core

    if core.global_force_seed is not None:
        return int(core.global_force_seed)
    if settings.default.derandomize:  # the suite folder and test name: the same from any rootdir
        return zlib.crc32(f"{Path(str(getattr(node, 'path', ''))).parent.name}/{node.name}:{phase}".encode())
    return random.SystemRandom().randrange(2**32)


def fuzz_settings(node: pytest.Item, scale: float = 1.0) -> settings:
    """The profile's settings with this run's budget; no shrinking (each step costs
    requests to the target) and no example database (runs are reproduced by seed)."""
    return settings(settings.default, max_examples=max(1, int(fuzz_examples(node) * scale)), deadline=None,
                    database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


def _settings(node: pytest.Item, seed: int, cap: int | None = None):
    """The phase's settings and seed; `cap`: the image budget of a phase whose every request
    makes an image (a few more are drawn, for those not sent: ambiguous ones)."""
    def apply(test):
        base = fuzz_settings(node)
        if cap is not None:
            base = settings(base, max_examples=max(1, min(base.max_examples, 3 * cap)))
        return hypothesis.seed(seed)(base(test))

    return apply


# -- small helpers --------------------------------------------------------------------------


def _documents_a_refusal(dialect: str, rule_id: str) -> bool:
    entry = load_catalog(dialect).by_id.get(rule_id)
    return entry is not None and (entry.kind == "return-code" or entry.expect is not None)


def _integral_float(data: Any) -> bool:
    """A JSON number with a fraction part of zero (472377.0): an integer to JSON Schema,
    not to a reader that types integers strictly."""
    if isinstance(data, float):
        return data.is_integer()
    if isinstance(data, dict):
        return any(_integral_float(v) for v in data.values())
    if isinstance(data, list):
        return any(_integral_float(v) for v in data)
    return False


def _violations(assertion: Callable[[], Any]) -> list[str]:
    try:
        assertion()
    except RuleViolation as error:
        return _problems_of(error)
    return []


def _problems_of(error: RuleViolation) -> list[str]:
    """The "  - problem" lines of a RuleViolation, with the rule it names."""
    text = str(error)
    rule = re.match(r"\[([^\]]+)\]", text)
    problems = [line.strip()[2:] for line in text.splitlines() if line.startswith("  - ")]
    prefix = f"{rule.group(1)}: " if rule else ""
    return [prefix + p for p in problems] or [text.splitlines()[0] if text else "failed"]


def _rules_of(error: RuleViolation) -> tuple[str, ...]:
    """The rules a RuleViolation names: its `rules`, else the `[ID]` it starts with."""
    named = re.match(r"\[([^\]]+)\]", str(error))
    return tuple(getattr(error, "rules", ()) or ((named.group(1),) if named else ()))


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode("utf-8")


@cache
def _security_headers(dialect: str) -> frozenset[str]:
    schemes = (load_contract(dialect).get("components") or {}).get("securitySchemes") or {}
    return frozenset(s["name"].lower() for s in schemes.values() if s.get("in") == "header" and s.get("name"))


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A wire string as the schema's type reads it (query and header values are text)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
    except ValueError:
        pass
    return value


def _parse_body(sent: bytes, media: str, schema: dict[str, Any]) -> Any:
    """The body as the contract types it: JSON as it is; a form's fields (each given
    once) as text, integers where the schema types the field integer."""
    if "json" in media:
        try:
            return json.loads(sent)
        except ValueError:
            return NOT_SET
    if media == FORM:
        try:
            pairs = parse_qsl(sent.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return NOT_SET
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            return NOT_SET
        return {name: _form_value(schema, name, value) for name, value in pairs}
    return sent


def _wire_body(sent: bytes, media: str) -> Any:
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


def _form_value(schema: dict[str, Any], name: str, value: str) -> Any:
    field_schema = (schema.get("properties") or {}).get(name)
    if field_schema is None:
        field_schema = next((s for p, s in (schema.get("patternProperties") or {}).items() if re.search(p, name)), {})
    if field_schema.get("type") == "integer" and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    return value


def _set_present(node: Any, name: str, value: Callable[[], Any], replaced: tuple[type, ...]) -> None:
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
                _set_present(item, rest, value, replaced)
    elif isinstance(node, dict) and head in node and rest:
        _set_present(node[head], rest, value, replaced)

