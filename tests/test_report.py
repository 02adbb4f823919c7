"""Compliance reports: every catalog entry is accounted for, and the verdict is honest."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from imagecert.contracts import DIALECTS, load_catalog
from imagecert.report import build, merge, required, write_one

TARGET = {"base_url": "http://127.0.0.1:1"}


def outcome(dialect, rule_ids, result, nodeid=None, reason=None):
    return {"nodeid": nodeid or f"suites/{dialect}/test_x.py::test_{'_'.join(rule_ids)}", "dialect": dialect,
            "constraints": list(rule_ids), "outcome": result, "reason": reason, "duration_s": 0.01, "exchanges": []}


def rules_to_test(dialect, level=None, kind=None):
    return [e for e in load_catalog(dialect).entries
            if e.testable and (level is None or e.level == level) and (kind is None or e.kind == kind)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_catalog_entry_has_exactly_one_row(dialect):
    document = build(dialect, [], TARGET)
    ids = [row["id"] for row in document["constraints"] + document["return_codes"]]
    assert sorted(ids) == sorted(e.id for e in load_catalog(dialect).entries)
    assert len(document["return_codes"]) == len(load_catalog(dialect).of_kind("return-code"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_untested_rule_is_not_verified_never_passed(dialect):
    document = build(dialect, [], TARGET)
    results = {row["result"] for row in document["constraints"] + document["return_codes"]}
    assert "passed" not in results
    assert document["summary"]["passed"] == 0
    assert document["score"]["passed"] == 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_one_failed_must_rule_fails_the_verdict(dialect):
    must = [e for e in rules_to_test(dialect, level="must") if required(e, "core")[0]]  # not flagged out
    rows = [outcome(dialect, [e.id], "passed") for e in rules_to_test(dialect)]
    assert build(dialect, rows, TARGET)["verdict"] == "certified"
    rows.append(outcome(dialect, [must[0].id], "failed", nodeid="suites/x::test_broken", reason="boom"))
    document = build(dialect, rows, TARGET)
    assert document["verdict"] == "not certified"
    assert document["failed_required"] == [must[0].id]
    row = next(r for r in document["constraints"] + document["return_codes"] if r["id"] == must[0].id)
    assert row["result"] == "failed" and "suites/x::test_broken" in row["tests"]


def test_an_advisory_failure_fails_only_the_strict_profile():
    dialect = next(d for d in DIALECTS if rules_to_test(d, level="advisory") or rules_to_test(d, level="should"))
    soft = (rules_to_test(dialect, level="should") + rules_to_test(dialect, level="advisory"))[0]
    passing = [outcome(dialect, [e.id], "passed") for e in rules_to_test(dialect) if e.id != soft.id]
    rows = passing + [outcome(dialect, [soft.id], "failed")]
    assert build(dialect, rows, TARGET, profile="core")["verdict"] == "certified"
    assert build(dialect, rows, TARGET, profile="strict")["verdict"] == "not certified"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_certified_needs_every_required_rule_passed_else_incomplete(dialect):
    every = [outcome(dialect, [e.id], "passed") for e in rules_to_test(dialect)]
    certified = build(dialect, every, TARGET)
    assert certified["verdict"] == "certified"
    unverified = next(r["id"] for r in certified["constraints"] + certified["return_codes"] if r["required"])
    rows = [o for o in every if o["constraints"] != [unverified]]
    rows.append(outcome(dialect, [unverified], "not_verified", reason="static"))
    document = build(dialect, rows, TARGET)
    assert document["verdict"] == "incomplete" and not document["failed_required"]


def test_a_failure_fails_only_the_rules_it_names():
    dialect = "jdcloud-vm"
    first, second = rules_to_test(dialect, level="must")[:2]
    failing = dict(outcome(dialect, [first.id, second.id], "failed", reason="expected 400"), failed_rules=[first.id])
    rows = {row["id"]: row for row in build(dialect, [failing], TARGET)["constraints"]}
    assert rows[first.id]["result"] == "failed"
    assert rows[second.id]["result"] == "not_verified" and first.id in rows[second.id]["reason"]
    unattributed = dict(failing, failed_rules=None)
    rows = {row["id"]: row for row in build(dialect, [unattributed], TARGET)["constraints"]}
    assert rows[first.id]["result"] == rows[second.id]["result"] == "failed"


def test_not_verified_rules_are_counted_apart_in_the_score():
    dialect = "jdcloud-vm"
    entries = rules_to_test(dialect, level="must")
    rows = [outcome(dialect, [entries[0].id], "passed"), outcome(dialect, [entries[1].id], "not_verified", reason="static")]
    score = build(dialect, rows, TARGET)["score"]
    assert score["passed"] == 1 and score["not_verified"] >= 1
    assert score["share_passed"] < 1


def test_html_shows_the_verdict_and_the_failing_rule_and_junit_one_case_per_rule(tmp_path):
    dialect = "jdcloud-vm"
    must = rules_to_test(dialect, level="must")[0]
    exchange = {"method": "POST", "url": "http://x/y", "request_headers": {"Authorization": "<redacted>"},
                "request_body": "{}", "status": 200, "response_headers": {}, "response_body": "{}"}
    rows = [dict(outcome(dialect, [must.id], "failed", reason="expected HTTP 400, got 200"), exchanges=[exchange])]
    path = write_one(tmp_path, build(dialect, rows, TARGET))
    page = (path.parent / "compliance.html").read_text("utf-8")
    assert "NOT CERTIFIED" in page and must.id in page and "expected HTTP 400, got 200" in page
    assert "POST http://x/y" in page
    suite = ET.parse(path.parent / "junit.xml").getroot()
    assert len(suite.findall("testcase")) == len(load_catalog(dialect).entries)
    assert suite.find(f"testcase[@name='{must.id}']/failure") is not None


def test_merging_runs_keeps_a_failure_from_any_run(tmp_path):
    dialect = "jdcloud-vm"
    entries = rules_to_test(dialect, level="must")
    first = build(dialect, [outcome(dialect, [entries[0].id], "passed", nodeid="a")], TARGET)
    second = build(dialect, [outcome(dialect, [entries[0].id], "failed", nodeid="a", reason="x"),
                             outcome(dialect, [entries[1].id], "passed", nodeid="b")], TARGET)
    write_one(tmp_path / "one", first)
    write_one(tmp_path / "two", second)
    merged = json.loads(merge([tmp_path / "one", tmp_path / "two"], tmp_path / "out")[dialect].read_text("utf-8"))
    results = {r["id"]: r["result"] for r in merged["constraints"] + merged["return_codes"]}
    assert results[entries[0].id] == "failed"
    assert results[entries[1].id] == "passed"
    assert merged["verdict"] == "not certified"


def test_merging_runs_against_different_targets_is_refused_unless_allowed(tmp_path, capsys):
    from imagecert.cli import main

    dialect = "jdcloud-vm"
    entry = rules_to_test(dialect, level="must")[0]
    for folder, url in (("one", "http://a.example"), ("two", "http://b.example")):
        write_one(tmp_path / folder, build(dialect, [outcome(dialect, [entry.id], "passed", nodeid="a")],
                                           {**TARGET, "base_url": url}))
    runs = [str(tmp_path / "one"), str(tmp_path / "two")]
    assert main(["report", "merge", *runs, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "http://a.example" in error and "http://b.example" in error
    assert not (tmp_path / "out").exists()
    assert main(["report", "merge", *runs, "--out", str(tmp_path / "out"), "--allow-different-targets"]) == 0
    merged = json.loads((tmp_path / "out" / dialect / "compliance.json").read_text("utf-8"))
    assert [t["base_url"] for t in merged["targets"]] == ["http://a.example", "http://b.example"]


def test_the_page_puts_failed_rules_first_and_filters_by_result_level_and_kind(tmp_path):
    dialect = "jdcloud-vm"
    entries = rules_to_test(dialect, level="must")
    document = build(dialect, [outcome(dialect, [entries[0].id], "passed", nodeid="a"),
                               outcome(dialect, [entries[-1].id], "failed", nodeid="b", reason="expected 400, got 200")],
                     TARGET)
    page = (write_one(tmp_path, document).parent / "compliance.html").read_text("utf-8")
    rows = re.findall(r"<tr id='rule-([^']+)' class='([^']+)'", page)
    assert rows[0] == (entries[-1].id, "failed")
    results = [result for _, result in rows]
    rank = {"failed": 0, "not_verified": 1}
    assert results == sorted(results, key=lambda r: rank.get(r, 2)) and "passed" in results
    for key in ("result", "level", "kind"):
        assert f'data-key="{key}"' in page and f"data-{key}=" in page
    assert "Noto Sans CJK SC" in page and "Microsoft YaHei" in page
    assert "<p class='reason'><b>why:</b> expected 400, got 200</p>" in page
    failures = page.split('<ol id="failures">', 1)[1].split("</ol>", 1)[0]  # the first screen: what failed
    assert failures.count("<li>") == 1 and entries[-1].id in failures and "expected 400, got 200" in failures
    assert page.index('id="failures"') < page.index('<table class="rules">')


def test_a_quote_from_a_markdown_table_reads_as_its_cells():
    from imagecert.report import _plain_quote

    assert _plain_quote("|**az**|String|是|可用区|") == "az · String · 是 · 可用区"
    assert _plain_quote("A plain sentence.") == "A plain sentence."


def test_the_page_names_the_embedded_provider_and_says_why_a_rule_is_not_testable(tmp_path):
    dialect = "jdcloud-vm"
    document = build(dialect, [], {"base_url": "embedded reference provider"})
    page = (write_one(tmp_path, document).parent / "compliance.html").read_text("utf-8")
    assert "the embedded reference provider (imagecert's own implementation" in page
    untestable = [r for r in document["constraints"] + document["return_codes"] if r["result"] == "not_testable"]
    assert untestable and "No test can show this" in page  # jdcloud-vm's catalog has some (JD-R019)


def test_reports_another_run_left_in_the_folder_are_marked_stale(tmp_path):
    from imagecert.report import stale_reports, write_reports

    earlier = {"a": outcome("huawei-ims", [rules_to_test("huawei-ims")[0].id], "passed")}
    write_reports(tmp_path, earlier, None, started_at="2026-01-01T00:00:00Z")
    assert stale_reports(tmp_path) == []
    now = {"b": outcome("jdcloud-vm", [rules_to_test("jdcloud-vm")[0].id], "failed", reason="boom")}
    write_reports(tmp_path, now, None, started_at="2026-01-02T00:00:00Z")
    index = json.loads((tmp_path / "index.json").read_text("utf-8"))
    assert index["this_run"] == {"dialects": ["jdcloud-vm"], "started_at": "2026-01-02T00:00:00Z"}
    assert {r["dialect"]: r["stale"] for r in index["reports"]} == {"huawei-ims": True, "jdcloud-vm": False}
    (stale,) = stale_reports(tmp_path)
    assert (stale["dialect"], stale["started_at"]) == ("huawei-ims", "2026-01-01T00:00:00Z")
    page = (tmp_path / "index.html").read_text("utf-8")
    assert page.count("<b>stale</b>") == 1 and "huawei-ims/compliance.html" in page


def test_the_report_says_whose_credentials_signed_and_never_a_secret(tmp_path):
    from imagecert.secrets import signer

    dialect = "jdcloud-vm"
    keys = [(f"AKEY{i:02d}00000000000000END{i}", f"SECRET{i:02d}xxxxxxxxxxxxxxxxxx") for i in range(5)]
    rows = [{**outcome(dialect, [e.id], "passed", nodeid=f"n{i}"),
             "signed_by": {**signer({"scheme": "jdcloud-hmac", "access_key": ak, "secret_key": sk}),
                           "tenant": f"t-{i}", "whose": "tenant"}}
            for i, ((ak, sk), e) in enumerate(zip(keys, rules_to_test(dialect)))]
    document = build(dialect, rows, TARGET)
    assert document["signed_by"] == {"schemes": ["jdcloud-hmac"], "whose": ["tenant"], "tenants": 5,
                                     "access_keys": ["AKEY…END0", "AKEY…END1", "AKEY…END2"], "access_key_count": 5}
    folder = write_one(tmp_path, document).parent
    page = (folder / "compliance.html").read_text("utf-8")
    assert "signed with <b>jdcloud-hmac</b> by each test&#x27;s own tenant (5," in page and "and 2 more" in page
    written = "".join(p.read_text("utf-8") for p in folder.iterdir())
    assert not [k for pair in keys for k in pair if k in written], "a whole key or a secret reached the report"
    assert signer({"scheme": "token", "token": "tok-secret-value-0123"}) == {"scheme": "token", "access_key": None}
