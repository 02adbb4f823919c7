"""Process-wide patches a cassette run needs: the network refused, repeatable uuids, one
request at a time."""

from __future__ import annotations

import contextlib
import random
import socket
import sys
import threading
import uuid
from typing import Any, Iterator

import requests


class NetworkRefused(ConnectionRefusedError):
    """A replayed test tried to reach the network."""


@contextlib.contextmanager
def network_refused() -> Iterator[None]:
    """Every socket connect in this process refused (an offline replay touches nothing)."""
    def refuse(sock: socket.socket, address: Any, *args: Any) -> None:
        raise NetworkRefused(f"replaying cassettes: the network is refused (connect to {address!r})")

    saved = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]


INSTALLED = (sys.prefix, sys.base_prefix)  # the standard library and installed packages


@contextlib.contextmanager
def deterministic_uuids(seed: str) -> Iterator[None]:
    """`uuid.uuid4()` repeatable when the project's code calls it in this thread (the
    test's: names and tokens a suite makes unique), so that a re-recording sends the
    same requests and a replay finds them. Other threads (an in-process provider) and
    installed packages (allure names its results with uuids, and only in some runs) keep
    real randomness and take nothing from the sequence."""
    rng = random.Random(seed)
    owner = threading.get_ident()
    real = uuid.uuid4

    def uuid4() -> uuid.UUID:
        caller = sys._getframe(1).f_code.co_filename
        if threading.get_ident() != owner or "site-packages" in caller or caller.startswith(INSTALLED):
            return real()
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    uuid.uuid4 = uuid4  # type: ignore[assignment]
    try:
        yield
    finally:
        uuid.uuid4 = real  # type: ignore[assignment]


@contextlib.contextmanager
def one_request_at_a_time() -> Iterator[None]:
    """Requests from several threads sent one after the other. vcrpy is not thread-safe:
    while it sends one recorded request it unpatches HTTP process-wide, so a concurrent
    request would go unrecorded, and two replayed ones could take the same answer."""
    lock = threading.RLock()
    real = requests.Session.send

    def send(session: requests.Session, *args: Any, **kwargs: Any) -> requests.Response:
        with lock:
            return real(session, *args, **kwargs)

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        requests.Session.send = real  # type: ignore[method-assign]
