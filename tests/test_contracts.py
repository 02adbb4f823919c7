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
