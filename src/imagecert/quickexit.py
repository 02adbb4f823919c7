"""An xdist worker of `imagecert certify` leaves without freeing its heap.

A worker ends holding the schemas, strategies and answers of its tests, which Python
would free object by object (half a second) while the controller, its report already in
hand, waits for the worker's process to end. `imagecert certify` loads this plugin
(`-p imagecert.quickexit`; xdist hands the option to each worker). In a worker, once the
exit handlers registered after it have run (`weakref.finalize`'s among them), it shuts
logging down, flushes what is buffered and leaves; the handlers registered before it have
nothing to do in a worker (execnet's, for gateways a worker does not own; certifi's, for a
bundle extracted from a zip). The certify process itself leaves the same way
(`imagecert.cli.run`)."""

from __future__ import annotations

import atexit
import logging
import os
import sys

import pytest


def _leave() -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the controller reads a worker's outcome from its reports, not its exit status


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        atexit.register(_leave)
