"""Ctrl-C (SIGINT) and SIGTERM wait for an image create's answer.

A signal that lands while a create request is on the wire would lose the image's id: the
target makes the image, the answer never reaches the suite, and nothing deletes it (in
static mode no listing may find it again). So while a create is in flight (`deferred()`,
around the request and the recording of the id its answer names) the first SIGINT or
SIGTERM is held, and acted on as soon as the answer is in: the id is recorded first, and
teardown deletes the image. A second signal is acted on at once (someone who presses Ctrl-C
twice means it); the wait is bounded by the client's own timeout anyway.

Acting on a signal is what was there before `install()`: SIGINT's KeyboardInterrupt, or
`imagecert certify`'s SIGTERM handler; a SIGTERM nothing handled becomes a KeyboardInterrupt
too, so that a plain `pytest suites/` run also tears its fixtures down (deletes what it made)
instead of dying. SIGKILL cannot be caught: see `imagecert.world` (the run's journal).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_previous: dict[int, Any] = {}
_in_flight = 0
_held: list[int] = []  # the signal waiting for the creates in flight to be answered
_count = threading.Lock()  # never taken by the handler (it runs between the main thread's bytecodes)


def install() -> bool:
    """Handle SIGINT and SIGTERM as described above; False outside the main thread, where
    Python cannot set a handler (an in-process run in a thread: signals stay as they were)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in SIGNALS:
        current = signal.getsignal(signum)
        if current is not _handler:
            _previous[signum] = current
            signal.signal(signum, _handler)
    return True


def uninstall() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in list(_previous.items()):
        if signal.getsignal(signum) is _handler:
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        del _previous[signum]
    _held.clear()


def held() -> int | None:
    """The signal being held for a create's answer, if any."""
    return _held[0] if _held else None


def _handler(signum: int, frame: Any) -> None:
    if _in_flight and not _held:
        _held.append(signum)
        return
    _held.clear()
    _act(signum, frame)


def _act(signum: int, frame: Any) -> None:
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL: SIGINT's default is a KeyboardInterrupt; SIGTERM's would kill without teardown
        raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def deferred() -> Iterator[None]:
    """A create in flight: a signal that arrives meanwhile is acted on once it is answered."""
    global _in_flight
    with _count:
        _in_flight += 1
    try:
        yield
    finally:
        with _count:
            _in_flight -= 1
            last = _in_flight == 0
        if last and _held:
            signum = _held.pop()
            if threading.current_thread() is threading.main_thread():
                _act(signum, None)
            else:  # the main thread acts on it (Python runs handlers there only)
                signal.pthread_kill(threading.main_thread().ident, signum)
