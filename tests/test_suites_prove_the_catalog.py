"""The suites prove the catalog: every observable rule has a test, and a provider that
breaks any rule on purpose (`--defect`) is caught by a test linked to that rule.

Each defect runs the suite tests linked to its rule, in-process, against the embedded
reference provider started with that one defect; the run must fail.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from imagecert.certify import QUIET_PYTEST
from imagecert.contracts import DIALECTS, load_catalog
from imagecert.plugin import constraint_ids, dialect_of
from imagecert.provider.defects import all_defects

SUITES = Path(__file__).resolve().parents[1] / "suites"
# Hundreds of short nested runs: skip pytest's forced garbage collection after each one.
NESTED = [*QUIET_PYTEST, "-p", "no:unraisableexception"]


class Collected:
    def __init__(self) -> None:
        self.linked: dict[str, list[str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            for rule_id in constraint_ids(item):
                self.linked.setdefault(rule_id, []).append(item.nodeid)


class Outcomes:
    def __init__(self, linked: dict[str, list[str]]) -> None:
        self.linked = linked
        self.failed: list[str] = []
        self.passed: list[str] = []
        self.failed_rules: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.append(report.nodeid)
            named = dict(report.user_properties).get("imagecert_failed_rules")
            # as the report counts it: the rules the failure names, else every linked rule
            self.failed_rules |= set(named or [r for r, nodes in self.linked.items() if report.nodeid in nodes])
        elif report.passed and report.when == "call":
            self.passed.append(report.nodeid)


# defect id -> how many rules other than the broken one its run failed
COLLATERAL: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def collateral_summary(request):
    """After the proof, say how precisely failures name their rule (the median should be 0)."""
    yield
    if COLLATERAL:
        counts = sorted(COLLATERAL.values())
        worst = sorted(COLLATERAL.items(), key=lambda item: -item[1])[:5]
        line = (f"defect proof: {len(counts)} defects; other rules failing with the broken one: "
                f"median {statistics.median(counts)}, max {counts[-1]} "
                f"({', '.join(f'{d} {n}' for d, n in worst if n)})")
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():  # a teardown's output is captured otherwise
                reporter.write_line(line)


@pytest.fixture(scope="module")
def linked() -> dict[str, list[str]]:
    """catalog id -> the suite tests that carry it (collected, not run)."""
    collected = Collected()
    status = pytest.main([str(SUITES), "--collect-only", *NESTED], plugins=[collected])
    assert status == pytest.ExitCode.OK, "the suites do not collect"
    return collected.linked


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_observable_rule_has_a_suite_test(linked, dialect):
    untested = [e.id for e in load_catalog(dialect).entries if e.testable and e.id not in linked]
    assert not untested, f"observable {dialect} rules with no linked suite test: {', '.join(untested)}"


def _node_path(nodeid: str) -> Path:
    return SUITES.parent / nodeid.split("::", 1)[0]


@pytest.mark.parametrize("defect", all_defects(), ids=lambda d: d.id)
def test_the_suite_catches_the_defect(linked, defect):
    tests = [n for n in linked.get(defect.rule, []) if dialect_of(_node_path(n))]
    assert tests, f"no suite test is linked to {defect.rule}, so nothing can catch {defect.id}"
    # the fuzz suites carry every rule of the request schema and run for seconds: they stand in
    # only where no example test is linked (tests/test_fuzz.py proves what fuzzing alone finds)
    tests = [n for n in tests if not n.split("::")[0].endswith("/test_fuzz.py")] or tests
    outcomes = Outcomes(linked)
    pytest.main([str(SUITES.parent / n) for n in tests] + ["--imagecert-defect", defect.id, *NESTED],
                plugins=[outcomes])
    assert outcomes.failed, (
        f"{defect.id} ({defect.description}) went unnoticed: every test linked to {defect.rule} passed: "
        + ", ".join(outcomes.passed))
    assert defect.rule in outcomes.failed_rules, (
        f"{defect.id} broke {defect.rule}, but the failures named other rules: {sorted(outcomes.failed_rules)}")
    COLLATERAL[defect.id] = len(outcomes.failed_rules - {defect.rule})
