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
import threading
import time
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

import pytest

from imagecert.contracts import DIALECTS, shipped
from imagecert.target import Target, TargetError, load_target

# Exit statuses (README, `imagecert certify --help`): the worst dialect's verdict decides.
EXIT_CERTIFIED, EXIT_NOT_CERTIFIED, EXIT_CANNOT_RUN, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_OF_VERDICT = {"certified": EXIT_CERTIFIED, "incomplete": EXIT_INCOMPLETE,
                   "interrupted": EXIT_INTERRUPTED, "not certified": EXIT_NOT_CERTIFIED}


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


class Progress:
    """Prints, per dialect, how many suite tests are done of how many, and each failure."""

    def __init__(self, out: TextIO):
        self.out = out
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.last = 0.0

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from imagecert.plugin import dialect_of

        for item in session.items:
            dialect = dialect_of(item.path)
            if dialect:
                self.total[dialect] = self.total.get(dialect, 0) + 1
        if not self.total:
            return
        self.total = {d: self.total[d] for d in DIALECTS if d in self.total}  # one order, every run
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
            rules = ", ".join(props.get("imagecert_failed_rules") or props.get("imagecert_constraints", []))
            self.out.write(f"  FAILED [{rules}] {report.nodeid}\n    {_why(report)}\n")
        if report.when == "teardown":
            self.done[dialect] = self.done.get(dialect, 0) + 1
            now = time.monotonic()
            if now - self.last > 2 or self.done[dialect] == self.total.get(dialect):
                self.last = now
                line = "  ".join(f"{d} {self.done.get(d, 0)}/{n}" for d, n in self.total.items())
                self.out.write(f"  progress: {line}\n")
            self.out.flush()


def _why(report: pytest.TestReport) -> str:
    """A failure's one line: the first problem its assertion states (expected vs got)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else report.longreprtext or ""
    problems = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
    first = problems[0] if problems else next((line for line in text.splitlines() if line.strip()), "")
    return first.strip()[:300]


# pytest run in-process and silent (imagecert prints its own progress): the terminal
# plugin off, and with it the project's addopts that need it (-ra), the import mode kept.
QUIET_PYTEST = ["-p", "no:cacheprovider", "-p", "no:terminal", "-o", "addopts=--import-mode=importlib"]


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
    return argv


def table(report_dir: Path, dialects: list[str]) -> tuple[str, list[str]]:
    """The closing table, and each dialect's verdict."""
    rows = [("dialect", "passed", "failed", "not verified", "not testable", "return codes", "fuzz", "verdict", "report")]
    verdicts = []
    for dialect in sorted(dialects, key=lambda d: DIALECTS.index(d) if d in DIALECTS else len(DIALECTS)):
        path = report_dir / dialect / "compliance.json"
        if not path.is_file():
            rows.append((dialect, "-", "-", "-", "-", "-", "-", "no result", "-"))
            verdicts.append("not certified")
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
    """Not certified anywhere wins, then interrupted, then incomplete."""
    for verdict in ("not certified", "interrupted", "incomplete"):
        if verdict in verdicts:
            return EXIT_OF_VERDICT[verdict]
    return EXIT_CERTIFIED if verdicts else EXIT_NOT_CERTIFIED


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def certify(args: Any, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    targets = check_targets(args.target, args.dialect)
    dialects = args.dialect or ([t.dialect for t in targets] if targets else list(DIALECTS))
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
    cache_bytecode()
    # SIGTERM ends the run as Ctrl-C does: teardowns delete what the tests made, and the
    # reports say "interrupted" (never certified).
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        status = pytest.main(pytest_args(args, targets), plugins=[Progress(out)])
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if status == pytest.ExitCode.INTERRUPTED:
        text, _ = table(report_dir, dialects)
        out.write("\ninterrupted: the tests that had started were torn down (their images deleted); "
                  "the reports say 'interrupted'\n" + text + "\n")
        return EXIT_INTERRUPTED
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise CannotRun(f"the suites could not run (pytest exit {int(status)}: {pytest.ExitCode(status).name})")
    text, verdicts = table(report_dir, dialects)
    out.write("\n" + text + "\n")
    return exit_status(verdicts)
