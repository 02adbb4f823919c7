"""A person opening compliance.html in a real browser sees the verdict and the failing rules.

Uses Debian's headless Chromium, which the fixture installs with apt-get when it is
missing and the tests run as root (as CI does). Where it cannot be had, the test is
skipped with the reason, never passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from imagecert.contracts import load_catalog
from imagecert.report import build, write_one


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(step, capture_output=True, timeout=600, env=env)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("Debian's chromium is not installed and could not be installed here")
    return found


def headless(chromium: str, *args: str) -> str:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def test_the_verdict_and_the_failing_rules_are_visible(chromium, tmp_path):
    dialect = "jdcloud-vm"
    rules = [e for e in load_catalog(dialect).entries if e.testable and e.level == "must"][:2]
    outcomes = [{"nodeid": f"suites/{dialect}/test_x.py::test_{i}", "dialect": dialect, "constraints": [e.id],
                 "outcome": "failed", "reason": f"expected HTTP 400, got 200 ({e.id})", "duration_s": 0.0,
                 "exchanges": []} for i, e in enumerate(rules)]
    page = write_one(tmp_path, build(dialect, outcomes, {"base_url": "http://127.0.0.1:1"})).parent / "compliance.html"

    dom = headless(chromium, "--dump-dom", page.as_uri())
    assert 'id="verdict">NOT CERTIFIED<' in dom
    failed_line = dom.split('id="failed-rules">', 1)[1].split("</p>", 1)[0]
    for rule in rules:
        assert rule.id in failed_line

    shot = tmp_path / "report.png"
    headless(chromium, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert shot.stat().st_size > 10_000, "the screenshot is blank"
