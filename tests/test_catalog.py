"""The constraint catalogs are complete and honest to the documents they quote."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from imagecert.contracts import DIALECTS, KINDS, LEVELS, contracts_dir, load_catalog, source_path
from seedtext import SeedDocument, fold

PREFIXES = {"huawei-ims": "IMS", "huawei-nova": "NOVA", "jdcloud-vm": "JD", "apsara-ecs": "APS"}


def seeds_of(dialect: str) -> list[SeedDocument]:
    contract = yaml.safe_load((contracts_dir() / dialect / "openapi.yaml").read_text("utf-8"))
    names = contract["info"]["x-imagecert-sources"]
    return [SeedDocument(source_path(name)) for name in names]


def quotes_from(dialect: str, seed: str, kinds: tuple[str, ...] = KINDS) -> list[tuple[str, str]]:
    """(entry id, folded quote) of every quote the catalog takes from one seed."""
    return [
        (e.id, fold(quote))
        for e in load_catalog(dialect).entries
        if e.kind in kinds
        for source, quote in e.quotes()
        if source == seed
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_entries_are_well_formed(dialect):
    catalog = load_catalog(dialect)
    assert catalog.dialect == dialect
    assert catalog.prefix == PREFIXES[dialect]
    id_form = re.compile(rf"^{catalog.prefix}-[CPRBD]\d{{2,3}}$")
    problems = []
    for e in catalog.entries:
        if not id_form.match(e.id):
            problems.append(f"{e.id}: id is not of the form {catalog.prefix}-<C|P|R|B|D><number>")
        if e.kind not in KINDS:
            problems.append(f"{e.id}: kind {e.kind!r} is not one of {KINDS}")
        if e.level not in LEVELS:
            problems.append(f"{e.id}: level {e.level!r} is not one of {LEVELS}")
        if (e.observable is None) == (e.not_testable is None):
            problems.append(f"{e.id}: says exactly one of observable / not_testable")
        if e.kind == "parameter-rule" and not e.param:
            problems.append(f"{e.id}: a parameter rule names its param")
        if e.kind == "return-code" and e.http_status is None:
            problems.append(f"{e.id}: a return code has its http_status")
        if not e.summary:
            problems.append(f"{e.id}: has no English summary")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_ids_are_unique(dialect):
    counts = Counter(e.id for e in load_catalog(dialect).entries)
    assert [i for i, n in counts.items() if n > 1] == []


def test_ids_are_unique_across_dialects():
    counts = Counter(e.id for d in DIALECTS for e in load_catalog(d).entries)
    assert [i for i, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_quote_stands_verbatim_in_its_source(dialect):
    missing = []
    for e in load_catalog(dialect).entries:
        for source, quote in e.quotes():
            path = source_path(source)
            if not path.is_file():
                missing.append(f"{e.id}: source {source} does not exist")
            elif fold(quote) not in fold(path.read_text("utf-8")):
                missing.append(f"{e.id}: not found in {source}: {quote!r}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_constraint_bullet_has_an_entry(dialect):
    uncovered = []
    for seed in seeds_of(dialect):
        quotes = quotes_from(dialect, seed.name)
        for heading, bullet in seed.bullets():
            if not any(q and q in bullet for _, q in quotes):
                uncovered.append(f"{seed.name} [{heading}] {bullet[:80]}")
    assert not uncovered, "bullets with no catalog entry:\n" + "\n".join(uncovered)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_return_code_row_has_its_own_entry(dialect):
    catalog = load_catalog(dialect)
    problems = []
    for seed in seeds_of(dialect):
        quotes = quotes_from(dialect, seed.name, kinds=("return-code",))
        claimed: dict[str, str] = {}
        for table in seed.tables_of("return-codes"):
            for row in table.rows:
                text = " | ".join(row)
                status = int(re.match(r"\d{3}", row[0]).group(0))
                matches = [
                    i for i, q in quotes
                    if q and q in text and catalog[i].http_status == status and i not in claimed
                ]
                if not matches:
                    problems.append(f"{seed.name}: no return-code entry for row {text[:90]}")
                else:
                    claimed[matches[0]] = text
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_parameter_row_has_a_parameter_rule(dialect):
    catalog = load_catalog(dialect)
    problems = []
    for seed in seeds_of(dialect):
        named = {
            catalog[i].param.split(".")[-1].lower()
            for i, _ in quotes_from(dialect, seed.name, kinds=("parameter-rule",))
        }
        for table in seed.tables_of("parameters"):
            for row in table.rows:
                name = row[0].split(".")[-1].lower()
                if name not in named:
                    problems.append(f"{seed.name} [{table.heading}]: no parameter rule for {row[0]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_return_code_entries_match_their_rows(dialect):
    """A return-code entry's status, code and message are what its quoted row says."""
    problems = []
    for e in load_catalog(dialect).of_kind("return-code"):
        row = fold(e.quote)
        if e.code and e.code not in fold(source_path(e.source).read_text("utf-8")):
            problems.append(f"{e.id}: code {e.code} is not in {e.source}")
        if e.message and fold(e.message) not in fold(source_path(e.source).read_text("utf-8")):
            problems.append(f"{e.id}: message {e.message!r} is not in {e.source}")
        if not row:
            problems.append(f"{e.id}: empty quote")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_documents_that_disagree_say_so(dialect):
    """Every entry drawn from two documents that differ records the difference."""
    for e in load_catalog(dialect).entries:
        if e.id.split("-")[1].startswith("D"):
            assert e.discrepancy, f"{e.id} is a disagreement entry but has no discrepancy text"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_alternative_code_is_one_its_source_documents(dialect):
    """`expect.codes` lists further documented answers to the same breach: each must stand
    in the rule's expect_source document, never be one nobody documents."""
    for entry in load_catalog(dialect).entries:
        expect = entry.raw.get("expect") or {}
        for code in expect.get("codes") or []:
            assert expect.get("code") and code != expect["code"], f"{entry.id}: {code} repeats or has no primary code"
            document = source_path(str(entry.raw.get("expect_source", "")).split(",")[0].split()[0])
            assert str(code) in document.read_text(encoding="utf-8"), f"{entry.id}: {code} is not in {document}"


def _core_flags() -> set[str]:
    profiles = yaml.safe_load((contracts_dir() / "profiles.yaml").read_text("utf-8"))
    return {f["id"] for f in profiles.get("flagged") or [] if f["profile"] == "core"}


def test_every_flag_names_a_catalog_entry_and_says_why():
    profiles = yaml.safe_load((contracts_dir() / "profiles.yaml").read_text("utf-8"))
    ids = {e.id for d in DIALECTS for e in load_catalog(d).entries}
    for flag in profiles.get("flagged") or []:
        assert flag["id"] in ids and flag["profile"] in profiles["profiles"] and flag["reason"], flag
        assert isinstance(flag["date"], str), f"{flag['id']}: quote the date, or YAML makes it a date the report cannot write"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_core_holds_no_expectation_that_is_imagecerts_own_choice(dialect):
    """An answer no document gives (expect_source "imagecert's choice") is held by strict only."""
    chosen = {e.id for e in load_catalog(dialect).entries
              if e.level == "must" and "imagecert's choice" in str(e.raw.get("expect_source", ""))}
    assert chosen <= _core_flags(), f"required in core with no documented answer: {sorted(chosen - _core_flags())}"
