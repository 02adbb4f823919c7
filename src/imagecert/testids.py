"""Stable test ids (Tempest's `idempotent_id`): what cassettes and reports key a suite
test on, so that renaming or moving it changes nothing downstream.

    @pytest.mark.test_id("2f0c6a52-5d7e-4a7e-9a43-4c1a8e9b7d10")
    def test_an_instance_with_a_task_in_progress_is_refused(world): ...

A parametrized test's cases are `<id>[<case id>]`. The id is a uuid4, written once when
the test is written and never changed; `tests/test_test_ids.py` requires one on every
suite test, each different.
"""

from __future__ import annotations

import re

import pytest

MARKER = "test_id"
DECLARATION = f"{MARKER}(uuid): the suite test's stable id, which cassettes and reports key on"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def stable_id(item: pytest.Item) -> str | None:
    """The test's stable id (with its parameter case), or None if it has none."""
    mark = item.get_closest_marker(MARKER)
    if mark is None or len(mark.args) != 1 or not isinstance(mark.args[0], str):
        return None
    callspec = getattr(item, "callspec", None)
    return mark.args[0] + (f"[{callspec.id}]" if callspec is not None else "")
