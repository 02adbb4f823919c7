"""Cassette file names: one per suite test, named by its stable id (whatever its name, or
the folder pytest starts from)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from imagecert.contracts import checkout_root


def default_directory() -> Path:
    """The checkout's `cassettes/`; an installed imagecert ships none: `./cassettes`."""
    root = checkout_root()
    return root / "cassettes" if root is not None else Path("cassettes")


def _inside(parts: tuple[str, ...], dialect: str) -> tuple[str, ...]:
    """The path parts below the (last) `<dialect>` folder."""
    if dialect not in parts:
        return parts[-1:]
    return parts[len(parts) - parts[::-1].index(dialect):]


def suite_test_id(item: pytest.Item, dialect: str) -> str:
    """A suite test's id whatever folder pytest was started from:
    `suites/<dialect>/<file>::<name>` (it names the cassette and seeds its uuids)."""
    return "/".join(("suites", dialect, *_inside(item.path.parts, dialect))) + "::" + item.nodeid.partition("::")[2]


def _file_name(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\[\]=,+-]+", "_", name.replace("::", "."))
    if len(name) > 120:  # keep paths short; the hash keeps long parameter ids apart
        name = name[:100] + "-" + hashlib.sha1(name.encode()).hexdigest()[:12]
    return name + ".yaml"


def cassette_path(directory: Path, dialect: str, test_id: str) -> Path:
    """A test's cassette, named by its stable id (`imagecert.testids`):
    `2f0c6a52-…[stopped]` -> `<directory>/jdcloud-vm/2f0c6a52-…[stopped].yaml`; renaming
    or moving the test keeps it."""
    return directory / dialect / _file_name(test_id)


def legacy_cassette_path(directory: Path, dialect: str, test: str) -> Path:
    """The name cassettes had before stable ids, from the test's file and function:
    `suites/jdcloud-vm/test_states.py::test_busy[stopped]` ->
    `<directory>/jdcloud-vm/test_states/test_busy[stopped].yaml` (still replayed, never
    written: a re-recording names every cassette by its test's stable id)."""
    file_part, _, name = test.partition("::")
    inner = _inside(Path(file_part).with_suffix("").parts, dialect)
    return directory.joinpath(dialect, *inner, _file_name(name))


def locate(directory: Path, item: pytest.Item, dialect: str, recording: bool) -> tuple[str, Path]:
    """(the key that seeds the test's uuids, its cassette): the stable id and the file it
    names; in a replay with no such file, a cassette of the old naming, seeded as it was
    recorded. A test without a stable id keeps the old naming."""
    from imagecert.testids import stable_id

    test, test_id = suite_test_id(item, dialect), stable_id(item)
    legacy = (test, legacy_cassette_path(directory, dialect, test))
    if test_id is None:
        return legacy
    named = (test_id, cassette_path(directory, dialect, test_id))
    return named if recording or named[1].is_file() or not legacy[1].is_file() else legacy
