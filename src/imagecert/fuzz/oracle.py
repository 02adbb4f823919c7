"""What answer a request deserves (the `Oracle`): the expectation of one request, decided
on the body as it went on the wire, and whether an answer is the documented one; the
judge's own reading of the contract's `x-constraint` marks (which rule a schema error
breaks) and the helpers that read a body as the contract types it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

import requests
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import relevance
from schemathesis.core import NOT_SET

from imagecert.checks import RuleViolation, expect_refusal, expect_success, schema_problems
from imagecert.contracts import load_catalog, operations, request_pointer, resolve, validator
from imagecert.fuzz.dialect import Ambiguity, CatalogRule
from imagecert.fuzz.schema import constraint_ids_in, declared_parameters
from imagecert.fuzz.wire import FORM, Outgoing
from imagecert.world import World


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


def documents_a_refusal(dialect: str, rule_id: str) -> bool:
    entry = load_catalog(dialect).by_id.get(rule_id)
    return entry is not None and (entry.kind == "return-code" or entry.expect is not None)


def integral_float(data: Any) -> bool:
    """A JSON number with a fraction part of zero (472377.0): an integer to JSON Schema,
    not to a reader that types integers strictly."""
    if isinstance(data, float):
        return data.is_integer()
    if isinstance(data, dict):
        return any(integral_float(v) for v in data.values())
    if isinstance(data, list):
        return any(integral_float(v) for v in data)
    return False


def violations(assertion: Callable[[], Any]) -> list[str]:
    try:
        assertion()
    except RuleViolation as error:
        return problems_of(error)
    return []


def problems_of(error: RuleViolation) -> list[str]:
    """The "  - problem" lines of a RuleViolation, with the rule it names."""
    text = str(error)
    rule = re.match(r"\[([^\]]+)\]", text)
    problems = [line.strip()[2:] for line in text.splitlines() if line.startswith("  - ")]
    prefix = f"{rule.group(1)}: " if rule else ""
    return [prefix + p for p in problems] or [text.splitlines()[0] if text else "failed"]


def rules_of(error: RuleViolation) -> tuple[str, ...]:
    """The rules a RuleViolation names: its `rules`, else the `[ID]` it starts with."""
    named = re.match(r"\[([^\]]+)\]", str(error))
    return tuple(getattr(error, "rules", ()) or ((named.group(1),) if named else ()))


def typed(value: str, schema: dict[str, Any]) -> Any:
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


def parse_body(sent: bytes, media: str, schema: dict[str, Any]) -> Any:
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


def _form_value(schema: dict[str, Any], name: str, value: str) -> Any:
    field_schema = (schema.get("properties") or {}).get(name)
    if field_schema is None:
        field_schema = next((s for p, s in (schema.get("patternProperties") or {}).items() if re.search(p, name)), {})
    if field_schema.get("type") == "integer" and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    return value


def _holds(predicate: Callable[[Any], bool], data: Any) -> bool:
    """A catalog rule's or an ambiguity's predicate on a body; false where the body (a
    schema-invalid one) has not the shape the predicate reads."""
    try:
        return bool(predicate(data))
    except (TypeError, AttributeError, KeyError, ValueError):
        return False


class Oracle:
    """What answer each request to one dialect's operation under test deserves, decided on
    the request as it went on the wire, and whether an answer is that one."""

    def __init__(self, dialect: str, operation_id: str, rules: Iterable[CatalogRule] = (),
                 ambiguities: Iterable[Ambiguity] = (), malformed_rule: str | None = None,
                 empty_body_rule: str | None = None):
        """`malformed_rule`: the catalog rule that refuses a body the contract's marks
        name no rule for (unreadable, a wrong type, an unknown key); `empty_body_rule`:
        the one that refuses a missing body (default: the malformed rule). Without them
        any documented 4xx with the dialect's error body will do."""
        self.dialect = dialect
        self.operation_id = operation_id
        self.operation = operations(dialect)[operation_id]
        self.rules = tuple(rules)
        self.ambiguities = tuple(ambiguities)
        self.malformed_rule = malformed_rule
        self.empty_body_rule = empty_body_rule or malformed_rule
        self.parameters = declared_parameters(dialect, operation_id)
        self._parameter_validators: dict[tuple[str, str], Draft202012Validator] = {}

    def schema_rule_ids(self) -> list[str]:
        """The catalog ids the request schema carries: what the negative phases exercise."""
        return constraint_ids_in(self.dialect, self.operation.spec.get("requestBody", {}))

    def catalog_rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.rules]

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
        data = parse_body(outgoing.body, outgoing.media, resolve(self.dialect, content[outgoing.media]["schema"]))
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
        also, any_refusal = self._other_readings(data)
        rules = [r for found in marked for r in found] + list(self._catalog_rules_broken(data)) + refusing_unknown
        why = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:100]}" for e in errors[:3])
        return Expected(False, f"schema-invalid ({why})", tuple(dict.fromkeys(rules + list(also))),
                        any_refusal=any(not found for found in marked) or any_refusal)

    @staticmethod
    def _refusal(why: str, rule_id: str | None) -> Expected:
        return Expected(False, why, (rule_id,)) if rule_id else Expected(False, why, any_refusal=True)

    def _parameter_problems(self, case) -> list[str]:
        """How the query and header parameters break their schemas (as strings on the
        wire; the signing headers are the target's own business)."""
        problems = []
        for parameter in self.parameters:
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
            if not self._parameter_validators[key].is_valid(typed(value, schema)):
                problems.append(f"the {parameter['in']} parameter {parameter['name']}={value!r} breaks its schema")
        return problems

    def _catalog_rules_broken(self, data: Any) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.rules if _holds(r.broken_by, data))

    def _ambiguities(self, data: Any) -> list[str]:
        """The `D…` entries the body is one of (one of their readings refuses it)."""
        return [a.entry_id for a in self.ambiguities if _holds(a.applies, data)]

    def _other_readings(self, data: Any) -> tuple[tuple[str, ...], bool]:
        """How a reading of the documents may refuse a body that must be refused anyway,
        for a reason of its own, first: (rules, any documented 4xx). A reader that types
        integers strictly refuses a whole number with a fraction part as malformed; a
        `D…` entry's refusing reading names no rule."""
        malformed = (self.malformed_rule,) if self.malformed_rule and integral_float(data) else ()
        return malformed, bool(self._ambiguities(data)) or (integral_float(data) and not self.malformed_rule)

    def _catalog_expectation(self, data: Any) -> Expected:
        broken = self._catalog_rules_broken(data)
        if broken:
            also, any_refusal = self._other_readings(data)
            return Expected(False, f"schema-valid but breaks {', '.join(broken)}", tuple(dict.fromkeys(broken + also)),
                            any_refusal=any_refusal)
        ambiguous = self._ambiguities(data) + (
            ["an integer field given a whole number with a fraction part (472377.0)"] if integral_float(data) else [])
        if ambiguous:
            return Expected(False, f"ambiguous ({', '.join(ambiguous)}): accepted or refused as documented, "
                                   "never sent as a valid request", either=True)
        return Expected(True, "schema-valid: accepted")

    def judge(self, world: World, response: requests.Response, expected: Expected) -> list[str]:
        """How the answer breaks the contract; empty when it is as documented."""
        api = world.api
        if expected.accepted or (expected.either and 200 <= response.status_code < 300):
            return violations(lambda: expect_success(api, response))
        if expected.either and 400 <= response.status_code < 500:
            return schema_problems(self.dialect, response, self.operation_id)
        if 200 <= response.status_code < 300:
            return [f"a request that must be refused was accepted with HTTP {response.status_code}"]
        tried = []
        for rule_id in expected.rules:  # the first rule the refusal matches is enough
            problems = violations(lambda r=rule_id: expect_refusal(api, response, r))
            if not problems:
                return []
            tried.append(problems)
        if expected.any_refusal and 400 <= response.status_code < 500:
            return schema_problems(self.dialect, response, self.operation_id)
        if not tried:
            return [f"expected a documented 4xx, got HTTP {response.status_code}"]
        return list(dict.fromkeys(p for problems in tried for p in problems))[:4]

    def attribute(self, world: World, response: requests.Response, expected: Expected) -> tuple[str, ...]:
        """The rules a failing answer breaks: those the request broke when it had to be
        refused; when it had to be accepted, those whose documented refusal the target
        gave (it enforced them where they do not apply). Empty when neither is known."""
        if not expected.accepted:
            return expected.rules
        claimed = [r for r in self.schema_rule_ids() + self.catalog_rule_ids()
                   if documents_a_refusal(world.api.dialect, r)
                   and not violations(lambda r=r: expect_refusal(world.api, response, r))]
        return tuple(claimed)

