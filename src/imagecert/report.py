"""Compliance reports: one verdict per dialect, every catalog entry accounted for.

`build()` turns the suite's test outcomes into the `compliance.json` document of the
public interfaces; `write_reports()` writes it with its HTML page and JUnit file;
`merge()` joins the reports of several runs (machines, CI shards) into one.
"""

from __future__ import annotations

import html
import json
import time
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from imagecert import __version__
from imagecert.contracts import Entry, contracts_dir, load_catalog

RESULTS = ("passed", "failed", "not_verified", "not_testable")
# When runs are merged, a test's worst outcome wins: a failure anywhere, then a pass.
ORDER = {"failed": 0, "passed": 1, "not_verified": 2}


@cache
def profiles() -> dict[str, Any]:
    return yaml.safe_load((contracts_dir() / "profiles.yaml").read_text("utf-8"))


def required(entry: Entry, profile: str) -> tuple[bool, dict[str, Any] | None]:
    """(required in the profile, the flag that took it out if any)."""
    data = profiles()
    flag = next((f for f in data.get("flagged") or [] if f["id"] == entry.id and f["profile"] == profile), None)
    if entry.kind == "return-code":
        return flag is None, flag
    return entry.level in data["profiles"][profile]["required_levels"] and flag is None, flag


def fails(test: dict[str, Any], rule_id: str) -> bool:
    """A failed test is evidence against the rules its failure names (`failed_rules`),
    or, where it names none, against every rule it is linked to."""
    broken = test.get("failed_rules")
    return test["outcome"] == "failed" and (not broken or rule_id in broken)


def _result(entry: Entry, tests: list[dict[str, Any]]) -> tuple[str, str | None]:
    if not entry.testable:
        return "not_testable", entry.not_testable
    if not tests:
        return "not_verified", "no suite test of this run is linked to this rule"
    failing = [t for t in tests if fails(t, entry.id)]
    if failing:
        return "failed", failing[0]["reason"]
    if any(t["outcome"] == "passed" for t in tests):
        return "passed", None
    elsewhere = sorted({r for t in tests if t["outcome"] == "failed" for r in t["failed_rules"]})
    reasons = {t["reason"] or "skipped" for t in tests if t["outcome"] == "not_verified"}
    if elsewhere:
        reasons.add(f"its only tests failed on another rule: {', '.join(elsewhere)}")
    return "not_verified", "; ".join(sorted(reasons))


def verdict(failed_required: list[str], required_rows: list[dict[str, Any]], interrupted: bool = False) -> str:
    """`certified` needs evidence: every required rule passed. A run in which nothing
    required failed but some required rule went unverified is `incomplete`; a run cut
    short (Ctrl-C, SIGTERM) is `interrupted` unless it already failed a rule."""
    if failed_required:
        return "not certified"
    if interrupted:
        return "interrupted"
    if any(row["result"] != "passed" for row in required_rows):
        return "incomplete"
    return "certified"


def build(dialect: str, outcomes: Iterable[dict[str, Any]], target: dict[str, Any], profile: str = "core",
          ims_document: str | None = None, started_at: str | None = None, duration_s: float = 0.0,
          fuzz: dict[str, Any] | None = None, interrupted: bool = False) -> dict[str, Any]:
    catalog = load_catalog(dialect)
    outcomes = [o for o in outcomes if o["dialect"] == dialect]
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        for rule_id in outcome["constraints"]:
            by_rule.setdefault(rule_id, []).append(outcome)

    constraints, return_codes = [], []
    for entry in catalog.entries:
        tests = by_rule.get(entry.id, [])
        result, reason = _result(entry, tests)
        is_required, flag = required(entry, profile)
        row = {
            "id": entry.id, "kind": entry.kind, "level": entry.level, "source": entry.source,
            "quote": entry.quote, "summary": entry.summary, "result": result, "reason": reason,
            "required": is_required, "tests": sorted(t["nodeid"] for t in tests),
            "failures": [{"test": t["nodeid"], "exchanges": t.get("exchanges", [])}
                         for t in tests if fails(t, entry.id)],
        }
        if flag:
            row["flagged"] = flag
        if entry.discrepancy:
            row["discrepancy"] = entry.discrepancy
            row["held_to"] = ims_document or entry.raw.get("choice")
        if entry.kind == "return-code":
            row.update(http_status=entry.http_status, code=entry.code, message=entry.message)
            return_codes.append(row)
        else:
            constraints.append(row)

    every = constraints + return_codes
    summary = {r: sum(1 for row in every if row["result"] == r) for r in RESULTS}
    failed_required = [row["id"] for row in every if row["result"] == "failed" and row["required"]]
    required_rows = [row for row in every if row["required"] and row["result"] != "not_testable"]
    passed_required = sum(1 for row in required_rows if row["result"] == "passed")
    return {
        "imagecert_version": __version__,
        "dialect": dialect,
        "target": target,
        "started_at": started_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(duration_s, 3),
        "profile": profile,
        # where the zh and en IMS documents disagree: one document, or None for each rule's `choice`
        "held_to": {"ims_document": ims_document} if dialect == "huawei-ims" else {},
        "verdict": verdict(failed_required, required_rows, interrupted),
        "failed_required": failed_required,
        "score": {
            "required": len(required_rows),
            "passed": passed_required,
            "not_verified": sum(1 for row in required_rows if row["result"] == "not_verified"),
            "share_passed": round(passed_required / len(required_rows), 4) if required_rows else None,
        },
        "constraints": constraints,
        "return_codes": return_codes,
        "return_code_coverage": [
            {"id": row["id"], "http_status": row["http_status"], "code": row["code"],
             "observed": row["result"] in ("passed", "failed")} for row in return_codes
        ],
        "signed_by": signed_by(outcomes),
        "tests": sorted(({**{k: o[k] for k in ("nodeid", "outcome", "reason", "duration_s", "constraints")},
                          "test_id": o.get("test_id"), "failed_rules": o.get("failed_rules"),
                          "signed_by": o.get("signed_by")} for o in outcomes), key=lambda o: o["nodeid"]),
        "fuzz": fuzz or {"examples": 0, "failures": []},
        "summary": summary,
    }


KEYS_SHOWN = 3  # access key hints a report lists; the count says how many more signed


def signed_by(outcomes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Whose credentials signed the run's requests: each scheme, whose they were (each test's
    own control-protocol tenant, or the target file's [auth]) and the access keys' hints
    (secrets.key_hint, never a secret). None when no test said (a run before any world)."""
    seen = [o["signed_by"] for o in outcomes if o.get("signed_by")]
    if not seen:
        return None
    keys = sorted({s["access_key"] for s in seen if s.get("access_key")})
    return {"schemes": sorted({s["scheme"] for s in seen}),
            "whose": sorted({s["whose"] for s in seen}),
            "tenants": len({s["tenant"] for s in seen if s.get("tenant")}),
            "access_keys": keys[:KEYS_SHOWN], "access_key_count": len(keys)}


def _signed_by_html(signed: dict[str, Any] | None) -> str:
    e = html.escape
    if not signed:
        return "no test signed a request"
    whose = {"tenant": f"each test's own tenant ({signed['tenants']}, made through the control protocol; "
                       "the target file's [auth] was checked against the dialect, not used to sign)",
             "target file": "the target file's [auth]"}
    keys = ", ".join(f"<code>{e(k)}</code>" for k in signed["access_keys"])
    more = signed["access_key_count"] - len(signed["access_keys"])
    return (f"<b>{e(' and '.join(signed['schemes']))}</b> by {e(' and '.join(whose[w] for w in signed['whose']))}"
            + (f" · access key{'s' if signed['access_key_count'] > 1 else ''} {keys}{f' and {more} more' if more else ''}"
               if keys else ""))


def write_reports(report_dir: Path, outcomes: dict[str, dict[str, Any]], targets: dict[str, Any] | None,
                  embedded: bool = False, **options: Any) -> dict[str, Path]:
    """Write every dialect's report that this run has outcomes for (`embedded`: the targets
    are the reference provider the run started itself, which the report names)."""
    written = {}
    values = list(outcomes.values())
    for dialect in sorted({o["dialect"] for o in values}):
        target = targets[dialect].public() if targets and dialect in targets else {"base_url": "embedded reference provider"}
        if embedded or "://" not in str(target["base_url"]):
            target["embedded"] = True
        fuzz = _fuzz_of(dialect, values)
        document = build(dialect, values, target, fuzz=fuzz, **options)
        written[dialect] = write_one(report_dir, document)
    if written:
        write_index(report_dir, sorted(written), options.get("started_at"))
    return written


def write_index(report_dir: Path, this_run: list[str], started_at: str | None = None) -> dict[str, Any]:
    """`index.json` and `index.html` of a report folder: every dialect report in it, and
    which of them this run wrote. A report of another dialect left by an earlier run into the
    same folder stays (a folder may collect one dialect a run), marked `stale` with its own
    start time, so no one takes it for this run's."""
    from imagecert.contracts import DIALECTS

    order = {d: i for i, d in enumerate(DIALECTS)}
    reports = []
    for path in sorted(Path(report_dir).glob("*/compliance.json"), key=lambda p: order.get(p.parent.name, 99)):
        try:
            document = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        reports.append({"dialect": document.get("dialect", path.parent.name), "verdict": document.get("verdict"),
                        "started_at": document.get("started_at"), "report": f"{path.parent.name}/compliance.html",
                        "stale": path.parent.name not in this_run})
    index = {"this_run": {"dialects": list(this_run), "started_at": started_at}, "reports": reports}
    (Path(report_dir) / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2), "utf-8")
    e = html.escape
    rows = "".join(
        f"<tr{' class=stale' if r['stale'] else ''}><td><a href='{e(r['report'])}'>{e(r['dialect'])}</a></td>"
        f"<td>{e(str(r['verdict']))}</td><td>{e(str(r['started_at']))}</td>"
        f"<td>{'<b>stale</b>: from an earlier run, not this one' if r['stale'] else 'this run'}</td></tr>"
        for r in reports)
    (Path(report_dir) / "index.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imagecert reports</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 2em; }} td, th {{ border: 1px solid #d0d7de; padding: .4em; }}
table {{ border-collapse: collapse; }} tr.stale {{ color: #57606a; background: #fff8c5; }}</style></head><body>
<h1>imagecert reports</h1>
<p>The latest run ({e(', '.join(this_run))}) started {e(str(started_at))}.
Rows marked stale were written by an earlier run into this folder.</p>
<table><tr><th>dialect</th><th>verdict</th><th>started</th><th>from</th></tr>{rows}</table>
</body></html>
""", "utf-8")
    return index


def stale_reports(report_dir: Path) -> list[dict[str, Any]]:
    """The reports in a folder that its latest run did not write (see write_index)."""
    try:
        index = json.loads((Path(report_dir) / "index.json").read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in index["reports"] if r["stale"]]


def _fuzz_of(dialect: str, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    examples, failures = 0, []
    for outcome in outcomes:
        if outcome["dialect"] == dialect and outcome.get("fuzz"):
            examples += outcome["fuzz"].get("examples", 0)
            failures += outcome["fuzz"].get("failures", [])
    return {"examples": examples, "failures": failures}


def write_one(report_dir: Path, document: dict[str, Any]) -> Path:
    folder = Path(report_dir) / document["dialect"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compliance.json").write_text(json.dumps(document, ensure_ascii=False, indent=2), "utf-8")
    (folder / "compliance.html").write_text(render_html(document), "utf-8")
    junit(document).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    return folder / "compliance.json"


def junit(document: dict[str, Any]) -> ET.ElementTree:
    """One test case per catalog entry, so a CI dashboard tracks rules, not functions."""
    rows = document["constraints"] + document["return_codes"]
    suite = ET.Element("testsuite", name=f"imagecert.{document['dialect']}", tests=str(len(rows)),
                       failures=str(document["summary"]["failed"]),
                       skipped=str(document["summary"]["not_verified"] + document["summary"]["not_testable"]),
                       time=str(document["duration_s"]))
    for row in rows:
        case = ET.SubElement(suite, "testcase", classname=f"{document['dialect']}.{row['kind']}", name=row["id"])
        if row["result"] == "failed":
            failure = ET.SubElement(case, "failure", message=(row["reason"] or "")[:200])
            failure.text = (row["reason"] or "") + "\n" + "\n".join(
                _exchange_text(x) for f in row["failures"] for x in f["exchanges"])
        elif row["result"] in ("not_verified", "not_testable"):
            ET.SubElement(case, "skipped", message=f"{row['result']}: {row['reason']}")
    return ET.ElementTree(suite)


def _exchange_text(x: dict[str, Any]) -> str:
    head = "".join(f"  {k}: {v}\n" for k, v in x["request_headers"].items())
    back = "".join(f"  {k}: {v}\n" for k, v in x["response_headers"].items())
    return (f"> {x['method']} {x['url']}\n{head}  {x['request_body']}\n"
            f"< {x['status']}\n{back}  {x['response_body']}\n")


def one_line(message: str) -> str:
    """A failure's reason in one line: a RuleViolation's findings (its `- expected …, got …`
    lines, before the exchanges), else the message's first line."""
    lines = message.strip().splitlines()
    findings = []
    for line in lines[1:]:
        if not line.strip() or line.startswith(">"):
            break
        if line.strip().startswith("- "):
            findings.append(line.strip()[2:])
    if findings:
        rule = lines[0].split("]", 1)[0].split("[", 1)[-1] if "[" in lines[0] else ""
        return (f"[{rule}] " if rule else "") + "; ".join(findings)
    return lines[0] if lines else ""


COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "not_verified": "#9a6700", "not_testable": "#57606a"}


def _plain_quote(quote: str) -> str:
    """A quote taken from a markdown table row (`|**az**|String|…|`) as the cells' text."""
    text = quote.strip()
    if not (text.startswith("|") and text.endswith("|")):
        return quote
    rows = [[c.strip().replace("**", "").replace("`", "") for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.strip()]
    return " / ".join(" · ".join(c for c in cells if c) for cells in rows if any(c.strip("-: ") for c in cells))


def render_html(document: dict[str, Any]) -> str:
    """A self-contained page: verdict first, then every rule with its quote and result."""
    e = html.escape
    verdict = document["verdict"]
    # green only for certified; amber where evidence is missing (incomplete, interrupted)
    colour = {"certified": COLOURS["passed"], "incomplete": COLOURS["not_verified"],
              "interrupted": COLOURS["not_verified"]}.get(verdict, COLOURS["failed"])
    s = document["summary"]
    score = document["score"]
    rows = []
    first = {"failed": 0, "not_verified": 1}  # what needs a reader's eye, then the rest in catalog order
    for row in sorted(document["constraints"] + document["return_codes"], key=lambda r: first.get(r["result"], 2)):
        failures = "".join(
            f"<details><summary>exchanges of {e(f['test'])}</summary><pre>{e(''.join(_exchange_text(x) for x in f['exchanges']))}</pre></details>"
            for f in row["failures"])
        if row["result"] == "failed" and row["reason"]:
            reason = (f"<p class='reason'><b>why:</b> {e(one_line(row['reason']))}</p>"
                      f"<details><summary>the whole failure</summary><pre>{e(row['reason'])}</pre></details>")
        elif row["result"] == "not_testable":
            reason = (f"<p class='why'>No test can show this{' (required, but left out of the score)' if row['required'] else ''}:"
                      f"</p>{e(row['reason'] or 'the catalog says why not')}")
        elif row["reason"]:
            reason = f"<p class='why'>why: {e(row['reason'])}</p>"
        else:
            reason = ""
        tests = f"<ul class='tests'>{''.join(f'<li><code>{e(t)}</code></li>' for t in row['tests'])}</ul>" if row["tests"] else ""
        if tests and row["result"] != "failed":  # a failure shows its tests; the rest fold them away
            tests = f"<details><summary>{len(row['tests'])} test{'s' if len(row['tests']) > 1 else ''}</summary>{tests}</details>"
        quote = _plain_quote(row["quote"])
        rows.append(
            f"<tr id='rule-{e(row['id'])}' class='{row['result']}' data-result='{e(row['result'])}' data-level='{e(row['level'])}' data-kind='{e(row['kind'])}'>"
            f"<td><code>{e(row['id'])}</code><br><small>{e(row['kind'])}, {e(row['level'])}"
            f"{', required' if row['required'] else ''}</small></td>"
            f"<td lang='{'zh' if any(ord(c) > 0x2e80 for c in quote) else 'en'}'>{e(quote)}"
            f"<br><small>{e(row['source'])} — {e(row['summary'])}</small></td>"
            f"<td style='color:{COLOURS[row['result']]};font-weight:bold'>{e(row['result'].replace('_', ' '))}</td>"
            f"<td>{tests}{reason}{failures}</td></tr>")
    every = document["constraints"] + document["return_codes"]
    options = {key: "".join(f"<option>{e(v)}</option>" for v in sorted({r[key] for r in every})) for key in ("level", "kind")}
    untestable = {r["id"] for r in document["return_codes"] if r["result"] == "not_testable"}
    coverage = "".join(
        f"<tr><td>{e(c['id'])}</td><td>{c['http_status']}</td><td>{e(str(c['code'] or ''))}</td>"
        f"<td>{'observed' if c['observed'] else 'not testable' if c['id'] in untestable else 'not observed'}</td></tr>"
        for c in document["return_code_coverage"])
    targets = []
    for t in document.get("targets", [document["target"]]):
        url = str(t.get("base_url"))
        if t.get("embedded") or "://" not in url:
            targets.append("the embedded reference provider (imagecert's own implementation of the documents, "
                           "not a cloud" + (f", on <code>{e(url)}</code>" if "://" in url else "") + ")")
        else:
            targets.append(f"<code>{e(url)}</code>")
    failed = document["failed_required"]
    failing = [r for r in every if r["result"] == "failed"]
    what_failed = "".join(
        f"<li><a href='#rule-{e(r['id'])}'><code>{e(r['id'])}</code></a> <small>{e(r['level'])}"
        f"{', required' if r['required'] else ''}</small> — {e(r['summary'])}<br>"
        f"<span class='got'>{e(one_line(r['reason'] or ''))}</span></li>" for r in failing)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imagecert — {e(document['dialect'])}: {e(verdict)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; margin: 2em; color: #1f2328; }}
ul.tests {{ margin: 0; padding-left: 1.2em; }} p.why {{ margin: .3em 0 0; font-weight: bold; }}
p.reason {{ margin: .3em 0 0; }}
#filters label {{ margin-right: 1em; }}
#failures li {{ margin-bottom: .3em; }} #failures .got {{ color: #cf222e; font-family: ui-monospace, monospace; font-size: .9em; }}
.verdict {{ font-size: 2em; font-weight: bold; color: {colour}; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1em; }}
td, th {{ border: 1px solid #d0d7de; padding: .4em; vertical-align: top; text-align: left; overflow-wrap: anywhere; }}
table.rules {{ table-layout: fixed; }}
table.rules col.rule {{ width: 9em; }} table.rules col.result {{ width: 7em; }}
tr.failed {{ background: #ffebe9; }}
pre {{ white-space: pre-wrap; font-size: .85em; background: #f6f8fa; padding: .5em; }}
</style></head><body>
<h1>imagecert compliance report — <code>{e(document['dialect'])}</code></h1>
<p class="verdict" id="verdict">{e(verdict.upper())}</p>
<p id="failed-rules">{('Failed required rules: ' + ', '.join(f'<code>{e(i)}</code>' for i in failed)) if failed else 'No required rule failed.'}</p>
<p id="toc">Contents: {'<a href="#what-failed">what failed</a> · ' if failing else ''}<a href="#rules">rules</a>
 · <a href="#return-codes">return codes observed</a></p>
{f'<h2 id="what-failed">What failed ({len(failing)})</h2><ol id="failures">{what_failed}</ol>' if failing else ''}
<p>Target: {', '.join(targets)} · profile <b>{e(document['profile'])}</b>
 · signed with {_signed_by_html(document.get('signed_by'))}
 · started {e(document['started_at'])} · {document['duration_s']} s · imagecert {e(document['imagecert_version'])}</p>
<p>Score: {score['passed']} of {score['required']} required rules passed
 ({score['not_verified']} not verified, counted apart) ·
 passed {s['passed']}, failed {s['failed']}, not verified {s['not_verified']}, not testable {s['not_testable']}
 · fuzz examples {document['fuzz']['examples']}, fuzz failures {len(document['fuzz']['failures'])}</p>
<h2 id="rules">Rules</h2>
<p id="filters"><label>result <select data-key="result"><option value="">all</option><option value="failed">failed</option>
<option value="not_verified">not verified</option><option value="passed">passed</option><option value="not_testable">not testable</option></select></label>
<label>level <select data-key="level"><option value="">all</option>{options['level']}</select></label>
<label>kind <select data-key="kind"><option value="">all</option>{options['kind']}</select></label></p>
<table class="rules"><col class="rule"><col><col class="result"><col>
<tr><th>rule</th><th>what the document says</th><th>result</th><th>tests and evidence</th></tr>
{''.join(rows)}</table>
<script>
// show only the rows whose result, level and kind match every chosen filter
const selects = document.querySelectorAll("#filters select");
selects.forEach(s => s.addEventListener("change", () => {{
  document.querySelectorAll("table.rules tr[data-result]").forEach(tr => {{
    tr.hidden = [...selects].some(f => f.value && tr.dataset[f.dataset.key] !== f.value);
  }});
}}));
</script>
<h2 id="return-codes">Return codes observed</h2>
<table><tr><th>rule</th><th>HTTP</th><th>code</th><th>observed</th></tr>{coverage}</table>
</body></html>
"""


class DifferentTargets(ValueError):
    """Runs against different endpoints are not evidence about one implementation."""


def merge(sources: Iterable[Path], out: Path, allow_different_targets: bool = False) -> dict[str, Path]:
    """Join reports of several runs: per rule, a failure anywhere wins, then a pass.
    Every run must have certified the same base_url, unless told otherwise (then the
    merged report lists every target under `targets`)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for folder in sources:
        for path in sorted(Path(folder).glob("*/compliance.json")):
            document = json.loads(path.read_text("utf-8"))
            runs.setdefault(document["dialect"], []).append(document)
    for dialect, documents in runs.items():
        urls = sorted({str(d["target"].get("base_url")) for d in documents})
        if len(urls) > 1 and not allow_different_targets:
            raise DifferentTargets(f"{dialect}: the runs certified different targets ({', '.join(urls)}); "
                                   "merge them with --allow-different-targets to record every one")
    written = {}
    for dialect, documents in runs.items():
        outcomes = {}
        for document in documents:
            for test in document["tests"]:
                exchanges = [x for row in document["constraints"] + document["return_codes"]
                             for f in row["failures"] if f["test"] == test["nodeid"] for x in f["exchanges"]]
                key = test.get("test_id") or test["nodeid"]  # a test renamed between the runs is one test
                previous = outcomes.get(key)
                if previous is None or ORDER[test["outcome"]] < ORDER[previous["outcome"]]:
                    outcomes[key] = {**test, "dialect": dialect, "exchanges": exchanges}
        first = documents[0]
        fuzz = {"examples": sum(d["fuzz"]["examples"] for d in documents),
                "failures": [f for d in documents for f in d["fuzz"]["failures"]]}
        document = build(dialect, outcomes.values(), first["target"], profile=first["profile"],
                         started_at=min(d["started_at"] for d in documents),
                         duration_s=sum(d["duration_s"] for d in documents), fuzz=fuzz,
                         ims_document=first["held_to"].get("ims_document"))
        targets: list[dict[str, Any]] = []
        for d in documents:
            if d["target"] not in targets:
                targets.append(d["target"])
        if len(targets) > 1:
            document["targets"] = targets
        written[dialect] = write_one(out, document)
    if written:
        write_index(out, sorted(written), min(d["started_at"] for ds in runs.values() for d in ds))
    return written
