"""Serve the reference provider with uvicorn on a loopback port.

`start()` runs it in a background thread (what `imagecert certify` and the pytest
plugin use when no target is given); `serve()` runs it in the foreground
(`imagecert mock`). Either way it is a real HTTP server any client can call.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from imagecert.contracts import DIALECTS
from imagecert.provider.app import CONTROL_PREFIX, Provider
from imagecert.provider.dialect import Settings
from imagecert.provider.store import Tenant

DEV_SEED = 20261124  # the development tenants' credentials are the same at every start


def dev_tenant_id(dialect: str) -> str:
    return f"t-dev-{dialect}"


def add_dev_tenants(provider: Provider) -> dict[str, Tenant]:
    """One fixed tenant per dialect, for people pointing an SDK at the mock by hand."""
    rng = random.Random(DEV_SEED)
    return {d: provider.new_tenant(d, tenant_id=dev_tenant_id(d), rng=rng) for d in provider.dialects}


def target_document(base_url: str, tenant: Tenant) -> dict:
    """A target file (as a dict) that certifies `tenant`'s dialect in control mode."""
    return {
        "dialect": tenant.dialect,
        "base_url": base_url,
        "scope": dict(tenant.scope),
        "auth": dict(tenant.auth),
        "provisioning": {
            "mode": "control",
            "control_url": base_url + CONTROL_PREFIX,
            "tenant_id": tenant.id,
        },
    }


@dataclass
class RunningProvider:
    provider: Provider
    server: uvicorn.Server
    thread: threading.Thread | None
    base_url: str
    dev_tenants: dict[str, Tenant] = field(default_factory=dict)

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    def targets(self) -> dict[str, dict]:
        return {d: target_document(self.base_url, t) for d, t in self.dev_tenants.items()}

    def write_targets(self, directory: Path) -> dict[str, Path]:
        from imagecert.target import write_target

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = {}
        for dialect, document in self.targets().items():
            path = directory / f"{dialect}.toml"
            write_target(document, path)
            written[dialect] = path
        return written

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.provider.workers.shutdown()


class _HeaderDeadline:
    """A deadline for a request's headers to arrive in full, for a uvicorn protocol class:
    armed when the connection opens and after each answer, cancelled by the subclass once
    the headers are in; `_headers_too_late` is the subclass's."""

    header_seconds: float = 0.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_in()
        super().connection_lost(exc)  # type: ignore[misc]

    def _headers_in(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _arm_header_deadline(self) -> None:
        self._headers_in()
        self._header_deadline = self.loop.call_later(self.header_seconds, self._headers_too_late)  # type: ignore[attr-defined]

    def _headers_too_late(self) -> None:
        raise NotImplementedError


def bounded_h11(header_seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, with a deadline for a request's headers to arrive in full.

    uvicorn closes an idle keep-alive connection, but one that sends part of a request
    line or of its headers, slowly or never finished, is held forever. From the moment a
    connection opens, or its last answer was sent, the headers get `header_seconds`; then
    a connection holding part of a request is answered 408 and closed, an empty one is
    closed. (The body has its own deadline, in the application.)"""

    class BoundedH11Protocol(_HeaderDeadline, H11Protocol):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._headers_in()

        def _headers_too_late(self) -> None:
            self._header_deadline = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a request: say why before closing
                body = b'{"error": "the request headers did not arrive in time"}'
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            self.transport.close()

    BoundedH11Protocol.header_seconds = header_seconds
    return BoundedH11Protocol


def bounded_httptools(header_seconds: float, max_header_bytes: int):
    """uvicorn's httptools protocol (llhttp, in C: a fraction of h11's CPU time per request),
    bounded as `bounded_h11` is: the headers get `header_seconds` to arrive in full (then a
    connection holding part of a request is answered 408 and closed, an empty one closed),
    and a request line with headers longer than `max_header_bytes` is answered 400, which
    uvicorn's h11 protocol does by `h11_max_incomplete_event_size` and httptools has no
    setting for (h11 applies it only to headers still incomplete in its buffer; here it
    holds however the bytes arrive). As with h11, an HTTP/1.1 request without a Host
    header, or with two, is answered 400, and header lines ended by LF alone, or
    Content-Length beside chunked Transfer-Encoding, are read. Where llhttp still differs
    from h11 (4xx either way, never 5xx): an unknown method is 400, not Starlette's 405; a
    folded header line, or a request line ended by LF alone, is 400; an absolute-form
    target (`GET http://host/path`) is routed by its path, not answered 404."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        _in_headers = False   # a request has begun and its headers are not all in
        _pending = 0          # bytes received while in the headers (at least)

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            # as h11 reads them: header lines ended by LF alone, and Content-Length beside
            # Transfer-Encoding: chunked (the chunks decide)
            self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True, lenient_chunked_length=True)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_headers:
                self._pending += len(data)
                # a header line never finished: llhttp would keep buffering it
                if self._pending > max_header_bytes + (1 << 16) and not self.transport.is_closing():
                    self.send_400_response("Invalid HTTP request received.")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True

        def on_headers_complete(self) -> None:
            self._in_headers, self._pending = False, 0
            self._headers_in()
            # the request line's target and every "name: value\r\n", counted once they are in
            if len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) > max_header_bytes:
                # raised inside a parser callback: feed_data raises HttpParserCallbackError,
                # which uvicorn answers 400, closing the connection; the app never sees it
                raise ValueError("the request headers are longer than the limit")
            # h11 refuses these (400); llhttp takes them
            hosts = sum(1 for name, _ in self.headers if name == b"host")
            if hosts > 1 or (hosts == 0 and self.parser.get_http_version() == "1.1"):
                raise ValueError("an HTTP/1.1 request has exactly one Host header")
            super().on_headers_complete()

        def _headers_too_late(self) -> None:
            self._header_deadline = None
            if self.transport.is_closing():
                return
            if (self.cycle is not None and not self.cycle.response_complete) or self.pipeline:
                return  # a request is being answered (its body has a deadline of its own)
            if self._in_headers and self._pending:  # part of a request: say why before closing
                body = b'{"error": "the request headers did not arrive in time"}'
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            self.transport.close()

    assert issubclass(httptools.HttpParserCallbackError, httptools.HttpParserError)
    BoundedHttpToolsProtocol.header_seconds = header_seconds
    return BoundedHttpToolsProtocol


def http_protocol(settings: Settings):
    """The fastest bounded HTTP/1.1 protocol installed: httptools, else h11."""
    try:
        return bounded_httptools(settings.header_seconds, settings.max_header_bytes)
    except ImportError:
        return bounded_h11(settings.header_seconds)


def event_loop() -> str:
    """uvloop when it is installed (it cuts the event loop's share of every request's CPU
    time, reading and writing sockets above all), else asyncio's own loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it. asyncio sets it only on sockets made with proto
    # IPPROTO_TCP; without it every answer (headers, then body) waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


def exposure_warning(host: str) -> str | None:
    """What to tell the person starting the provider on an address other machines reach:
    the control protocol has no credentials of its own."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a host name: only "localhost" is known to stay on this machine
        if host == "localhost":
            return None
    return (f"WARNING: listening on {host}, beyond this machine. Anyone who can reach it can use the "
            f"control protocol ({CONTROL_PREFIX}): create tenants and read their secrets, list and change "
            f"every tenant's resources, arm faults; and the development tenants' credentials are the same "
            f"at every start. Use it only on a network you trust.")


def _prepare(host: str, port: int, defects: Iterable[str], settings: Settings | None,
             dialects: Iterable[str] = DIALECTS):
    warning = exposure_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    provider = Provider(defects, settings, dialects)
    dev = add_dev_tenants(provider)
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    settings = provider.settings
    config = uvicorn.Config(
        provider.asgi(), log_level="warning", access_log=False, lifespan="off", loop=event_loop(),
        http=http_protocol(settings),
        timeout_keep_alive=settings.keep_alive_seconds,
        h11_max_incomplete_event_size=settings.max_header_bytes,  # longer headers: 400
    )
    return provider, dev, sock, f"http://{shown}:{bound_port}", uvicorn.Server(config)


def start(host: str = "127.0.0.1", port: int = 0, defects: Iterable[str] = (),
          settings: Settings | None = None, timeout: float = 10.0,
          dialects: Iterable[str] = DIALECTS) -> RunningProvider:
    """Start the provider in a background thread; return once it accepts connections."""
    provider, dev, sock, base_url, server = _prepare(host, port, defects, settings, dialects)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="imagecert-provider", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the reference provider did not start on {base_url}")
        time.sleep(0.01)
    return RunningProvider(provider, server, thread, base_url, dev)


def serve(host: str = "127.0.0.1", port: int = 0, defects: Iterable[str] = (),
          settings: Settings | None = None, on_ready=None) -> None:
    """Run the provider in the foreground until interrupted."""
    provider, dev, sock, base_url, server = _prepare(host, port, defects, settings)
    running = RunningProvider(provider, server, None, base_url, dev)
    if on_ready is not None:
        threading.Thread(target=_notify_when_started, args=(running, on_ready), daemon=True).start()
    server.run(sockets=[sock])


def _notify_when_started(running: RunningProvider, on_ready) -> None:
    while not running.server.started and not running.server.should_exit:
        time.sleep(0.01)
    if running.server.started:
        on_ready(running)
