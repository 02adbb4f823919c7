"""What answer a request deserves: the judge's own reading of the contract's
`x-constraint` marks (which rule a schema error breaks), the expectation of one request,
and the helpers that read a body as the contract types it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from jsonschema import ValidationError
from jsonschema.exceptions import relevance
from schemathesis.core import NOT_SET

from imagecert.checks import RuleViolation
from imagecert.contracts import load_catalog, resolve
from imagecert.fuzz.wire import FORM


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

