"""Cassette file names: one per suite test, stable whatever folder pytest starts from."""

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


def cassette_path(directory: Path, dialect: str, test: str) -> Path:
    """`suites/jdcloud-vm/test_states.py::test_busy[stopped]` ->
    `<directory>/jdcloud-vm/test_states/test_busy[stopped].yaml`: stable, one per test."""
    file_part, _, name = test.partition("::")
    inner = _inside(Path(file_part).with_suffix("").parts, dialect)
    name = re.sub(r"[^A-Za-z0-9_.\[\]=,+-]+", "_", name.replace("::", "."))
    if len(name) > 120:  # keep paths short; the hash keeps long parameter ids apart
        name = name[:100] + "-" + hashlib.sha1(name.encode()).hexdigest()[:12]
    return directory.joinpath(dialect, *inner, name + ".yaml")
