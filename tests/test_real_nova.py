"""Static mode against real upstream OpenStack Nova: the one third-party implementation of a
seed API that runs on these machines (../shared/tools/nova-real, read its README).

It boots Nova with the pool a user would make by hand (2 running, 1 stopped, 1 error
server), certifies it in static mode and requires the outcome a faithful certification
gives: the only failures are documented seed-vs-upstream differences, and nothing is left
not verified except what needs the control protocol or a credential nova-real cannot give.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagecert.contracts import load_catalog

pytestmark = [pytest.mark.real, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
BOOT_DEADLINE_S = 900  # the first boot installs nova into a virtualenv from the package registry
CERTIFY_DEADLINE_S = 900
# The seed-vs-upstream differences: the catalog's D… entries (the nova-real README names
# NOVA-D001, the name limit in bytes, and NOVA-D006, Location at 2.44, which the catalog
# accepts either way; NOVA-D002, metadata keys in bytes, is the same kind as D001).
DOCUMENTED_DIFFERENCES = {e.id for e in load_catalog("huawei-nova").entries if e.discrepancy}
# Where upstream Nova 34 answers otherwise than imagecert's reading of a document that names
# no request earning the code: flagged out of core in contracts/profiles.yaml, so it fails
# the strict profile only and is kept visible here.
FLAGGED_READINGS = {
    "NOVA-R005": "upstream's router answers 404 (text/html) to a method the action path does not "
                 "serve, never 405 badMethod",
}
# nova-real stands a fixture in for Keystone that takes any token as valid (its README:
# "X-Auth-Token: user:project"), so the target file says it authenticates nothing: a 401 and
# a read-only credential (403) cannot be shown there.
NO_KEYSTONE = {"NOVA-R002", "NOVA-R003"}


def _nova_real() -> Path | None:
    """../shared/tools/nova-real beside the clone (CI), or beside any folder above it."""
    for folder in ROOT.parents:
        candidate = folder / "shared" / "tools" / "nova-real" / "make_target.py"
        if candidate.exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def nova_target(tmp_path_factory):
    script = _nova_real()
    if script is None:
        message = f"no shared/tools/nova-real beside {ROOT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": CI must certify real Nova", pytrace=False)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("nova-real")
    log = open(out / "make_target.log", "w")
    nova = subprocess.Popen(
        [sys.executable, str(script), str(out), "--port", str(_free_port()),
         "--running", "2", "--stopped", "1", "--error", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + BOOT_DEADLINE_S
        while "READY target" not in (out / "make_target.log").read_text():
            if nova.poll() is not None or time.monotonic() >= deadline:
                pytest.fail(f"nova-real did not start:\n{(out / 'make_target.log').read_text()[-2000:]}",
                            pytrace=False)
            time.sleep(1)
        target = out / "huawei-nova.toml"
        text = target.read_text()
        assert 'scheme = "token"' in text, "nova-real's target file changed: read its README again"
        # no Keystone: a token proves nothing there (NO_KEYSTONE above)
        target.write_text(text.replace('scheme = "token"', 'scheme = "none"'))
        yield target
    finally:
        os.killpg(nova.pid, signal.SIGTERM)
        try:
            nova.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(nova.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def certified(nova_target, tmp_path_factory):
    reports = tmp_path_factory.mktemp("nova-real-reports")
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from imagecert.cli import main; sys.exit(main())",
         "certify", "--target", str(nova_target), "--report-dir", str(reports)],
        capture_output=True, text=True, timeout=CERTIFY_DEADLINE_S,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])})
    report = json.loads((reports / "huawei-nova" / "compliance.json").read_text())
    return run, report


def _rows(report, result):
    return {r["id"]: r.get("reason") for r in report["constraints"] + report["return_codes"] if r["result"] == result}


def test_upstream_nova_fails_only_the_documented_differences(certified):
    run, report = certified
    failed = _rows(report, "failed")
    allowed = DOCUMENTED_DIFFERENCES | set(FLAGGED_READINGS)
    assert set(failed) <= allowed, (
        f"undocumented failures against upstream Nova: {sorted(set(failed) - allowed)}\n"
        + "\n".join(f"{k}: {(v or '')[:400]}" for k, v in failed.items() if k not in allowed)
        + f"\n{run.stdout[-2000:]}")
    assert "NOVA-D001" in failed, "upstream's 255-character name limit went unnoticed (NOVA-D001)"
    # D001 is a must: upstream is not certified as seed 001, and the exit status says so
    assert report["verdict"] == "not certified" and run.returncode == 1, run.stdout[-2000:]


def test_nothing_but_control_protocol_rules_is_left_not_verified(certified):
    _, report = certified
    left = {k: v for k, v in _rows(report, "not_verified").items()
            if "control protocol" not in (v or "") and k not in NO_KEYSTONE}
    assert not left, "not verified against upstream Nova for another reason:\n" + "\n".join(
        f"{k}: {v}" for k, v in sorted(left.items()))


def test_the_return_codes_a_request_can_cause_are_observed(certified):
    _, report = certified
    observed = {row["id"] for row in report["return_code_coverage"] if row["observed"]}
    # NOVA-R005 is not among them: upstream never answers 405 there (FLAGGED_READINGS)
    causable = {"NOVA-R001", "NOVA-R004", "NOVA-R006", "NOVA-R009"}
    assert causable <= observed, f"return codes any client can cause were not observed: {sorted(causable - observed)}"
