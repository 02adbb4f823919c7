"""imagecert.provider.fake: the fake without pytest, its plain-data state, and the examples/
(one per dialect, each a user's test against the official SDK) run so they never rot."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import imagecert.provider.fake
from imagecert.provider.fake import MissingSDK, sdk

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_running_serves_accounts_whose_state_is_plain_data_and_stops():
    with imagecert.provider.fake.running() as cloud:
        account = cloud.account("jdcloud-vm", instances=[{"status": "running"}])
        assert account.region and account.auth["access_key"] and len(account.instances) == 1
        assert account.images() == []
        account.set_quotas(images=0)
        assert account.resources("instance")[0]["attributes"]["status"] == "running"
    with pytest.raises(OSError):
        __import__("requests").get(cloud.control_url + "/", timeout=2)


def test_a_missing_sdk_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sdk.PACKAGES, "jdcloud-vm", ("no_such_sdk_module", "jdcloud-sdk"))
    account = imagecert.provider.fake.Account("http://x/_imagecert/v1", "http://x", "jdcloud-vm", "t", {}, {})
    with pytest.raises(MissingSDK, match="pip install jdcloud-sdk"):
        account.sdk_client()


@pytest.fixture(scope="module")
def example_outcomes(tmp_path_factory) -> dict[str, str]:
    """Run examples/ as a user's project would (a fresh pytest, no imagecert config)."""
    folder = tmp_path_factory.mktemp("examples")
    (folder / "pytest.ini").write_text("[pytest]\n")
    junit = folder / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini"),
                           "--rootdir", str(EXAMPLES), f"--junitxml={junit}", str(EXAMPLES)],
                          capture_output=True, text=True, timeout=300)
    assert junit.exists(), done.stdout + done.stderr
    outcomes = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = "skipped" if case.find("skipped") is not None \
            else ("failed" if failed else "passed")
    return {"output": done.stdout[-3000:], **outcomes}


@pytest.mark.parametrize("dialect", imagecert.provider.fake.DIALECTS)
def test_the_example_of_each_dialect_passes(example_outcomes, dialect):
    module = "test_" + dialect.replace("-", "_")
    mine = {k: v for k, v in example_outcomes.items() if k.split("::")[0].endswith(module)}
    assert len(mine) >= 2, example_outcomes["output"]  # the round trip and one documented error
    assert set(mine.values()) == {"passed"}, example_outcomes["output"]


def test_faults_and_settled_jobs_reach_the_sdk_through_the_account():
    pytest.importorskip("jdcloud_sdk")
    from jdcloud_sdk.services.vm.apis.CreateImageRequest import CreateImageParameters, CreateImageRequest

    with imagecert.provider.fake.running(job_seconds=600) as cloud:
        account = cloud.account("jdcloud-vm", instances=[{}])
        client = account.sdk_client()
        create = CreateImageRequest(CreateImageParameters(account.region, account.instances[0], "nightly"))
        account.fault("createImage", 503)
        assert client.send(create).error.code == 503
        assert client.send(create).error is None  # the fault was used up
        assert [i["status"] for i in account.images()] == ["pending"]
        assert account.settle("failure") == 1
        assert [i["status"] for i in account.images()] == ["error"]
