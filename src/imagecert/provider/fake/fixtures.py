"""pytest fixtures for the fake (imported by imagecert.plugin, so any project with
imagecert installed has them). The server starts only when a test asks for it."""

from __future__ import annotations

from typing import Any, Callable

import pytest


@pytest.fixture(scope="session")
def imagecert_provider():
    """The fake, one server for the whole session (see imagecert.provider.fake.Cloud)."""
    from imagecert.provider.fake import start

    cloud = start()
    yield cloud
    cloud.stop()


@pytest.fixture
def imagecert_account(imagecert_provider) -> Callable[..., Any]:
    """imagecert_account("jdcloud-vm", instances=[{"status": "running"}]): a fresh
    account per call, forgotten after the test."""
    made = []

    def factory(dialect: str, **arrange: Any):
        account = imagecert_provider.account(dialect, **arrange)
        made.append(account)
        return account

    yield factory
    for account in made:
        imagecert_provider.forget(account)
