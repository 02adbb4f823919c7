"""The dialect's contract as schemathesis reads it (loaded once per process), and what
the engine reads of it: the operation under test, its `x-constraint` ids, the signing
headers."""

from __future__ import annotations

from functools import cache
from typing import Any

import schemathesis

from imagecert.contracts import contract_path, load_contract, operations, resolve


@cache
def load_schema(dialect: str):
    """The dialect's contract as a schemathesis schema. The coverage phase probes no
    method the contract does not document on the path; whether a request was valid is
    decided by imagecert on the wire (see `Oracle.expectation`), so schemathesis'
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


@cache
def security_headers(dialect: str) -> frozenset[str]:
    schemes = (load_contract(dialect).get("components") or {}).get("securitySchemes") or {}
    return frozenset(s["name"].lower() for s in schemes.values() if s.get("in") == "header" and s.get("name"))


@cache
def declared_parameters(dialect: str, operation_id: str) -> list[dict[str, Any]]:
    """The query and header parameters the contract declares for the operation (the
    signing headers left to the target's signing)."""
    signing = security_headers(dialect)
    found = []
    for parameter in operations(dialect)[operation_id].spec.get("parameters") or []:
        parameter = resolve(dialect, parameter)
        if parameter["in"] == "query" or (parameter["in"] == "header" and parameter["name"].lower() not in signing):
            found.append(parameter)
    return found
