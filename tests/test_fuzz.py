"""Fuzzing finds what it promises (issue 5): run alone against a reference provider
broken on purpose — a rule widened (a 33-character JD name accepted), narrowed (a valid
body refused), answered with the wrong status or code, an image that never ends — the
fuzz suite of that dialect fails, prints each failure with its seed and a redacted
curl line, and records it for the report; against the sound provider it passes.

Each run is pytest in-process on `suites/<dialect>/test_fuzz.py`, with the plugin's
embedded provider and the CI hypothesis profile (derandomized, so these never flake).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagecert.contracts import DIALECTS, load_catalog
from imagecert.provider.defects import all_defects

SUITES = Path(__file__).resolve().parents[1] / "suites"
NESTED = ["-p", "no:cacheprovider", "-p", "no:randomly", "-q", "--tb=short", "--no-header"]
BOUNDARIES = "test_contract_examples_and_every_limit_just_under_at_and_over"
VALID = "test_generated_valid_requests_are_accepted"
INVALID = "test_generated_invalid_requests_are_refused_as_documented"
LIFECYCLE = {
    "huawei-ims": "test_made_images_end_active_read_and_delete",
    "huawei-nova": "test_made_images_become_active_read_and_delete",
    "jdcloud-vm": "test_made_images_become_ready_read_and_delete",
    "apsara-ecs": "test_made_images_become_available_read_and_delete",
}

# (dialect, defect, the one fuzz test that must catch it)
CAUGHT = [
    ("jdcloud-vm", "JD-P003:unchecked", BOUNDARIES),         # widened: a 33-character name accepted
    ("jdcloud-vm", "JD-R007:unchecked", BOUNDARIES),         # beyond JSON Schema: a device named twice accepted
    ("jdcloud-vm", "JD-B001:never-ready", LIFECYCLE["jdcloud-vm"]),
    ("huawei-ims", "IMS-C021:wrong-code", BOUNDARIES),       # a 129-character name refused with another IMG code
    ("huawei-ims", "IMS:enterprise-project-refused", VALID),  # narrowed: a documented field refused
    ("huawei-ims", "IMS:job-never-ends", LIFECYCLE["huawei-ims"]),
    ("huawei-nova", "NOVA-D001:unchecked", BOUNDARIES),      # bytes, not characters: a 243-byte name accepted
    ("huawei-nova", "NOVA-D005:unchecked", BOUNDARIES),      # widened: a name ending in whitespace accepted
    ("huawei-nova", "NOVA-P004:wrong-status", INVALID),
    ("huawei-nova", "NOVA-P007:no-image-id", LIFECYCLE["huawei-nova"]),
    ("apsara-ecs", "APS-P013:unchecked", BOUNDARIES),        # widened: an ImageName over its limit accepted
    ("apsara-ecs", "APS-P015:unchecked", BOUNDARIES),        # beyond JSON Schema: a disk smaller than its snapshot
    ("apsara-ecs", "APS:lower-case-region-refused", VALID),  # narrowed: the documented regionId twin refused
    ("apsara-ecs", "APS:delete-keeps-image", LIFECYCLE["apsara-ecs"]),
]


class Outcomes:
    def __init__(self) -> None:
        self.failed: dict[str, str] = {}
        self.passed: list[str] = []
        self.fuzz: dict[str, dict] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == "imagecert_fuzz":
                self.fuzz[report.nodeid] = value
        if report.failed:
            self.failed[report.nodeid] = report.longreprtext
        elif report.passed and report.when == "call":
            self.passed.append(report.nodeid)


def fuzz(paths: list[str], *options: str) -> Outcomes:
    outcomes = Outcomes()
    pytest.main(paths + [*options, *NESTED], plugins=[outcomes])
    return outcomes


def test_every_defect_named_here_exists():
    known = {d.id for d in all_defects()}
    assert not [d for _, d, _ in CAUGHT if d not in known]


@pytest.mark.parametrize(("dialect", "defect", "test"), CAUGHT, ids=[d for _, d, _ in CAUGHT])
def test_the_fuzz_suite_alone_finds_the_defect(dialect, defect, test, tmp_path):
    outcomes = fuzz([f"{SUITES / dialect / 'test_fuzz.py'}::{test}"], "--imagecert-defect", defect,
                    "--report-dir", str(tmp_path))
    assert outcomes.failed, f"fuzzing did not notice {defect}: {outcomes.passed} passed"
    text = next(iter(outcomes.failed.values()))
    assert "seed" in text and "curl -X" in text, "a fuzz failure must show its seed and a curl line"
    recorded = json.loads((tmp_path / dialect / "compliance.json").read_text("utf-8"))["fuzz"]
    assert recorded["examples"] > 0 and recorded["failures"], "the report keeps the fuzz failures"
    assert all(f["problems"] and "seed" in f for f in recorded["failures"])
    assert any(f["curl"].startswith("curl -X") for f in recorded["failures"])


def test_a_failure_shows_no_secret(tmp_path):
    from imagecert.provider import server

    running = server.start(dialects=["jdcloud-vm"], defects=["JD-P003:unchecked"])
    try:
        secret = running.targets()["jdcloud-vm"]["auth"]["secret_key"]
        running.write_targets(tmp_path)
        outcomes = fuzz([f"{SUITES / 'jdcloud-vm' / 'test_fuzz.py'}::{BOUNDARIES}"],
                        "--target", str(tmp_path / "jdcloud-vm.toml"))
    finally:
        running.stop()
    text = next(iter(outcomes.failed.values()))
    assert "<redacted>" in text and secret not in text


def test_the_sound_provider_passes_every_fuzz_suite(tmp_path):
    outcomes = fuzz([str(SUITES / d / "test_fuzz.py") for d in DIALECTS], "--fuzz-examples", "5",
                    "--report-dir", str(tmp_path))
    assert not outcomes.failed, "\n".join(outcomes.failed.values())[:3000]
    assert len(outcomes.passed) == 4 * len(DIALECTS)
    for dialect in DIALECTS:
        recorded = json.loads((tmp_path / dialect / "compliance.json").read_text("utf-8"))["fuzz"]
        assert recorded["examples"] > 0 and recorded["failures"] == []


def test_the_seed_decides_the_requests(monkeypatch):
    """--hypothesis-seed N sends the same generated requests again (the reproduction promise)."""
    from hypothesis import core

    from imagecert.client import ApiClient

    sent: list[bytes] = []
    send = ApiClient.send

    def recording(self, method, url, **kwargs):
        response = send(self, method, url, **kwargs)
        if url.endswith("/action"):
            sent.append(response.request.body)
        return response

    monkeypatch.setattr(ApiClient, "send", recording)
    forced = core.global_force_seed  # hypothesis' plugin sets it for the process and never resets it
    bodies = []
    try:
        for _ in range(2):
            sent.clear()
            run = fuzz([f"{SUITES / 'huawei-nova' / 'test_fuzz.py'}::{INVALID}"], "--hypothesis-seed", "7",
                       "--fuzz-examples", "5")
            bodies.append(list(sent))
            assert [value["seed"] for value in run.fuzz.values()] == [7]
    finally:
        core.global_force_seed = forced
    assert bodies[0] and bodies[0] == bodies[1]


def test_fuzz_marks_name_catalog_rules():
    """The ids a fuzz test carries come from the contract's x-constraint marks: all real."""
    from imagecert.fuzz import Fuzzer

    for dialect in DIALECTS:
        ids = Fuzzer(dialect).oracle.schema_rule_ids()
        assert ids and set(ids) <= set(load_catalog(dialect).by_id), dialect


def test_an_armed_5xx_is_a_failure():
    """Never a 5xx: a target that answers 500 fails fuzzing even where 500 is documented."""
    from imagecert.fuzz import Fuzzer
    from imagecert.provider import server
    from imagecert.target import parse_target
    from imagecert.world import World

    running = server.start(dialects=["jdcloud-vm"])
    try:
        world = World(parse_target(running.targets()["jdcloud-vm"]))
        world.fault("createImage", 500, count=1000)
        node = SimpleNamespace(name="fault", user_properties=[],
                               config=SimpleNamespace(getoption=lambda name, default=None: 3))
        with pytest.raises(AssertionError, match="500"):
            Fuzzer("jdcloud-vm").check_invalid_requests(world, node)
    finally:
        running.stop()
    assert node.user_properties[0][1]["failures"]




REGEX_MEMO_PROBE = """
import json
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from imagecert import fuzz
from imagecert.fuzz import regex

original = st.from_regex
built, asked = [], [0]

def counting(regex, fullmatch=False, *, alphabet=None):
    built.append(getattr(regex, "pattern", regex))
    return original(regex, fullmatch=fullmatch, alphabet=alphabet)

class Memo(dict):
    def get(self, key, default=None):
        asked[0] += 1
        return super().get(key, default)

regex._FROM_REGEX, regex._REGEX_STRATEGIES = counting, Memo()
operation = fuzz.load_schema("apsara-ecs").find_operation_by_id(fuzz.under_test("apsara-ecs"))
bodies, on = [], []
with fuzz.memoized_regex_strategies():
    on.append(st.from_regex is regex._memoized_from_regex)

    @seed(3)
    @settings(max_examples=2, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    def draw(case):
        bodies.append(case.body)

    draw()
print(json.dumps({"on": on[0], "restored": st.from_regex is original, "bodies": len(bodies),
                  "built": built, "asked": asked[0]}))
"""


def test_regex_strategies_are_built_once_per_pattern_and_alphabet():
    """The engine's memo of `st.from_regex` (imagecert.fuzz.memoized_regex_strategies)
    only works while schemathesis reaches hypothesis' regex strategies through
    `hypothesis.strategies.from_regex`, again for every negative draw of Apsara's form
    (its CJK patterns): if a schemathesis or hypothesis upgrade changes that, this fails
    (and says whether the memo is now dead code or building twice). In a fresh process:
    what earlier tests drew is cached by schemathesis and would hide the calls."""
    import subprocess
    import sys

    import os

    src = str(SUITES.parent / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", REGEX_MEMO_PROBE], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["on"] and found["restored"], found
    assert found["bodies"] == 2
    built = found["built"]
    assert built, "schemathesis no longer builds patterned strings through hypothesis.strategies.from_regex"
    assert len(built) == len(set(built)), \
        f"{len(built)} regex strategies built for {len(set(built))} patterns: some more than once"
    assert found["asked"] > len(built), "no regex strategy was asked for twice: the memo no longer saves anything"


def test_a_character_class_is_built_once_for_every_pattern_that_has_it(monkeypatch):
    """The coverage phase rewrites a pattern's quantifiers for each limit it probes: other
    patterns, the same character classes. With the memo on, hypothesis builds each class
    (here the CJK range, one code point at a time) once, and draws what it draws without
    it: the same values for the same seed. A hypothesis upgrade that stops building
    classes through its `_strategy` fails here."""
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    from hypothesis.strategies._internal.utils import clear_strategy_cache

    from imagecert.fuzz import regex

    built: list[tuple] = []
    build = regex._BUILD_PIECE

    def counting(codes, context, is_unicode, *, alphabet):
        if isinstance(codes, tuple) and codes[0] == regex.sre.IN:
            built.append(tuple(codes[1]))
        return build(codes, context, is_unicode, alphabet=alphabet)

    def drawn(patterns) -> list[str]:
        clear_strategy_cache()  # else hypothesis answers the pattern with the strategy it built before
        values: list[str] = []
        for pattern in patterns:
            @seed(5)
            @settings(max_examples=3, database=None, deadline=None, phases=(Phase.generate,),
                      suppress_health_check=list(HealthCheck))
            @given(st.from_regex(pattern, fullmatch=True))
            def draw(value):
                values.append(value)

            draw()
        return values

    patterns = [f"^[\u4e00-\u9fa5a-zA-Z_-]{{{low},{high}}}$" for low, high in ((1, 32), (31, 32), (33, 33))]
    without = drawn(patterns)
    monkeypatch.setattr(regex, "_BUILD_PIECE", counting)
    monkeypatch.setattr(regex, "_CLASS_STRATEGIES", {})
    monkeypatch.setattr(regex, "_REGEX_STRATEGIES", {})
    with regex.memoized_regex_strategies():
        memoized = drawn(patterns)
    assert built, "hypothesis no longer builds character classes through _strategy: the memo is dead code"
    assert len(built) == len(set(built)) == 1, f"the class was built {len(built)} times for {len(patterns)} patterns"
    assert memoized == without
    assert regex._REGEX_INTERNALS._strategy is not regex._memoized_piece, "the memo was left on after the block"


def test_a_body_another_reading_refuses_may_be_refused_for_that_reason_instead():
    """A body that breaks a rule and is also one a reading of the documents refuses for a
    reason of its own (a `D…` entry; a whole number with a fraction part): the target may
    give that refusal first. Seen in a live run: a JD body naming a device twice (JD-R007,
    error DUPLICATE) whose buyScenario is of another shape (JD-D011) refused INVALID_ARGUMENT."""
    import json
    from types import SimpleNamespace

    from imagecert.fuzz import Ambiguity, CatalogRule
    from imagecert.fuzz.oracle import Oracle
    from imagecert.fuzz.wire import Outgoing

    def twice(body):
        names = [d.get("deviceName") for d in body.get("dataDisks") or [] if d.get("deviceName")]
        return len(names) != len(set(names))

    oracle = Oracle("jdcloud-vm", "createImage", rules=[CatalogRule("JD-R007", twice)],
                    ambiguities=[Ambiguity("JD-D011", lambda body: "voucher" in json.dumps(body))],
                    malformed_rule="JD-C012")

    def expected(body):
        sent = json.dumps(body).encode()
        return oracle.expectation(SimpleNamespace(query={}, headers={}),
                                  Outgoing("POST", "", {}, {}, {}, sent, "application/json"))

    disks = [{"deviceName": "vdb"}, {"deviceName": "vdb"}]
    plain = expected({"name": "image-1", "dataDisks": disks})
    assert (plain.accepted, plain.rules, plain.any_refusal) == (False, ("JD-R007",), False)
    ambiguous = expected({"name": "image-1", "description": "voucher", "dataDisks": disks})
    assert (ambiguous.rules, ambiguous.any_refusal) == (("JD-R007",), True)
    # a strict reader of integers refuses it as malformed (JD-C012), still a rule of its own
    fraction = expected({"name": "image-1", "dataDisks": [dict(d, cloudDiskSpec={"diskSizeGB": 40.0}) for d in disks]})
    assert {"JD-R007", "JD-C012"} <= set(fraction.rules) and not fraction.any_refusal


def test_a_run_of_the_suites_draws_no_constant_of_the_projects_own_code(monkeypatch):
    """Hypothesis draws from the constants of the modules of the project under test too
    (`_get_local_constants`): without imagecert's guard a seed would send other requests
    after any edit of imagecert, or with the reference provider loaded than without (a
    replayed cassette than the recording). While the suites run hypothesis knows none of
    them (here the run stops before its first test); when the run ends what was there
    before is back. (A run of this whole repository collects the suites too, so the
    outer run has the guard on already: the test puts its own constants in first.)"""
    from hypothesis.internal.conjecture import providers

    local = providers.Constants()
    local.strings.add(MARKER)
    monkeypatch.setattr(providers, "_get_local_constants", lambda: local)

    def local_strings() -> set[str]:
        providers.CONSTANTS_CACHE.cache.clear()
        return set(providers._get_local_constants().strings)

    class DuringTheRun:
        strings: set[str] | None = None

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(self, session):
            self.strings = local_strings()
            return True  # no test runs: what the run set up is all that is looked at

    during = DuringTheRun()
    pytest.main([str(SUITES / "jdcloud-vm" / "test_fuzz.py"), *NESTED], plugins=[during])
    assert during.strings is not None and MARKER not in during.strings
    assert local_strings() == {MARKER}


MARKER = "a constant of the project's own code"
