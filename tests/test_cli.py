"""The command line as a user meets it: exit statuses, one-line reasons, the closing
table, reports on disk, and a verdict that changes when the provider is broken."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from imagecert.certify import EXIT_INTERRUPTED
from imagecert.cli import main
from imagecert.provider import server
from imagecert.provider.defects import all_defects

DIALECT = "jdcloud-vm"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_malformed_target_file_is_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('dialect = "jdcloud-vm"\nbase_url = ', encoding="utf-8")
    assert main(["certify", "--target", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not valid TOML" in err


def test_an_unreachable_endpoint_is_exit_2_before_any_test(tmp_path, capsys):
    target = tmp_path / "t.toml"
    target.write_text(
        f'dialect = "jdcloud-vm"\nbase_url = "http://127.0.0.1:{free_port()}"\n'
        '[scope]\nregion_id = "cn-north-1"\n[auth]\nscheme = "none"\n', encoding="utf-8")
    assert main(["certify", "--target", str(target), "--report-dir", str(tmp_path / "r")]) == 2
    captured = capsys.readouterr()
    assert "unreachable" in captured.err
    assert not (tmp_path / "r").exists()


def test_an_unknown_flag_or_dialect_is_exit_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["certify", "--no-such-flag"])
    assert stopped.value.code == 2
    assert main(["certify", "--dialect", "nope"]) == 2


def test_an_unknown_rule_id_is_exit_2_with_one_line(tmp_path, capsys):
    assert main(["certify", "--dialect", DIALECT, "--constraint", "JD-X999", "--report-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "JD-X999" in error


def test_plain_pytest_with_an_unknown_rule_id_is_exit_2_with_one_line():
    """`pytest suites/ --constraint JD-X999`, not through certify: the plugin itself refuses."""
    from imagecert.certify import suites_dir

    run = subprocess.run([sys.executable, "-m", "pytest", str(suites_dir()), "--constraint", "JD-X999",
                          "-p", "no:cacheprovider"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.stderr.count("\n") == 1 and "JD-X999" in run.stderr and "no such rule" in run.stderr, run.stderr
    assert "collected" not in run.stdout, "it collected the suites before refusing"


def test_the_readme_synopsis_names_every_option_and_help_gives_the_exit_statuses(capsys):
    import argparse
    from pathlib import Path

    from imagecert.cli import parser

    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    synopsis = readme.split("\nimagecert certify [", 1)[1].split("```", 1)[0]
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in {**commands, "report merge": commands["report"]._actions[-1].choices["merge"]}.items():
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in synopsis, f"the README's synopsis leaves out {name} {flag}"
    for argv in (["--help"], ["certify", "--help"], ["replay", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "exit status:" in capsys.readouterr().out, f"imagecert {' '.join(argv)} gives no exit statuses"


def test_list_defects_names_every_defect(capsys):
    assert main(["mock", "--list-defects"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == [d.id for d in all_defects()]


@pytest.fixture(scope="module")
def broken_provider():
    """The reference provider with one documented rule broken on purpose."""
    defect = next(d for d in all_defects() if d.rule.startswith("JD-") and d.id.endswith(":unchecked"))
    running = server.start(defects=[defect.id], dialects=[DIALECT])
    yield running, defect
    running.stop()


def test_certifying_the_embedded_provider_is_exit_0_with_a_table_and_reports(tmp_path, capsys):
    assert main(["certify", "--dialect", DIALECT, "--report-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "progress:" in out and "certified" in out
    document = json.loads((tmp_path / DIALECT / "compliance.json").read_text("utf-8"))
    assert document["verdict"] == "certified" and document["summary"]["passed"] > 0
    assert (tmp_path / DIALECT / "compliance.html").is_file() and (tmp_path / DIALECT / "junit.xml").is_file()
    assert document["target"]["embedded"] is True and document["target"]["base_url"].startswith("http://127.0.0.1:")
    assert "the embedded reference provider (imagecert" in (tmp_path / DIALECT / "compliance.html").read_text("utf-8")


def test_under_n_the_progress_counts_what_the_workers_collected():
    """With -n the xdist controller collects nothing itself: the totals come from the first
    worker's collection, and every worker's reports count once."""
    import io
    from types import SimpleNamespace

    from imagecert.certify import Progress

    out = io.StringIO()
    progress = Progress(out)
    progress.pytest_collection_finish(SimpleNamespace(items=[]))  # the controller's
    ids = ["suites/jdcloud-vm/test_a.py::test_one", "suites/jdcloud-vm/test_a.py::test_two",
           "suites/huawei-nova/test_b.py::test_three"]
    for worker in ("gw0", "gw1"):
        progress.pytest_xdist_node_collection_finished(SimpleNamespace(gateway=worker), ids)
    for nodeid, dialect in zip(ids, ("jdcloud-vm", "jdcloud-vm", "huawei-nova")):
        progress.pytest_runtest_logreport(SimpleNamespace(
            user_properties=[("imagecert_dialect", dialect)], failed=False, when="teardown", nodeid=nodeid))
    lines = out.getvalue().splitlines()
    assert lines[0] == "certifying: huawei-nova (1 tests), jdcloud-vm (2 tests)", lines
    assert lines[-1] == "  progress: huawei-nova 1/1  jdcloud-vm 2/2", lines


def test_a_control_target_whose_auth_scheme_cannot_sign_its_dialect_is_exit_2(tmp_path, capsys):
    target = tmp_path / "jd.toml"
    target.write_text(
        'dialect = "jdcloud-vm"\nbase_url = "http://127.0.0.1:9"\n[scope]\nregion_id = "cn-north-1"\n'
        '[auth]\nscheme = "huawei-aksk"\naccess_key = "AK0123456789abcdef"\nsecret_key = "SK-not-shown"\n'
        '[provisioning]\nmode = "control"\ncontrol_url = "http://127.0.0.1:9/_imagecert/v1"\ntenant_id = "t-dev"\n',
        encoding="utf-8")
    assert main(["certify", "--target", str(target), "--report-dir", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "scheme huawei-aksk does not sign jdcloud-vm" in error, error
    assert "SK-not-shown" not in error and not (tmp_path / "r").exists()


def test_a_broken_provider_is_exit_1_and_the_report_names_the_rule(tmp_path, capsys, broken_provider):
    """Also: another dialect's report left in the folder by an earlier run is marked stale, and
    the report says whose credentials signed (each test's tenant: scheme, key hints, no secret)."""
    from imagecert.report import write_reports
    from imagecert.secrets import key_hint

    running, defect = broken_provider
    earlier = {"x": {"nodeid": "suites/huawei-ims/test_x.py::test_x", "dialect": "huawei-ims", "constraints": [],
                     "outcome": "passed", "reason": None, "duration_s": 0.0, "exchanges": []}}
    write_reports(tmp_path / "r", earlier, None, started_at="2026-01-01T00:00:00Z")
    target = running.write_targets(tmp_path / "targets")[DIALECT]
    assert main(["certify", "--target", str(target), "--report-dir", str(tmp_path / "r")]) == 1
    out = capsys.readouterr().out
    assert (f"stale: {tmp_path / 'r'} also holds reports of an earlier run, not of this one: "
            "huawei-ims (incomplete, started 2026-01-01T00:00:00Z)") in out
    index = json.loads((tmp_path / "r" / "index.json").read_text("utf-8"))
    assert {r["dialect"]: r["stale"] for r in index["reports"]} == {"huawei-ims": True, DIALECT: False}
    signed = json.loads((tmp_path / "r" / DIALECT / "compliance.json").read_text("utf-8"))["signed_by"]
    issued = [t.auth for t in running.provider.store.tenants.values() if t.auth.get("scheme") == "jdcloud-hmac"]
    assert signed["schemes"] == ["jdcloud-hmac"] and signed["whose"] == ["tenant"] and signed["tenants"] > 10
    assert set(signed["access_keys"]) <= {key_hint(a["access_key"]) for a in issued}
    written = "".join(p.read_text("utf-8") for p in (tmp_path / "r" / DIALECT).iterdir())
    assert not [a for a in issued if a["secret_key"] in written or a["access_key"] in written]
    assert "FAILED [" in out and "not certified" in out
    lines = out.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("  FAILED ["))
    assert "expected" in lines[failed + 1] and "got" in lines[failed + 1], "the one-line reason (expected vs got) follows"
    assert lines[failed + 2].strip() == f"evidence: {tmp_path / 'r' / DIALECT / 'compliance.html'}"
    document = json.loads((tmp_path / "r" / DIALECT / "compliance.json").read_text("utf-8"))
    assert defect.rule in document["failed_required"] or any(
        row["id"] == defect.rule and row["result"] == "failed" for row in document["constraints"] + document["return_codes"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_is_exit_130_and_its_report_never_says_certified(tmp_path, signum):
    command = [sys.executable, "-m", "imagecert.cli", "certify", "--dialect", "jdcloud-vm",
               "--report-dir", str(tmp_path)]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    for line in run.stdout:  # some tests done, most not
        if line.startswith("  progress:"):
            break
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == EXIT_INTERRUPTED, stderr
    assert stderr.startswith("imagecert: interrupted by "), stderr
    assert "cleaned up: the running tests' fixtures torn down" in stderr and "the suites could not run" not in stderr
    assert stderr.count("\n") == 1, stderr
    document = json.loads((tmp_path / "jdcloud-vm" / "compliance.json").read_text("utf-8"))
    assert document["verdict"] == "interrupted"
    assert document["not_reached"], "an interrupted run leaves rules unverified"
    assert "INTERRUPTED" in (tmp_path / "jdcloud-vm" / "compliance.html").read_text("utf-8")


def test_exit_statuses_follow_the_worst_verdict():
    from imagecert.certify import exit_status

    assert exit_status(["certified", "certified"]) == 0
    assert exit_status(["certified", "incomplete"]) == 3
    assert exit_status(["incomplete", "interrupted"]) == 130
    assert exit_status(["interrupted", "not certified"]) == 1
    assert exit_status(["no result", "incomplete"]) == 1
