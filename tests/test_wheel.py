"""An installed wheel, not a checkout, certifies the embedded provider.

The wheel is built from a copy of the project's files, installed without dependencies
into a fresh virtual environment that borrows the installed ones (a path file naming
this environment's site-packages, so that this environment's own imagecert is not
seen), and `imagecert certify` runs in a folder that is no checkout, with nothing of
the checkout on the path: the contracts and suites it uses are the wheel's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from imagecert.contracts import checkout_root

ROOT = checkout_root()
DIALECT = "huawei-nova"
BUILT_FROM = ("src", "contracts", "suites", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "conftest.py")
RUN_TIMEOUT_S = 300


def copy_of_the_project(destination: Path) -> Path:
    for name in BUILT_FROM:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.is_file():
            shutil.copyfile(source, destination / name)
    return destination


@pytest.mark.slow
def test_an_installed_wheel_certifies_the_embedded_provider(tmp_path):
    assert ROOT is not None, "the project's tests run from a checkout"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IMAGECERT_CONTRACTS", "IMAGECERT_SUITES")}
    project = copy_of_the_project(tmp_path / "project")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(project)], check=True, env=clean, cwd=tmp_path,
                   timeout=RUN_TIMEOUT_S)
    wheel = next((tmp_path / "dist").glob("imagecert-*.whl"))

    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=False)
    python = environment / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", "utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, env=clean, cwd=tmp_path, timeout=RUN_TIMEOUT_S)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import imagecert.contracts as c; print(c.contracts_dir())"],
                           capture_output=True, text=True, env=clean, cwd=elsewhere, check=True).stdout.strip()
    assert Path(where).is_relative_to(site), f"the contracts came from {where}, not the installed wheel"

    run = subprocess.run([str(environment / "bin" / "imagecert"), "certify", "--dialect", DIALECT,
                          "--fuzz-examples", "3", "--report-dir", str(elsewhere / "reports")],
                         capture_output=True, text=True, env=clean, cwd=elsewhere, timeout=RUN_TIMEOUT_S)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    report = json.loads((elsewhere / "reports" / DIALECT / "compliance.json").read_text("utf-8"))
    assert report["verdict"] == "certified" and report["summary"]["passed"] > 0
    assert all(str(ROOT) not in test for row in report["constraints"] for test in row["tests"])
