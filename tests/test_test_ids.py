"""Every suite test carries a stable id (`@pytest.mark.test_id(uuid)`), each different:
cassettes and reports key on it, so a rename orphans nothing."""

from __future__ import annotations

import pytest

from imagecert.certify import QUIET_PYTEST
from imagecert.contracts import contracts_dir
from imagecert.testids import MARKER, UUID

SUITES = contracts_dir().parent / "suites"


class Collected:
    """(where, the ids its test_id markers give) for every test function pytest collects:
    also those a suite declares once for several (`imagecert.fuzz.FuzzTests`)."""

    def __init__(self) -> None:
        self.tests: dict[str, list[str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:  # a parametrized test's cases: one function, one id
            where = f"{item.path.relative_to(SUITES)}::{item.originalname}"
            self.tests.setdefault(where, [mark.args[0] if len(mark.args) == 1 else None
                                          for mark in item.iter_markers(MARKER)])


def suite_tests() -> list[tuple[str, list[str]]]:
    collected = Collected()
    status = pytest.main([str(SUITES), "--collect-only", *QUIET_PYTEST], plugins=[collected])
    assert status == pytest.ExitCode.OK, "the suites do not collect"
    return sorted(collected.tests.items())


def test_every_suite_test_has_one_stable_id_and_no_two_share_one():
    tests = suite_tests()
    assert len(tests) > 150, "the suites were not found"
    wrong = [where for where, ids in tests if len(ids) != 1 or not isinstance(ids[0], str) or not UUID.match(ids[0])]
    assert not wrong, f"give each of these one @pytest.mark.{MARKER}(\"<uuid4>\") (python -c 'import uuid; " \
                      f"print(uuid.uuid4())'): {wrong[:10]}"
    owners: dict[str, list[str]] = {}
    for where, (test_id,) in tests:
        owners.setdefault(test_id, []).append(where)
    shared = {i: w for i, w in owners.items() if len(w) > 1}
    assert not shared, f"tests that share an id (a copied test keeps its original's; give it a new one): {shared}"
