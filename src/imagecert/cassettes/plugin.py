"""The pytest side: each suite test, from its setup to its teardown, in its own cassette."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import vcr

from imagecert.cassettes.files import read_cassette, write_cassette
from imagecert.cassettes.isolation import (
    deterministic_uuids,
    network_refused,
    one_request_at_a_time,
)
from imagecert.cassettes.matching import Persister
from imagecert.cassettes.naming import locate, suite_test_id
from imagecert.cassettes.player import PLAYER, RECORDING, Player, playing
from imagecert.cassettes.redaction import Redactor
from imagecert.cassettes.targets import write_target_description
from imagecert.target import Target


# The reference provider recordings are made with: asynchronous work that never ends by
# itself (the suites settle it through the control protocol), so that no job's
# progress, and no state, depends on how long a request took.
RECORDING_JOB_SECONDS = 24 * 3600.0


class CassettePlugin:
    """Wraps each suite test, from its setup to its teardown, in its own cassette."""

    def __init__(self, state: Any, mode: str, directory: Path):
        self.state = state
        self.mode = mode  # "record" or "replay"
        self.directory = directory
        self.described: set[str] = set()

    def cassette(self, item: pytest.Item, dialect: str, target: Target) -> contextlib.AbstractContextManager:
        from imagecert.plugin import constraint_ids

        from imagecert.testids import stable_id

        recording = self.mode == "record"
        key, path = locate(self.directory, item, dialect, recording)
        redactor = Redactor(target)
        meta = {"test": suite_test_id(item, dialect), "test_id": stable_id(item), "dialect": dialect,
                "constraints": constraint_ids(item)}
        stack = contextlib.ExitStack()
        stack.enter_context(deterministic_uuids(key))
        stack.enter_context(one_request_at_a_time())
        if not recording:  # replayed from an index of the file, read once (imagecert.cassettes.player)
            stack.enter_context(network_refused())
            recorded_meta, interactions = read_cassette(path)
            player = item.stash[PLAYER] = Player(interactions, redactor, recorded_meta)
            stack.enter_context(playing(player))
            stack.callback(item.stash.__delitem__, PLAYER)
            return stack
        stable = list(target.scope.values()) + [i for ids in target.fixtures.values() for i in ids]
        recorder = vcr.VCR(
            record_mode="all", match_on=(),  # recording plays nothing: no need to compare
            before_record_request=redactor.request,
            before_record_response=redactor.response,
            decode_compressed_response=True,
        )
        item.stash[RECORDING] = meta  # what the test keeps in its cassette besides its exchanges
        stack.callback(item.stash.__delitem__, RECORDING)
        recorder.register_persister(Persister(meta, recording, stable))
        stack.enter_context(recorder.use_cassette(str(path)))
        # a test that sent nothing still gets its (empty) cassette
        stack.callback(lambda: path.is_file() or write_cassette(path, meta, []))
        return stack

    @staticmethod
    def _dialect(item: pytest.Item) -> str | None:
        from imagecert.plugin import dialect_of

        dialect = dialect_of(item.path)
        return dialect if dialect and "world" in getattr(item, "fixturenames", ()) else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        dialect = self._dialect(item)
        missing = dialect and not locate(self.directory, item, dialect, recording=False)[1].is_file()
        if self.mode == "replay" and missing:
            pytest.fail(f"no cassette for this test under {self.directory}: record it with --record", pytrace=False)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        dialect = self._dialect(item)
        if dialect is None:
            yield
            return
        target = self.state.target(dialect)
        if self.mode == "record" and dialect not in self.described:
            write_target_description(self.directory, target)
            self.described.add(dialect)
        with self.cassette(item, dialect, target):
            yield
