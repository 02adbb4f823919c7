"""Fixtures the project's own tests share."""

from __future__ import annotations

import pytest

from imagecert.provider.dialect import Settings
from imagecert.provider.server import start


@pytest.fixture(scope="module")
def provider(request: pytest.FixtureRequest):
    """The reference provider serving the test module's `DIALECT` only, on a free
    loopback port; a module may set `PROVIDER_SETTINGS` (e.g. jobs that never end by
    themselves)."""
    settings = getattr(request.module, "PROVIDER_SETTINGS", Settings())
    running = start(dialects=[request.module.DIALECT], settings=settings)
    yield running
    running.stop()
