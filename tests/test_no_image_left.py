"""A suite run leaves no image behind: every image a test made, registered or not (a
fuzzed create, an unexpected 202), is deleted at teardown, as the README promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecert.certify import QUIET_PYTEST
from imagecert.contracts import DIALECTS
from imagecert.provider import server

SUITES = Path(__file__).resolve().parents[1] / "suites"
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_fuzz_suite_deletes_every_image_it_made(dialect, tmp_path):
    running = server.start(dialects=[dialect])
    try:
        target = running.write_targets(tmp_path)[dialect]
        status = pytest.main([str(SUITES / dialect / "test_fuzz.py"), "--target", str(target),
                              "--fuzz-examples", "5", *QUIET_PYTEST])
        assert status == pytest.ExitCode.OK, f"the {dialect} fuzz suite failed against the sound provider"
        store = running.provider.store
        with store.lock:
            made = [r for r in store.resources.values() if r.kind == "image"]
        left = [(r.id, r.attributes.get("status")) for r in made if r.attributes.get("status") != "deleted"]
        assert not left, f"{len(left)} image(s) left behind by the {dialect} fuzz suite: {left[:5]}"
    finally:
        running.stop()
