"""Cassettes: recorded without a secret, re-recorded without a diff, replayed offline with
the live verdicts, and replayed against a broken provider with the broken rule reported.

One live run records every suite against a reference provider whose tenants' secrets,
tokens and access keys all carry a canary; at the same time the committed cassettes are
replayed offline in another process (the two runs share the two cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from vcr.request import Request

from imagecert import cassettes, cli, signing
from imagecert.cassettes import API_ORIGIN, Interaction, Redactor, normalize
from imagecert.contracts import DIALECTS, contracts_dir, load_catalog
from imagecert.provider import server
from imagecert.provider.dialect import Settings
from imagecert.target import SCOPE_KEYS, parse_target, write_target

ROOT = contracts_dir().parent
COMMITTED = ROOT / "cassettes"
CANARY = "CaNaRy7q"
RUN_TIMEOUT_S = 240


def committed_dialects() -> list[str]:
    return sorted(d for d in DIALECTS if (COMMITTED / d / cassettes.TARGET_FILE).is_file())


def suites_run(*options: str, report_dir: Path) -> subprocess.Popen:
    """The suites in a pytest process of their own (as CI and a user run them)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            *[str(ROOT / "suites" / d) for d in committed_dialects()], "--report-dir", str(report_dir), *options]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(run: subprocess.Popen) -> str:
    output, _ = run.communicate(timeout=RUN_TIMEOUT_S)
    return output


def with_canary(value: str) -> str:
    return value[:4] + CANARY + value[4:]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def verdicts(report_dir: Path, dialect: str) -> dict:
    document = json.loads((report_dir / dialect / "compliance.json").read_text("utf-8"))
    return {
        "verdict": document["verdict"],
        "rules": {row["id"]: row["result"] for row in document["constraints"] + document["return_codes"]},
        "tests": {t["nodeid"].split("suites/", 1)[-1]: t["outcome"] for t in document["tests"]},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Record every suite live (canary credentials) while the committed cassettes replay."""
    if not committed_dialects():
        pytest.fail("no committed cassettes under cassettes/: record them with `pytest suites --record`")
    work = tmp_path_factory.mktemp("cassettes")
    replay = suites_run("--replay", "--cassette-dir", str(COMMITTED), report_dir=work / "replay-reports")
    running = server.start(settings=Settings(job_seconds=cassettes.RECORDING_JOB_SECONDS))
    try:
        for dialect in running.provider.dialects.values():
            issue = dialect.credentials

            def credentials(tenant_id, rng, issue=issue):
                auth, scope = issue(tenant_id, rng)
                return {k: (v if k == "scheme" else with_canary(v)) for k, v in auth.items()}, scope

            dialect.credentials = credentials
        targets = []
        for dialect, document in running.targets().items():
            document["auth"] = {k: (v if k == "scheme" else with_canary(v)) for k, v in document["auth"].items()}
            targets += ["--target", str(write_target(document, work / f"{dialect}.toml"))]
        record = suites_run("--record", "--cassette-dir", str(work / "cassettes"), *targets,
                            report_dir=work / "reports")  # one core: the replay has the other
        record_output = finished(record)
        secrets_issued = [value for tenant in running.provider.store.tenants.values()
                          for key, value in tenant.auth.items() if key != "scheme"]
    finally:
        running.stop()
    return {"work": work, "record": record_output, "replay": finished(replay), "issued": secrets_issued}


def test_the_canary_secret_reaches_no_cassette_and_no_report(runs):
    work = runs["work"]
    issued = [s for s in runs["issued"] if CANARY in s]
    assert len(issued) > 100, "the provider did not hand out the canary credentials"
    written = files_under(work / "cassettes") | {f"reports/{k}": v for k, v in files_under(work / "reports").items()}
    assert any(name.endswith(".yaml") for name in written) and any(name.endswith(".json") for name in written)
    leaked = sorted(name for name, content in written.items() if CANARY.encode() in content)
    assert not leaked, f"the canary secret was written into {leaked[:10]}"
    assert CANARY not in runs["record"], "the canary secret was printed in the run's output"
    signed = b"".join(written.values())
    assert b"<redacted tenant-1>" in signed, "no signed request was recorded"
    assert b"<redacted tenant-1-wrong-secret>" in signed or b"<redacted unknown-credentials>" in signed


def test_a_rerecording_has_no_difference_from_the_committed_cassettes(runs):
    recorded = runs["work"] / "cassettes"
    for dialect in committed_dialects():
        fresh, committed = files_under(recorded / dialect), files_under(COMMITTED / dialect)
        assert sorted(fresh) == sorted(committed), (
            f"{dialect}: cassettes recorded now and committed differ in files: "
            f"new {sorted(set(fresh) - set(committed))[:5]}, gone {sorted(set(committed) - set(fresh))[:5]}")
        changed = sorted(name for name in fresh if fresh[name] != committed[name])
        assert not changed, f"{dialect}: a re-recording changed {changed[:10]}"


def test_replaying_the_committed_cassettes_offline_gives_the_live_verdicts(runs):
    work = runs["work"]
    for dialect in committed_dialects():
        live, replayed = verdicts(work / "reports", dialect), verdicts(work / "replay-reports", dialect)
        assert replayed["tests"] == live["tests"], f"{dialect}: per-test outcomes differ:\n{runs['replay'][-3000:]}"
        assert replayed == live, f"{dialect}: replay and live verdicts differ"
        document = json.loads((work / "replay-reports" / dialect / "compliance.json").read_text("utf-8"))
        assert document["target"]["base_url"] == API_ORIGIN  # the replay target: nothing listens there


def test_a_replay_is_refused_the_network():
    running = server.start(dialects=[DIALECTS[0]])
    try:
        with cassettes.network_refused(), pytest.raises(requests.ConnectionError):
            requests.get(running.control_url + "/", timeout=5)
        assert requests.get(running.control_url + "/", timeout=5).status_code == 200
    finally:
        running.stop()


def a_refusal_rule_with_a_cassette(dialect: str) -> tuple[str, Path]:
    """A rule of the dialect whose documented error code a committed cassette recorded,
    and the folder of that cassette."""
    catalog = load_catalog(dialect).by_id
    for path in sorted((COMMITTED / dialect).rglob("*.yaml")):
        if path.name == cassettes.TARGET_FILE:
            continue
        meta, interactions = cassettes.read_cassette(path)
        for rule_id in meta["constraints"]:
            expect = catalog[rule_id].expect
            if catalog[rule_id].kind != "return-code" and expect is not None and expect.code and any(
                    not x.control and x.status == expect.status and str(expect.code) in x.response_body
                    for x in interactions):
                return rule_id, path.parent
    raise LookupError(f"no committed {dialect} cassette records a documented refusal")


@pytest.mark.parametrize("dialect", committed_dialects() or ["(none committed)"])
def test_imagecert_replay_reports_the_difference_on_the_broken_rule(dialect, tmp_path, capsys):
    rule, folder = a_refusal_rule_with_a_cassette(dialect)
    # every cassette against the healthy provider; the broken one, the cassettes of that module
    for defects, cassette_dir, expected_exit in (([], COMMITTED, 0), ([f"{rule}:wrong-code"], folder, 1)):
        running = server.start(dialects=[dialect], defects=defects)
        try:
            target = write_target(running.targets()[dialect], tmp_path / f"{dialect}.toml")
            reports = tmp_path / ("broken" if defects else "healthy")
            status = cli.main(["replay", "--cassettes", str(cassette_dir), "--target", str(target),
                               "--report-dir", str(reports)])
        finally:
            running.stop()
        printed = capsys.readouterr().out
        listing = json.loads((reports / dialect / "replay.json").read_text("utf-8"))
        assert status == expected_exit, printed[-3000:]
        if not defects:
            assert listing["differences"] == [] and not listing["not_replayable"], printed[-3000:]
            continue
        assert any(d["rules"] == [rule] for d in listing["differences"]), printed[-3000:]
        assert all(d["what"].startswith("error code") for d in listing["differences"]), printed[-3000:]
        report = json.loads((reports / dialect / "compliance.json").read_text("utf-8"))
        failed = {row["id"] for row in report["constraints"] if row["result"] == "failed"}
        assert rule in failed, f"the report fails {sorted(failed)}, not the broken {rule}"


# -- the parts, without a server -------------------------------------------------------


def static_target(dialect: str, scheme: str, **auth: str):
    return parse_target({"dialect": dialect, "base_url": "http://127.0.0.1:9",
                         "scope": {k: "r1" for k in SCOPE_KEYS[dialect]},
                         "auth": {"scheme": scheme, **auth}, "provisioning": {"mode": "static"}})


def recorded_request(target, auth: requests.auth.AuthBase, body: dict) -> Request:
    prepared = requests.Request("POST", target.base_url + "/v1/regions/r1/instances/i-abc:createImage?Signature=x",
                                json=body, auth=auth).prepare()
    return Request(prepared.method, prepared.url, prepared.body, dict(prepared.headers))


def test_a_recorded_request_keeps_no_secret_and_says_whose_signature_it_carried():
    secret = with_canary("secret-key-value")
    target = static_target("jdcloud-vm", "jdcloud-hmac", access_key=with_canary("access-key"), secret_key=secret)
    redactor = Redactor(target)
    body = {"name": "img", "password": with_canary("pw"), "token": "short"}
    for n, (auth, whose) in enumerate((({"access_key": "nobody-key", "secret_key": "nobody-secret"}, "unknown-credentials"),
                                       (target.auth, "target"),
                                       ({**target.auth, "secret_key": secret + "x"}, "target-wrong-secret")), 1):
        signed = recorded_request(target, signing.client_auth("jdcloud-hmac", access_key=auth["access_key"],
                                                              secret_key=auth["secret_key"], region_id="r1"), body)
        kept = redactor.request(signed)
        text = kept.uri + json.dumps(dict(kept.headers)) + kept.body.decode()
        assert CANARY not in text and "short" not in text
        assert kept.headers["Authorization"] == f"<redacted {whose}>"
        assert kept.uri.startswith(API_ORIGIN) and "Signature=%3Credacted%3E" in kept.uri
        # each fresh nonce kept as its place in the cassette (the same nonce sent again: the same place)
        assert kept.headers["x-jdcloud-nonce"] == f"<nonce {n}>" and kept.headers["Host"] == "api.imagecert.invalid"


def test_normalizing_keeps_each_ids_shape_and_its_identity_across_the_cassette():
    made, job = "i-k3x9q0ab7z", "4f6c2a9e0b1d4c3f8e7a6b5c4d3e2f1a"

    def exchange(uri: str, sent: str, answer: dict) -> Interaction:
        return Interaction("POST", uri, {}, sent, 200, "OK", {"content-length": ["1"]}, json.dumps(answer))

    chosen = "imagecert-img-1a2b3c4d5e6f7a8b9c0d"  # the test's own value: kept
    first = exchange(f"{API_ORIGIN}/a", json.dumps({"name": chosen}),
                     {"instanceId": made, "jobId": job, "createdTime": "2026-11-25T08:01:03.5+08:00",
                      "updated_at": 1764057663.25, "name": chosen, "region_id": "cn-north-1"})
    second = exchange(f"{API_ORIGIN}/instances/{made}", "", {"job": job, "created_at": 1764057664.125})
    out = normalize([first, second])
    answer = json.loads(out[0].response_body)
    assert answer["instanceId"] == "i-0000000001" and len(answer["instanceId"]) == len(made)
    assert answer["jobId"] == "a" + "0" * 30 + "2" and cassettes.ID_SHAPED.fullmatch(answer["jobId"])
    assert answer["createdTime"] == "2000-01-01T00:00:00.0+00:00"
    assert answer["name"] == chosen and answer["region_id"] == "cn-north-1"
    assert out[1].uri == f"{API_ORIGIN}/instances/i-0000000001"
    assert json.loads(out[1].response_body) == {"job": answer["jobId"], "created_at": 1000000000.0}
    assert out[0].response_headers["content-length"] == [str(len(out[0].response_body.encode()))]


def test_matching_ignores_signatures_dates_nonces_and_the_host_but_not_the_request():
    target = static_target("jdcloud-vm", "jdcloud-hmac", access_key="ak-value-1", secret_key="sk-value-1")
    auth = signing.client_auth("jdcloud-hmac", access_key="ak-value-1", secret_key="sk-value-1", region_id="r1")

    def kept(body: dict) -> Request:
        return Redactor(target).request(recorded_request(target, auth, body))

    first, again = kept({"name": "a", "id": "00000000-0000-4000-8000-000000000001"}), kept(
        {"name": "a", "id": "11111111-2222-4333-8444-555555555555"})
    other = kept({"name": "b", "id": "00000000-0000-4000-8000-000000000001"})
    assert first.headers["Authorization"] == again.headers["Authorization"] == "<redacted target>"
    for matcher in cassettes.MATCHERS.values():
        matcher(first, again)
    with pytest.raises(AssertionError):
        cassettes.MATCHERS["imagecert_body"](first, other)



def test_a_long_text_is_masked_as_the_patterns_mask_it_whole():
    """On a long text (a too-large body) `mask` tries its patterns only in the runs that
    could hold a date or an id: the result must be the patterns' own on the whole text."""
    import random

    from imagecert.cassettes.normalizing import DATE_SHAPED, ID_SHAPED, LONG_TEXT, mask

    pieces = ["2024-01-02T03:04:05Z", "2024-01-02 03:04", "20240102T030405Z", "Mon, 01 Jan 2024 00:00:00 GMT",
              "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "0123456789abcdef0", "ABCDEF0123456789", "d" * 3000,
              "x", "-", " ", ":", ",", "9", '"', "=", "&", "T", "Z"]
    rng = random.Random(7)
    for _ in range(40):
        text = ""
        while len(text) < LONG_TEXT:
            text += "".join(rng.choice(pieces) for _ in range(50))
        assert mask(text) == ID_SHAPED.sub("<id>", DATE_SHAPED.sub("<date>", text))

def suite_item(module: str, name: str, test_id: str | None, case: str | None = None):
    """What the cassette naming reads of a collected suite test."""
    from types import SimpleNamespace

    mark = SimpleNamespace(args=(test_id,)) if test_id else None
    return SimpleNamespace(path=ROOT / "suites" / "huawei-nova" / f"{module}.py",
                           nodeid=f"suites/huawei-nova/{module}.py::{name}" + (f"[{case}]" if case else ""),
                           get_closest_marker=lambda marker: mark if marker == "test_id" else None,
                           callspec=SimpleNamespace(id=case) if case else None)


def test_a_cassette_is_named_by_the_stable_id_so_a_renamed_test_keeps_it(tmp_path):
    uid = "2f0c6a52-5d7e-4a7e-9a43-4c1a8e9b7d10"
    before = cassettes.locate(tmp_path, suite_item("test_x", "test_y", uid, "a b/c"), "huawei-nova", recording=True)
    after = cassettes.locate(tmp_path, suite_item("test_moved", "test_renamed", uid, "a b/c"), "huawei-nova", True)
    assert before == after == (f"{uid}[a b/c]", tmp_path / "huawei-nova" / f"{uid}[a_b_c].yaml")


def test_a_cassette_of_the_old_naming_still_replays_seeded_as_it_was_recorded(tmp_path):
    item = suite_item("test_x", "test_y", "2f0c6a52-5d7e-4a7e-9a43-4c1a8e9b7d10", "a b/c")
    old = tmp_path / "huawei-nova" / "test_x" / "test_y[a_b_c].yaml"
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    assert cassettes.locate(tmp_path, item, "huawei-nova", recording=False) == (
        "suites/huawei-nova/test_x.py::test_y[a b/c]", old)
    assert cassettes.locate(tmp_path, item, "huawei-nova", recording=True)[1] != old  # recorded anew by id
    assert cassettes.locate(tmp_path, suite_item("test_x", "test_y", None, "a b/c"), "huawei-nova", True)[1] == old


def test_cassette_files_keep_large_bodies_small(tmp_path):
    path = cassettes.cassette_path(tmp_path, "huawei-nova", "2f0c6a52-5d7e-4a7e-9a43-4c1a8e9b7d10")
    huge = "x" * (cassettes.LARGE_BODY_CHARS * 8)
    cassettes.write_cassette(path, {"test": "t"}, [Interaction("POST", API_ORIGIN, {}, huge, 413, "", {}, "{}")])
    assert path.stat().st_size < 2048
    meta, (read,) = cassettes.read_cassette(path)
    assert meta == {"test": "t"} and read.request_body == huge
    assert yaml.safe_load(path.read_text())["imagecert_cassette"] == cassettes.FORMAT


def test_certify_passes_record_and_replay_to_the_suites(tmp_path):
    from imagecert.certify import pytest_args

    for flag in ("--record", "--replay"):
        args = cli.parser().parse_args(["certify", flag, "--cassette-dir", str(tmp_path)])
        argv = pytest_args(args, [])
        assert flag in argv and argv[argv.index("--cassette-dir") + 1] == str(tmp_path)
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["certify", "--record", "--replay"])


def test_replay_tells_breaking_from_additive_and_the_outline_from_extensions():
    from imagecert.replay import ADDITIVE, BREAKING, outline_members, shape_differences

    found = {f.what: f.severity for f in shape_differences(
        {"id": "a", "size": 1, "disks": [1, 2]}, {"id": 1, "disks": [1], "new": True})}
    assert found == {"/id: recorded string, got number": BREAKING, "/size: recorded, missing now": BREAKING,
                     "/disks: recorded 2 items, got 1": BREAKING, "/new: not recorded, present now": ADDITIVE}
    assert outline_members("POST", "/tenants") == ("tenant_id", "auth", "scope")
    assert outline_members("GET", "/resources/r-1") == ("id", "kind", "attributes")
    assert outline_members("GET", "/resources") is None  # the listing is an extension
