"""Fixtures the project's own tests share."""

from __future__ import annotations

import pytest

from imagecert.provider.dialect import Settings
from imagecert.provider.fake import Account, Cloud
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


@pytest.fixture
def new_account(provider, request: pytest.FixtureRequest):
    """Another tenant of the module's `DIALECT` on `provider`: `new_account("read-only")`.
    The one control client is the fake's (`imagecert.provider.fake.Account`): resources,
    quotas, faults, settled jobs, listings and the dialect's official SDK client."""
    cloud = Cloud(provider)

    def make(permissions: str = "full") -> Account:
        return cloud.account(request.module.DIALECT, permissions=permissions)

    return make


@pytest.fixture
def account(new_account) -> Account:
    """A fresh tenant of the module's `DIALECT`, with every permission."""
    return new_account()
