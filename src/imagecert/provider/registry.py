"""The dialects the reference provider serves, by id."""

from __future__ import annotations

from importlib import import_module
from typing import Iterable

from imagecert.contracts import DIALECTS


def dialect_classes(names: Iterable[str] = DIALECTS) -> dict:
    """dialect id -> its `Dialect` subclass (from `provider/<dialect>/responses.py`)."""
    found = {}
    for name in names:
        module = import_module(f"imagecert.provider.{name.replace('-', '_')}.responses")
        found[name] = module.DIALECT
    return found
