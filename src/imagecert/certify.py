"""`imagecert certify`: run the suites against targets and say the verdict.

The suites are plain pytest (`suites/`); this module checks the targets before any
test runs (a bad file or an unreachable endpoint is exit 2 with one line saying why),
runs pytest in-process with the imagecert plugin, shows progress per dialect, and
ends with a table read back from the compliance reports it wrote.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

import pytest

from imagecert.contracts import DIALECTS, shipped
from imagecert.target import Target, TargetError, load_target

EXIT_CERTIFIED, EXIT_NOT_CERTIFIED, EXIT_CANNOT_RUN, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's 128 + SIGINT, for SIGTERM too: the run did not finish
EXIT_STATUSES = f"""exit status:
  {EXIT_CERTIFIED}    certified: every required rule passed
  {EXIT_NOT_CERTIFIED}    not certified: a required rule failed
  {EXIT_CANNOT_RUN}    could not run (bad flag, bad target file, unreachable endpoint, suites broken)
  {EXIT_INCOMPLETE}    incomplete: no required rule failed, but some were not verified
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C or SIGTERM): the reports say interrupted, never certified"""


class CannotRun(Exception):
    """The command could not run (bad flag, bad target file, unreachable endpoint)."""


def suites_dir() -> Path:
    configured = os.environ.get("IMAGECERT_SUITES")
    return Path(configured) if configured else shipped("suites")


def reachable(url: str, timeout: float = 5.0) -> str | None:
    """None if something listens at the URL's host and port, else why not."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return None
    except OSError as error:
        return f"{parsed.hostname}:{port}: {error.strerror or error}"


def check_targets(paths: list[str], dialects: list[str]) -> list[Target]:
    targets = []
    for path in paths:
        try:
            targets.append(load_target(path))
        except TargetError as error:
            raise CannotRun(str(error)) from None
    for target in targets:
        for url in filter(None, (target.base_url, target.control_url)):
            problem = reachable(url)
            if problem:
                raise CannotRun(f"{target.name}: {url} is unreachable ({problem})")
    unknown = [d for d in dialects if d not in DIALECTS]
    if unknown:
        raise CannotRun(f"unknown dialect {', '.join(unknown)}; expected one of {', '.join(DIALECTS)}")
    if targets and dialects:
        missing = [d for d in dialects if d not in {t.dialect for t in targets}]
        if missing:
            raise CannotRun(f"--dialect {', '.join(missing)} has no --target file")
    return targets


def check_constraints(ids: list[str], dialects: list[str]) -> None:
    """Every --constraint id must be a rule of a dialect being certified, else exit 2."""
    from imagecert.contracts import load_catalog

    known = {i for d in dialects for i in load_catalog(d).by_id}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise CannotRun(f"--constraint {', '.join(unknown)}: no such rule in {', '.join(dialects)} "
                        "(the ids are in contracts/<dialect>/constraints.yaml)")


def in_order(dialect: str) -> int:
    """The README's dialect order, for every list a person reads."""
    return DIALECTS.index(dialect) if dialect in DIALECTS else len(DIALECTS)


class Progress:
    """Prints, per dialect, how many suite tests are done of how many, and each failure."""

    def __init__(self, out: TextIO, report_dir: Path | None = None):
        self.out = out
        self.report_dir = report_dir
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.last = 0.0

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._announce([item.path for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Under `-n` the controller collects nothing: each worker collects every test (and
        runs its share), so the first worker's collection is the run's."""
        if not self.total:
            self._announce([Path(nodeid.split("::")[0]) for nodeid in ids])

    def _announce(self, paths: list[Path]) -> None:
        from imagecert.plugin import dialect_of

        for path in paths:
            dialect = dialect_of(path)
            if dialect:
                self.total[dialect] = self.total.get(dialect, 0) + 1
        if not self.total:
            return
        self.total = dict(sorted(self.total.items(), key=lambda kv: in_order(kv[0])))
        self.out.write("certifying: " + ", ".join(f"{d} ({n} tests)" for d, n in self.total.items()) + "\n")
        self.out.flush()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.out.write(f"cannot collect {report.nodeid}:\n{report.longreprtext}\n")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        dialect = props.get("imagecert_dialect")
        if dialect is None:
            return
        if report.failed:
            self.failed[dialect] = self.failed.get(dialect, 0) + 1
            # the rules the failure names (RuleViolation.rules), else every rule of the test
            rules = ", ".join(props.get("imagecert_failed_rules") or props.get("imagecert_constraints", []))
            self.out.write(f"  FAILED [{rules}] {report.nodeid}\n")
            crash = getattr(report.longrepr, "reprcrash", None)  # the assertion's words: expected vs got
            from imagecert.report import one_line

            reason = one_line(crash.message if crash is not None else report.longreprtext or "")
            if reason:
                self.out.write(f"         {reason[:300]}\n")
            if self.report_dir is not None:
                self.out.write(f"         evidence: {self.report_dir / dialect / 'compliance.html'}\n")
        if report.when == "teardown":
            self.done[dialect] = self.done.get(dialect, 0) + 1
            now = time.monotonic()
            if now - self.last > 2 or self.done[dialect] == self.total.get(dialect):
                self.last = now
                line = "  ".join(f"{d} {self.done.get(d, 0)}/{n}" for d, n in self.total.items())
                self.out.write(f"  progress: {line}\n")
            self.out.flush()


# pytest run in-process and silent (imagecert prints its own progress): the terminal
# plugin off, and with it the project's addopts that need it (-ra), the import mode kept.
# The plugins the suites need are loaded by name, with entry-point autoloading off: else
# pytest imports those the suites do not use (schemathesis' and anyio's: the suites drive
# schemathesis from imagecert.fuzz) and marks every module of each plugin's distribution
# (all of hypothesis and schemathesis) for assertion rewriting, half a second for each
# process (the xdist controller and every worker) before its first test. pytest's report
# of exceptions raised in finalizers is off too, which nothing would show: it makes two
# full garbage collections as each process ends.
SUITE_PLUGINS = ["_hypothesis_pytestplugin", "allure_pytest.plugin", "xdist.plugin", "imagecert.plugin",
                 "imagecert.quickexit"]
QUIET_PYTEST = ["--disable-plugin-autoload", *(arg for name in SUITE_PLUGINS for arg in ("-p", name)),
                "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:unraisableexception",
                "-o", "addopts=--import-mode=importlib"]


def cache_bytecode() -> None:
    """Keep compiled bytecode (and pytest's rewritten test modules) under the user's cache
    directory, for this run and the xdist workers it starts: with PYTHONDONTWRITEBYTECODE
    set and no cache, every process re-parses hypothesis and schemathesis (seconds each).
    A PYTHONPYCACHEPREFIX the user chose is left alone."""
    if os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    prefix = base / "imagecert" / "pycache"
    try:
        prefix.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # no writable cache: run as before
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the tree stays clean: bytecode goes to the prefix
    sys.pycache_prefix = str(prefix)
    sys.dont_write_bytecode = False


def pytest_args(args: Any, targets: list[Target]) -> list[str]:
    argv = [str(suites_dir()), *QUIET_PYTEST, "--report-dir", str(args.report_dir),
            "--alluredir", str(Path(args.report_dir) / "allure-results"), "--clean-alluredir"]
    for target in targets:
        argv += ["--target", str(target.path)]
    dialects = args.dialect or ([] if targets else list(DIALECTS))
    for dialect in dialects:
        argv += ["--dialect", dialect]
    if args.workers and args.workers != "1":
        argv += ["-n", str(args.workers)]
    if args.fuzz_examples is not None:
        argv += ["--fuzz-examples", str(args.fuzz_examples)]
    if args.seed is not None:
        argv += ["--hypothesis-seed", str(args.seed)]
    if args.profile:
        argv += ["--profile", args.profile]
    if getattr(args, "record", False) or getattr(args, "replay", False):  # cassettes: see imagecert.cassettes
        argv += ["--record" if getattr(args, "record", False) else "--replay"]
        if getattr(args, "cassette_dir", None):
            argv += ["--cassette-dir", str(args.cassette_dir)]
    if args.ims_document:
        argv += ["--ims-document", args.ims_document]
    for rule in getattr(args, "constraint", []):
        argv += ["--constraint", rule]
    return argv


def table(report_dir: Path, dialects: list[str]) -> tuple[str, list[str]]:
    """The closing table, and each dialect's verdict ("no result" where none was written)."""
    rows = [("dialect", "passed", "failed", "not verified", "not testable", "return codes", "fuzz", "verdict", "report")]
    verdicts = []
    for dialect in sorted(dialects, key=in_order):
        path = report_dir / dialect / "compliance.json"
        if not path.is_file():
            rows.append((dialect, "-", "-", "-", "-", "-", "-", "no result", "-"))
            verdicts.append("no result")
            continue
        doc = json.loads(path.read_text("utf-8"))
        s = doc["summary"]
        observed = sum(1 for c in doc["return_code_coverage"] if c["observed"])
        rows.append((dialect, str(s["passed"]), str(s["failed"]), str(s["not_verified"]), str(s["not_testable"]),
                     f"{observed}/{len(doc['return_code_coverage'])}", str(doc["fuzz"]["examples"]),
                     doc["verdict"], str(path.parent / "compliance.html")))
        verdicts.append(doc["verdict"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:]), verdicts


def exit_status(verdicts: list[str]) -> int:
    """The worst verdict decides: a failure, then a missing report, then an unverified rule."""
    if "not certified" in verdicts:
        return EXIT_NOT_CERTIFIED
    if "interrupted" in verdicts:
        return EXIT_INTERRUPTED
    if any(v not in ("certified", "incomplete") for v in verdicts):
        return EXIT_NOT_CERTIFIED
    return EXIT_INCOMPLETE if "incomplete" in verdicts else EXIT_CERTIFIED


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the run; the reports it left say so."""

    def __init__(self, message: str):
        super().__init__(message)


def mark_interrupted(report_dir: Path, dialects: list[str]) -> dict[str, list[str]]:
    """Rewrite the reports an interrupted run wrote: verdict `interrupted`, and the rules it
    never reached (those left unverified) named, so no partial run can read as certified."""
    from imagecert.report import write_one

    unreached = {}
    for dialect in dialects:
        path = report_dir / dialect / "compliance.json"
        if not path.is_file():
            continue
        document = json.loads(path.read_text("utf-8"))
        rows = document["constraints"] + document["return_codes"]
        document["verdict"] = "interrupted"
        document["not_reached"] = [row["id"] for row in rows if row["result"] == "not_verified"]
        write_one(report_dir, document)
        unreached[dialect] = document["not_reached"]
    if unreached and (report_dir / "index.json").is_file():  # the index shows the verdicts as rewritten
        from imagecert.report import write_index

        run = json.loads((report_dir / "index.json").read_text("utf-8"))["this_run"]
        write_index(report_dir, run["dialects"], run["started_at"])
    return unreached




def certify(args: Any, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    targets = check_targets(args.target, args.dialect)
    dialects = args.dialect or ([t.dialect for t in targets] if targets else list(DIALECTS))
    check_constraints(getattr(args, "constraint", []), dialects)
    report_dir = Path(args.report_dir)
    for dialect in dialects:  # a stale report must never stand in for this run's
        (report_dir / dialect / "compliance.json").unlink(missing_ok=True)
    if getattr(args, "replay", False):
        from imagecert.cassettes import default_directory, replay_targets

        if targets:
            raise CannotRun("--replay certifies the recorded cassettes, offline: it takes no --target")
        folder = Path(getattr(args, "cassette_dir", None) or default_directory())
        dialects = args.dialect or sorted(replay_targets(folder)) or list(DIALECTS)
        out.write(f"--replay: certifying the cassettes in {folder}, offline\n")
    elif not targets:
        out.write("no --target: certifying the embedded reference provider\n")
    progress = Progress(out, report_dir)
    # SIGTERM takes Ctrl-C's path: pytest stops, tears the fixtures down, writes what it has
    received = []

    def sigterm_as_interrupt(signum: int, frame: Any) -> None:
        received.append("SIGTERM")
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, sigterm_as_interrupt)
    try:
        status = pytest.main(pytest_args(args, targets), plugins=[progress])
    finally:
        signal.signal(signal.SIGTERM, previous)
    if status == pytest.ExitCode.INTERRUPTED:
        unreached = mark_interrupted(report_dir, dialects)
        done = sum(progress.done.values())
        reports = "; ".join(f"{d}: {len(r)} rules not reached" for d, r in unreached.items()) or "no report written"
        raise Interrupted(f"interrupted by {received[0] if received else 'Ctrl-C (SIGINT)'} after {done} of "
                          f"{sum(progress.total.values())} tests; cleaned up: the running tests' fixtures torn down "
                          f"(the images they made deleted, leased resources given back); reports marked "
                          f"'interrupted' ({reports}) in {report_dir}")
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise CannotRun(f"the suites could not run (pytest exit {int(status)}: {pytest.ExitCode(status).name})")
    text, verdicts = table(report_dir, dialects)
    out.write("\n" + text + "\n")
    from imagecert.report import stale_reports

    stale = stale_reports(report_dir)
    if stale:  # another run's reports beside this one's: say so, they count for nothing here
        out.write(f"stale: {report_dir} also holds reports of an earlier run, not of this one: "
                  + "; ".join(f"{r['dialect']} ({r['verdict']}, started {r['started_at']})" for r in stale)
                  + f" (see {report_dir / 'index.html'})\n")
    return exit_status(verdicts)
