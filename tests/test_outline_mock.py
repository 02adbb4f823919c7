"""A mock that serves the public outline and nothing more comes out with no failure.

The outline (interfaces.md, "Control protocol (v1)") is the contract with third-party
mocks: what the suite wants beyond it (the resource listing, the quota read, …) is an
extension it must discover. The reference provider in outline mode serves only the
outline's calls; certified against it, every rule either passes or, where only an
extension could show it, is not verified — none fails.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import tomli_w

from imagecert.provider import server
from imagecert.provider.dialect import Settings

pytestmark = pytest.mark.slow
DIALECTS = ("huawei-ims", "huawei-nova", "jdcloud-vm", "apsara-ecs")


@pytest.fixture(scope="module")
def outline_targets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outline-targets")
    running = server.start(settings=Settings(control_outline=True))
    try:
        paths = []
        for dialect, document in running.targets().items():
            path = folder / f"{dialect}.toml"
            path.write_text(tomli_w.dumps(document), "utf-8")
            paths.append(path)
        yield running.base_url, paths
    finally:
        running.stop()


def test_the_outline_alone_serves_no_extension(outline_targets):
    import requests

    base_url, _ = outline_targets
    control = base_url + "/_imagecert/v1"
    assert requests.get(control + "/", timeout=10).status_code == 404
    assert requests.get(control + "/resources", params={"tenant_id": "t-dev-jdcloud-vm"}, timeout=10).status_code in (404, 405)


def test_a_mock_of_the_outline_alone_fails_no_rule(outline_targets, tmp_path):
    _, paths = outline_targets
    command = [sys.executable, "-m", "imagecert.cli", "certify", "--report-dir", str(tmp_path),
               "--fuzz-examples", "5", *[arg for path in paths for arg in ("--target", str(path))]]
    run = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert run.returncode != 2, run.stdout[-2000:] + run.stderr[-2000:]
    for dialect in DIALECTS:
        document = json.loads((tmp_path / dialect / "compliance.json").read_text("utf-8"))
        rows = document["constraints"] + document["return_codes"]
        failed = [f"{row['id']}: {row['reason']}" for row in rows if row["result"] == "failed"]
        assert not failed, f"{dialect}: rules failed for want of an extension:\n" + "\n".join(failed)
        assert document["verdict"] in ("certified", "incomplete"), (dialect, document["verdict"])
        unverified = [row for row in rows if row["result"] == "not_verified"]
        assert all("extension" in (row["reason"] or "") for row in unverified), \
            [(row["id"], row["reason"]) for row in unverified]
