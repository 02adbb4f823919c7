"""The pytest plugin that turns `suites/` into a conformance run against any endpoint.

Registered through the `pytest11` entry point, so `pytest suites/ --target FILE` works
from anywhere. With no `--target` it starts the embedded reference provider on a free
loopback port and certifies every dialect; under xdist (`-n 2`) the controller starts
it once and every worker certifies that one (`SharedProvider`).

A suite test lives under `suites/<dialect>/`, says which catalog rules it proves with
`@pytest.mark.constraint("<ID>", ...)`, and asks for the `world` fixture (see
`imagecert.world`): a fresh tenant of its dialect's target and a signed client.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from imagecert import testids
from imagecert.contracts import DIALECTS, load_catalog
from imagecert.target import Target, TargetError, load_target, parse_target
from imagecert.world import NOT_VERIFIED, World
# the fake for other projects' tests (imagecert.provider.fake); the server starts only on request
from imagecert.provider.fake.fixtures import imagecert_account, imagecert_provider  # noqa: F401

IMS_DOCUMENTS = ("zh", "en")
CASSETTE_RUN_ID = "recorded"
PROFILES = ("core", "strict")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imagecert", "imagecert conformance suites")
    group.addoption("--target", action="append", default=[], metavar="FILE",
                    help="target file of the endpoint to certify (repeatable, one per dialect); "
                         "without it the embedded reference provider is started")
    group.addoption("--dialect", action="append", default=[], choices=DIALECTS, metavar="ID",
                    help="certify only this dialect (repeatable; default: every dialect with a target)")
    group.addoption("--fuzz-examples", type=int, default=None, metavar="N",
                    help="examples per fuzzed operation (default: the hypothesis profile's)")
    group.addoption("--constraint", action="append", default=[], metavar="ID",
                    help="run only the suite tests linked to this catalog id (repeatable)")
    group.addoption("--ims-document", choices=IMS_DOCUMENTS, default=None,
                    help="where the zh and en IMS documents disagree, hold the target to this one "
                         "(default: each rule's `choice` in the catalog)")
    group.addoption("--profile", choices=PROFILES, default="core",
                    help="certification profile: core (every must) or strict (every rule)")
    group.addoption("--report-dir", default=None, metavar="DIR",
                    help="write compliance reports (JSON, HTML, JUnit) per dialect into DIR")
    group.addoption("--imagecert-defect", action="append", default=[], metavar="ID",
                    help="start the embedded reference provider with this defect (for proving the suites)")
    group.addoption("--record", action="store_true", default=False,
                    help="record each suite test's HTTP interactions into its cassette (see --cassette-dir)")
    group.addoption("--replay", action="store_true", default=False,
                    help="run the suites from their cassettes, offline: no provider, the network refused")
    group.addoption("--cassette-dir", default=None, metavar="DIR",
                    help="where cassettes are recorded and replayed from (default: the repository's cassettes/)")


@dataclass
class RunState:
    """What one pytest process knows about the run."""

    config: pytest.Config
    targets: dict[str, Target] = field(default_factory=dict)
    embedded: Any = None  # the reference provider this process started, if any
    provider_settings: Any = None  # its Settings (None: the defaults)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def uses_embedded(self) -> bool:
        return not self.config.getoption("target") and not self.config.getoption("replay")

    def target(self, dialect: str) -> Target:
        if self.uses_embedded and not self.targets:
            handed = getattr(self.config, "workerinput", {}).get(SHARED_TARGETS)
            # serial: this process starts it, on the first test that needs it
            shared = self.start_embedded() if handed is None else shared_targets(Path(handed))
            self.targets = {d: parse_target(doc, f"embedded {d}") for d, doc in shared.items()}
        return self.targets[dialect]

    def start_embedded(self) -> dict[str, dict[str, Any]]:
        """Start the embedded reference provider; its target documents per dialect."""
        from imagecert.provider import server

        self.embedded = server.start(defects=self.config.getoption("imagecert_defect"),
                                     settings=self.provider_settings)
        return self.embedded.targets()

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


SHARED_TARGETS = "imagecert_embedded_targets"  # the xdist workerinput key of the shared provider's targets file
SHARED_START_SECONDS = 60.0  # how long a worker waits for the shared provider to start


class SharedProvider:
    """Under xdist, the controller's side: one embedded provider for every worker. It
    starts in a thread while the workers start (their imports and collection take longer),
    and each worker is handed the file its target documents will be written to (a URL and
    a development tenant per dialect, in a folder only this user can read; each test still
    makes its own tenant). The workers then start no provider of their own, and its
    threads run in the controller, which only waits for the workers' reports."""

    def __init__(self, state: RunState):
        self.state = state
        self.folder: Path | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="imagecert-shared-provider-"))
            threading.Thread(target=self._start, name="imagecert-shared-provider-start", daemon=True).start()
        node.workerinput[SHARED_TARGETS] = str(self.folder / "targets.json")

    def _start(self) -> None:
        assert self.folder is not None
        try:
            documents = self.state.start_embedded()
            self.state.targets = {d: parse_target(doc, f"embedded {d}") for d, doc in documents.items()}
            written: dict[str, Any] = {"targets": documents}
        except Exception as error:  # told to every worker, which fails its tests with it
            written = {"error": f"the shared reference provider did not start: {error}"}
        partial = self.folder / "targets.json.partial"
        try:
            partial.write_text(json.dumps(written), "utf-8")
            partial.replace(self.folder / "targets.json")
        except OSError:
            pass  # the run ended before the provider started: the folder is gone, and nobody waits

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def shared_targets(path: Path, timeout: float = SHARED_START_SECONDS) -> dict[str, dict[str, Any]]:
    """A worker's side: the shared provider's target documents, once the controller wrote them."""
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            raise RuntimeError(f"imagecert: the shared reference provider did not start within {timeout:.0f} s")
        time.sleep(0.01)
    written = json.loads(path.read_text("utf-8"))
    if "error" in written:
        raise RuntimeError(f"imagecert: {written['error']}")
    return written["targets"]


def _state(config: pytest.Config) -> RunState:
    return config.stash[_STATE]


_STATE = pytest.StashKey[RunState]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from imagecert import interrupts, world

    # the run's garbage-collector and hypothesis settings (`pytest_collection_finish`) are
    # undone last: after pytest's own end-of-run collections (the unraisable-exception
    # report's, whose cleanup is registered after this one), which then walk only what
    # the tests made
    config.add_cleanup(lambda: _undo_run_settings(config))

    # a fresh image-name prefix for this process's run; a fixed one where cassettes are
    # recorded or replayed, so that what a test sends is the same in both
    cassette = config.getoption("record") or config.getoption("replay")
    world.start_run(CASSETTE_RUN_ID if cassette else None)
    interrupts.install()  # SIGINT and SIGTERM wait for a create's answer, then tear down
    config.addinivalue_line("markers", testids.DECLARATION)
    state = RunState(config)
    for path in config.getoption("target"):
        try:
            target = load_target(path)
        except TargetError as error:
            raise pytest.UsageError(f"imagecert: {error}") from None
        if target.dialect in state.targets:
            raise pytest.UsageError(f"imagecert: two target files for {target.dialect}; give one per dialect")
        state.targets[target.dialect] = target
    config.stash[_STATE] = state
    config.pluginmanager.register(Recorder(state), "imagecert-recorder")
    _use_cassettes(config, state)
    if state.uses_embedded and not hasattr(config, "workerinput") and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(SharedProvider(state), "imagecert-shared-provider")
    _check_constraints(config, state)


def _check_constraints(config: pytest.Config, state: RunState) -> None:
    """Every --constraint id must be a rule of a dialect this run certifies: an unknown id
    would select nothing, so it is a one-line error and exit 2, before anything is collected."""
    wanted = config.getoption("constraint")
    if not wanted:
        return
    dialects = [d for d in DIALECTS if (not state.targets or d in state.targets)
                and (not config.getoption("dialect") or d in config.getoption("dialect"))]
    known = {i for d in dialects for i in load_catalog(d).by_id}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        pytest.exit(f"imagecert: --constraint {', '.join(unknown)}: no such rule in {', '.join(dialects)} "
                    "(the ids are in contracts/<dialect>/constraints.yaml)", returncode=2)


def _use_cassettes(config: pytest.Config, state: RunState) -> None:
    """--record / --replay: each suite test in its own cassette (imagecert.cassettes)."""
    record, replay = config.getoption("record"), config.getoption("replay")
    if not (record or replay):
        return
    from imagecert import cassettes

    if record and replay:
        raise pytest.UsageError("imagecert: --record and --replay exclude each other")
    if replay and state.targets:
        raise pytest.UsageError("imagecert: --replay runs offline from cassettes; it takes no --target")
    directory = Path(config.getoption("cassette_dir") or cassettes.default_directory())
    if replay:
        state.targets = cassettes.replay_targets(directory)
    else:
        from imagecert.provider.dialect import Settings

        state.provider_settings = Settings(job_seconds=cassettes.RECORDING_JOB_SECONDS)
    config.pluginmanager.register(cassettes.CassettePlugin(state, "record" if record else "replay", directory),
                                  "imagecert-cassettes")


def pytest_unconfigure(config: pytest.Config) -> None:
    from imagecert import interrupts

    if _STATE in config.stash:
        _state(config).stop()
    interrupts.uninstall()


def _static_targets(config: pytest.Config) -> list[Target]:
    return [t for t in _state(config).targets.values() if t.mode == "static"] if _STATE in config.stash else []


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before any test: delete what dead runs left on each static target (their journals)."""
    from imagecert.world import recover

    for target in _static_targets(session.config):
        recover(target)


@pytest.hookimpl(trylast=True)  # after the fixtures' teardown (the runner's sessionfinish)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After the last test: delete what the run's journal still lists on each static target,
    and the images named with the run's prefix where the contract lists images."""
    from imagecert.world import finish_run

    for target in _static_targets(session.config):
        left = finish_run(target)
        if left:
            print(f"imagecert: {len(left)} image(s) could not be deleted from {target.base_url} "
                  f"({', '.join(left[:5])}); the next run against it tries again", file=sys.stderr)


def dialect_of(path: Path) -> str | None:
    """The dialect of a suite test: the `suites/<dialect>/` folder it stands in."""
    for part in reversed(path.parts):
        if part in DIALECTS:
            return part
    return None


def constraint_ids(item: pytest.Item) -> list[str]:
    return [i for mark in item.iter_markers("constraint") for i in mark.args]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = _state(config)
    wanted = set(config.getoption("constraint"))
    keep, drop, unknown = [], [], []
    for item in items:
        dialect = dialect_of(item.path)
        if dialect is None or "world" not in getattr(item, "fixturenames", ()):
            keep.append(item)
            continue
        ids = constraint_ids(item)
        known = load_catalog(dialect).by_id
        unknown += [f"{item.nodeid}: {i}" for i in ids if i not in known]
        item.user_properties.append(("imagecert_dialect", dialect))
        item.user_properties.append(("imagecert_constraints", ids))
        item.user_properties.append(("imagecert_test_id", testids.stable_id(item)))
        chosen = (state.uses_embedded or dialect in state.targets) and (
            not config.getoption("dialect") or dialect in config.getoption("dialect"))
        if chosen and (not wanted or wanted & set(ids)):
            keep.append(item)
        else:
            drop.append(item)
    if unknown:
        raise pytest.UsageError("imagecert: suite tests name ids that are in no catalog:\n" + "\n".join(unknown))
    if wanted:  # outside the suites, --constraint selects nothing else either
        drop += [i for i in keep if dialect_of(i.path) is None]
        keep = [i for i in keep if dialect_of(i.path) is not None]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """A run of the suites keeps what collecting them loaded (contracts, schemas,
    strategies, catalogs) to its end: out of the garbage collector's sight, each of the
    run's full collections walks only what the tests made since (a tenth of a second each).
    And it allocates fast (requests, answers, drawn cases): the youngest generation is
    collected every `YOUNG_COLLECTION_EVERY` allocations rather than 700, so that a full
    collection (every tenth of every tenth) comes some 30 times less often. And hypothesis
    draws from its own constants only, not from imagecert's modules
    (`draws_independent_of_local_code`). All of it is undone as the run's last step (a
    certify may run inside another pytest session)."""
    if any(dialect_of(item.path) for item in session.items):
        from imagecert.fuzz.run import draws_independent_of_local_code  # the suites loaded it

        undo_draws = draws_independent_of_local_code()
        thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_EVERY, *thresholds[1:])

        def undo() -> None:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            undo_draws()

        session.config.stash[_UNDO_RUN_SETTINGS] = undo


def _undo_run_settings(config: pytest.Config) -> None:
    if _UNDO_RUN_SETTINGS in config.stash:
        config.stash[_UNDO_RUN_SETTINGS]()
        del config.stash[_UNDO_RUN_SETTINGS]


_UNDO_RUN_SETTINGS = pytest.StashKey[Any]()
YOUNG_COLLECTION_EVERY = 20_000


@pytest.fixture
def world(request: pytest.FixtureRequest):
    """A fresh account on the target of this test's dialect, with a signed client."""
    state = _state(request.config)
    dialect = dialect_of(request.node.path)
    if dialect is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the world fixture is for tests under suites/<dialect>/")
    options = {"ims_document": request.config.getoption("ims_document"),
               "profile": request.config.getoption("profile")}
    made = World(state.target(dialect), options)
    request.node.stash[_WORLD] = made
    request.node.user_properties.append(("imagecert_signed_by", made.signed_by))
    _label_for_allure(dialect, constraint_ids(request.node))
    yield made
    # offline a control-mode test made nothing, and its recorded clean-up judges nothing (a
    # static one still gives its leases back, the way they were given back when recorded)
    if not (request.config.getoption("replay") and made.controlled):
        made.close()


_WORLD = pytest.StashKey[World]()
SEVERITY = {"must": "critical", "should": "normal", "advisory": "minor"}


def _label_for_allure(dialect: str, ids: list[str]) -> None:
    """Dialect as epic, rule as feature, level as severity (no-ops without --alluredir)."""
    import allure

    catalog = load_catalog(dialect).by_id
    allure.dynamic.epic(dialect)
    for rule_id in ids:
        allure.dynamic.feature(rule_id)
        allure.dynamic.story(catalog[rule_id].summary)
    levels = [catalog[i].level for i in ids]
    if levels:
        allure.dynamic.severity(SEVERITY[min(levels, key=list(SEVERITY).index)])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    broken = getattr(call.excinfo.value, "rules", ()) if call.excinfo is not None else ()
    if report.failed and broken:  # a RuleViolation names the rules it broke: only those fail
        report.user_properties.append(("imagecert_failed_rules", list(broken)))
    made = item.stash.get(_WORLD, None)
    if made is not None and report.when == "call" and report.failed:
        import allure

        report.user_properties.append(("imagecert_exchanges", [x.as_dict() for x in made.exchanges()]))
        for number, exchange in enumerate(made.exchanges(), 1):
            allure.attach(exchange.show(), name=f"exchange {number}: {exchange.method} {exchange.status}",
                          attachment_type=allure.attachment_type.TEXT)


class Recorder:
    """Gathers each suite test's outcome (on the xdist controller too) and writes the
    reports at the end of the session."""

    def __init__(self, state: RunState):
        self.state = state
        self.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "imagecert_dialect" not in props:
            return
        test_id = props.get("imagecert_test_id")
        entry = self.state.results.setdefault(test_id or report.nodeid, {
            "nodeid": report.nodeid, "test_id": test_id, "dialect": props["imagecert_dialect"],
            "constraints": props["imagecert_constraints"], "outcome": "passed", "reason": None,
            "duration_s": 0.0, "exchanges": [], "fuzz": props.get("imagecert_fuzz"),
        })
        entry["duration_s"] += report.duration
        if props.get("imagecert_signed_by"):
            entry["signed_by"] = props["imagecert_signed_by"]
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            entry["outcome"] = "not_verified"
            entry["reason"] = reason.removeprefix("Skipped: ").removeprefix(NOT_VERIFIED)
        elif report.failed:
            entry["outcome"] = "failed"
            crash = getattr(report.longrepr, "reprcrash", None)  # the assertion's own words, not the traceback
            text = crash.message if crash is not None else report.longreprtext or ""
            entry["reason"] = ("" if report.when == "call" else f"error in {report.when}: ") + text[-4000:]
            entry["exchanges"] = props.get("imagecert_exchanges", [])
            entry["failed_rules"] = props.get("imagecert_failed_rules")  # None: every linked rule
        if props.get("imagecert_fuzz"):
            entry["fuzz"] = props["imagecert_fuzz"]

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        report_dir = config.getoption("report_dir")
        if report_dir is None or hasattr(config, "workerinput"):  # the xdist controller writes
            return
        from imagecert.report import write_reports

        write_reports(Path(report_dir), self.state.results, self.state.targets or None,
                      embedded=self.state.uses_embedded,
                      profile=config.getoption("profile"), ims_document=config.getoption("ims_document"),
                      started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                      duration_s=time.time() - self.started,
                      interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
