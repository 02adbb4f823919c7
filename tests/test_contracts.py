"""The OpenAPI contracts are valid, linked to the catalog, and agree with their own examples."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from openapi_spec_validator import validate

from imagecert.contracts import (
    DIALECTS,
    contracts_dir,
    load_catalog,
    load_contract,
    operations,
    pointer,
    validator,
)

# The operation each dialect certifies, as the public interfaces name it.
UNDER_TEST = {
    "huawei-ims": ("POST", "/v1/cloudimages/wholeimages/action"),
    "huawei-nova": ("POST", "/v2.1/{project_id}/servers/{server_id}/action"),
    "jdcloud-vm": ("POST", "/v1/regions/{regionId}/instances/{instanceId}:createImage"),
    "apsara-ecs": ("POST", "/apsara/route/Ecs/CreateImage"),
}


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (str(key),))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, path + (str(i),))


def media_examples(dialect: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, schema pointer, example) for every example kept beside a schema."""
    for path, node in walk(load_contract(dialect)):
        if isinstance(node, dict) and "schema" in node and "examples" in node:
            for name, example in node["examples"].items():
                yield f"{'/'.join(path)}#{name}", pointer(*path, "schema"), example


@pytest.mark.parametrize("dialect", DIALECTS)
def test_contract_is_valid_openapi_3_1(dialect):
    contract = load_contract(dialect)
    assert contract["openapi"].startswith("3.1")
    validate(contract)


def test_control_protocol_is_valid_openapi_3_1():
    import yaml

    contract = yaml.safe_load((contracts_dir() / "control.openapi.yaml").read_text("utf-8"))
    assert contract["openapi"].startswith("3.1")
    validate(contract)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_contract_names_its_dialect_and_sources(dialect):
    info = load_contract(dialect)["info"]
    assert info["x-imagecert-dialect"] == dialect
    assert info["x-imagecert-sources"], "a contract names the seed files it is written from"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_operation_under_test_is_the_documented_one(dialect):
    under_test = [op for op in operations(dialect).values() if op.role == "under-test"]
    assert [(op.method, op.path) for op in under_test] == [UNDER_TEST[dialect]]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_supporting_operations_say_where_their_shape_comes_from(dialect):
    for op in operations(dialect).values():
        assert op.role in ("under-test", "supporting"), op.operation_id
        if op.role == "supporting":
            assert op.spec.get("x-imagecert-source"), f"{op.operation_id} names no source"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_x_constraint_names_a_catalog_entry(dialect):
    ids = set(load_catalog(dialect).by_id)
    dangling = []
    for path, node in walk(load_contract(dialect)):
        if path and path[-1] == "x-constraint":
            for ref in node if isinstance(node, list) else [node]:
                if ref not in ids:
                    dangling.append(f"{'/'.join(path)}: {ref}")
    assert not dangling, "\n".join(dangling)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_examples_validate_unless_marked_as_discrepancies(dialect):
    ids = set(load_catalog(dialect).by_id)
    problems = []
    examples = list(media_examples(dialect))
    assert examples, "the seeds' examples are kept in the contract"
    for label, schema_pointer, example in examples:
        errors = list(validator(dialect, schema_pointer).iter_errors(example.get("value")))
        marked = example.get("x-imagecert-discrepancy")
        if marked:
            if marked not in ids:
                problems.append(f"{label}: marked with unknown catalog id {marked}")
            if not errors:
                problems.append(f"{label}: marked as a discrepancy ({marked}) but validates")
        elif errors:
            problems.append(f"{label}: {errors[0].message}")
        if not example.get("x-imagecert-source"):
            problems.append(f"{label}: names no x-imagecert-source")
    assert not problems, "\n".join(problems)


# --- Patterns mean in the validator what they mean in ECMA-262 -------------------------
#
# JSON Schema's `pattern` (and `patternProperties`' keys) are ECMA-262 regular expressions;
# the validator in use (jsonschema, for the provider and the judge alike) runs them with
# Python's `re`, where `$` also matches before a final newline and `\d`, `\s`, `\w` are
# Unicode-wide. The contracts keep to the part of the syntax both read alike; this proves
# it on generated strings, trailing newlines included, against `regress` (ECMA-262), for
# `jsonschema` and for the provider's quick check (jsonschema-rs, whose fancy-regex runs
# the contracts' lookaheads and lookbehinds).

import functools  # noqa: E402
import re  # noqa: E402

import regress  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

# Characters where Python's and ECMA-262's classes disagree, and line ends.
_TRICKY = "\n\r\t \x0b\x0c\x1c\x1f\x85\xa0\u2028\ufeff\u3000٣0aZ_-.:/\u4e00\u9fa5\U0001f600"


def contract_patterns() -> Iterator[tuple[str, str, str]]:
    """(dialect, "pattern" | "key", regex) for every regex in every contract."""
    seen = set()
    for dialect in DIALECTS:
        for _, node in walk(load_contract(dialect)):
            if not isinstance(node, dict):
                continue
            found = [("pattern", node["pattern"])] if isinstance(node.get("pattern"), str) else []
            found += [("key", key) for key in node.get("patternProperties") or {}]
            for kind, regex in found:
                if (dialect, kind, regex) not in seen:
                    seen.add((dialect, kind, regex))
                    yield dialect, kind, regex


def _in_use(kind: str, regex: str, text: str) -> bool:
    if kind == "pattern":
        return Draft202012Validator({"pattern": regex}).is_valid(text)
    return not Draft202012Validator({"patternProperties": {regex: False}}).is_valid({text: 0})


@functools.cache
def _quick(kind: str, regex: str):
    """The provider's quick check (jsonschema-rs, fancy-regex) for one pattern, built as
    `Dialect._quick_validator` builds it."""
    import jsonschema_rs

    schema = {"pattern": regex} if kind == "pattern" else {"patternProperties": {regex: False}}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=False,
                                              pattern_options=jsonschema_rs.FancyRegexOptions())


def _in_quick(kind: str, regex: str, text: str) -> bool:
    if kind == "pattern":
        return _quick(kind, regex).is_valid(text)
    return not _quick(kind, regex).is_valid({text: 0})


def _strings(regex: str):
    matching = st.from_regex(regex)
    return st.one_of(
        matching,
        matching.map(lambda s: s + "\n"),
        matching.map(lambda s: s + "\r\n"),
        st.tuples(matching, st.sampled_from(_TRICKY), st.integers(0, 40)).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
        ),
        st.text(alphabet=_TRICKY, max_size=6),
    )


def test_every_contract_has_patterns_to_check():
    assert {d for d, _, _ in contract_patterns()} == set(DIALECTS)


@pytest.mark.parametrize("dialect,kind,regex", list(contract_patterns()))
def test_pattern_means_in_the_validator_what_it_means_in_ecma_262(dialect, kind, regex):
    ecma = regress.Regex(regex, "u")

    @settings(max_examples=150, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(_strings(regex))
    def same_answer(text):
        assert (ecma.find(text) is not None) == _in_use(kind, regex, text), (
            f"{dialect}: {regex!r} on {text!r}: ECMA-262 and the validator disagree"
        )
        assert (ecma.find(text) is not None) == _in_quick(kind, regex, text), (
            f"{dialect}: {regex!r} on {text!r}: ECMA-262 and the provider's quick check disagree"
        )

    same_answer()
    for tail in ("\n", "\r\n"):  # the classic: `$` before a final newline
        for text in ("", "a", "vda", "Tag.1.Key", "/dev/vdb", "IMG.0001", "2.1", "name"):
            text = text + tail
            assert (ecma.find(text) is not None) == _in_use(kind, regex, text), (dialect, regex, text)
            assert (ecma.find(text) is not None) == _in_quick(kind, regex, text), (dialect, regex, text)


_BOUNDS = ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
           "minItems", "maxItems", "x-imagecert-max-bytes", "x-imagecert-key-max-bytes")


def _bounds(node: Any, contract: dict, marks: tuple[str, ...] = (), seen: set | None = None,
            ) -> Iterator[tuple[str, Any, tuple[str, ...]]]:
    """(keyword, number, the nearest x-constraint ids) for every length/range keyword
    under `node`, following local `$ref`s."""
    seen = set() if seen is None else seen
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        seen.add(node["$ref"])
        target = contract
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        yield from _bounds(target, contract, marks, seen)
    if isinstance(node, dict):
        own = node.get("x-constraint")
        marks = ((own,) if isinstance(own, str) else tuple(own)) if own else marks
        for key in _BOUNDS:
            if isinstance(node.get(key), (int, float)) and not isinstance(node.get(key), bool):
                yield key, node[key], marks
        for key, value in node.items():
            if key not in _BOUNDS:
                yield from _bounds(value, contract, marks, seen)
    elif isinstance(node, list):
        for value in node:
            yield from _bounds(value, contract, marks, seen)


def _numbers(text: str) -> set[float]:
    """The numbers a quote states; "小于243字节" / "less than 243" states an exclusive bound,
    so the inclusive keyword is one less (and one more after "大于" / "greater than")."""
    found = set()
    for match in re.finditer(r"(大于|小于|greater than |less than )?(\d+(?:\.\d+)?)", text):
        word, number = match.group(1), float(match.group(2))
        found.add(number)
        if word in ("小于", "less than "):
            found.add(number - 1)
        elif word in ("大于", "greater than "):
            found.add(number + 1)
    return found


def _rule_quotes(catalog: dict, rule_id: str) -> list[str]:
    """A rule's quotes, and those of the rules it defers to or that defer to it by id in
    their summary (a parameter rule "refused as JD-R009", an older spelling "under
    Tag.N.Key's rules (APS-P003)")."""
    entry = catalog[rule_id]
    linked = [e for e in catalog.values() if rule_id in (e.summary or "")]
    linked += [catalog[i] for i in re.findall(r"[A-Z]+-[A-Z]\d{3}", entry.summary or "") if i in catalog]
    return [q for e in [entry, *linked] for _, q in e.quotes()]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_length_and_range_is_the_number_its_rule_quotes(dialect):
    """A bound no document states is a reading: it belongs to a D… entry (never `must`) that
    says so in its `discrepancy`."""
    catalog = load_catalog(dialect).by_id
    wrong = []
    contract = load_contract(dialect)
    requests = [op.get(part) for item in contract["paths"].values() for op in item.values()
                if isinstance(op, dict) for part in ("requestBody", "parameters")]
    for keyword, number, marks in _bounds(requests, contract):
        if not marks or (keyword in ("minLength", "minItems") and number == 1):
            continue  # unmarked: no rule to quote; 1: "not empty" has no number to quote
        readings = [m for m in marks if catalog[m].level != "must" and catalog[m].raw.get("discrepancy")]
        found = set().union(*(_numbers(q) for m in marks for q in _rule_quotes(catalog, m)))
        if number not in found and not readings:
            wrong.append(f"{keyword}={number} under {marks}: the quotes state {sorted(found)}")
    assert not wrong, "\n".join(wrong)
