"""Validate request bodies against the contract and name the catalog rule each error breaks.

The contract marks the schema parts that carry a rule with `x-constraint`; a JSON
Schema error is traced back to the nearest such mark, so the reference provider
answers with the rule's documented error without a second copy of any limit.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from jsonschema import ValidationError
from jsonschema.exceptions import relevance

from imagecert.contracts import load_catalog, request_pointer, resolve, validator


def _ids(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    marks = schema.get("x-constraint") or []
    return [marks] if isinstance(marks, str) else list(marks)


def _field(error: ValidationError) -> str | None:
    if error.validator == "required":
        match = re.match(r"'([^']+)' is a required property", error.message)
        return match.group(1) if match else None
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        match = re.search(r"'([^']+)' (?:was|were) unexpected", error.message)
        return match.group(1) if match else None
    named = [p for p in error.absolute_path if isinstance(p, str)]
    return named[-1] if named else None


def _pick(dialect: str, ids: list[str], field: str | None) -> str | None:
    if not ids:
        return None
    if field and len(ids) > 1:
        catalog = load_catalog(dialect).by_id
        for rule_id in ids:
            param = (catalog.get(rule_id).param if rule_id in catalog else None) or ""
            if param.split(".")[-1].lower() == field.lower():
                return rule_id
    return ids[0]


def rule_for(dialect: str, error: ValidationError) -> str | None:
    """The catalog rule a validation error breaks, or None when the contract names none."""
    field = _field(error)
    candidates = _ids(error.schema)
    if error.validator == "required" and field:
        prop = resolve(dialect, (error.schema.get("properties") or {}).get(field, {}))
        candidates = _ids(prop) + candidates
    if not candidates and error.context:
        deepest = sorted(error.context, key=relevance)[-1]
        return rule_for(dialect, deepest)
    return _pick(dialect, candidates, field)


def body_errors(dialect: str, operation_id: str, data: Any, media_type: str | None = None) -> Iterator[tuple[str | None, str]]:
    """(rule id or None, message) for every way the body breaks the request schema,
    the most specific first."""
    check = validator(dialect, request_pointer(dialect, operation_id, media_type))
    for error in sorted(check.iter_errors(data), key=relevance, reverse=True):
        yield rule_for(dialect, error), error.message
