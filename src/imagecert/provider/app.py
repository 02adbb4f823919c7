"""The reference provider as one ASGI application: four dialects and the control protocol.

Every request is matched to an operation of a dialect's contract, authenticated the
way that provider signs, checked against the tenant's permissions and any armed
fault, and handed to the dialect's wire layer. Refusals are rendered in the dialect's
documented error body; the application answers 5xx only when a fault asks for it.
"""

from __future__ import annotations

import asyncio
import queue
import random
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from imagecert import signing
from imagecert.contracts import DIALECTS, Operation
from imagecert.provider import control
from imagecert.provider.dialect import Call, Dialect, Settings
from imagecert.provider.nonces import Nonces, nonce_of
from imagecert.provider.registry import dialect_classes
from imagecert.provider.rules import Answer, ProviderError, Rules
from imagecert.provider.store import Store, Tenant


CONTROL_PREFIX = "/_imagecert/v1"
# Which dialect a path belongs to when no operation matches it (for the error body).
PATH_OWNERS = (
    ("/v1/cloudimages", "huawei-ims"),
    ("/v1/regions", "jdcloud-vm"),
    ("/apsara/", "apsara-ecs"),
    ("/v2.1", "huawei-nova"),
)


class Replayed(str):
    """An authentication failure that is a nonce used already (the dialect's replay rule)."""


@dataclass(frozen=True)
class RouteEntry:
    dialect: Dialect
    operation: Operation
    pattern: re.Pattern[str]


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        f"(?P<{p[1:-1]}>[^/]+?)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(f"^{regex}/?\\Z")  # \Z: "$" would also match before a final newline


API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class ProviderApp:
    """The ASGI application: an API call goes straight to `Provider.dispatch`, where
    Starlette's router and middleware would bring it in the end (its catch-all route, or
    the default for a path with a newline) at several times the cost; the control
    protocol, and any method the catch-all route does not take, go through Starlette.
    An exception (a bug: the provider answers no 5xx unasked) is left to uvicorn, which
    answers 500 as Starlette's error middleware would."""

    def __init__(self, provider: "Provider", starlette: Starlette):
        self.provider = provider
        self.starlette = starlette

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] == "http" and scope["method"] in API_METHODS
                and not scope["path"].startswith("/_imagecert")):
            response = await self.provider.dispatch(Request(scope, receive, send))
            await response(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


class Workers:
    """The threads that answer requests off the event loop, at most `limit` (anyio's default
    for Starlette's run_in_threadpool). Handing a call to one and back costs the loop a
    fraction of what run_in_threadpool or an executor does (no capacity limiter, cancel
    scope or concurrent Future chained to an asyncio one): one queue put, one wake-up."""

    def __init__(self, limit: int = 40):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._limit = limit
        self._threads = 0
        self._idle = 0

    def run(self, function, *args) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._serve, name="imagecert-answer", daemon=True).start()
            # else the job waits for the first thread done with its own
        self._jobs.put((loop, future, function, args))
        return future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, function, args = job
            try:
                result, error = function(*args), None
            except BaseException as raised:  # handed to the awaiting request, as an executor does
                result, error = None, raised
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: nobody waits for the answer
                pass
            with self._lock:
                self._idle += 1
        with self._lock:
            self._threads -= 1
            self._idle = max(0, self._idle - 1)

    def shutdown(self) -> None:
        with self._lock:
            for _ in range(self._threads):
                self._jobs.put(None)


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Provider:
    def __init__(self, defects: Iterable[str] = (), settings: Settings | None = None,
                 dialects: Iterable[str] = DIALECTS):
        self.settings = settings or Settings()
        self.defects = frozenset(defects)
        self.store = Store()
        self.window = timedelta(seconds=self.settings.signature_window_seconds)
        self.nonces = Nonces(self.settings.signature_window_seconds)
        self.dialects: dict[str, Dialect] = {
            name: cls(self.store, Rules(name, self.defects), self.settings)
            for name, cls in dialect_classes(dialects).items()
        }
        self.workers = Workers()
        self.routes = [
            RouteEntry(d, op, _pattern(op.path))
            for d in self.dialects.values()
            for op in d.operations().values()
        ]

    def new_tenant(self, dialect: str, permissions: str = "full", tenant_id: str | None = None,
                   rng: random.Random | None = None) -> Tenant:
        """An isolated account with fresh credentials (from `rng`, seeded for the
        development tenants so that theirs are the same at every start)."""
        tenant_id = tenant_id or control.new_tenant_id()
        auth, scope = self.dialects[dialect].credentials(tenant_id, rng or random.SystemRandom())
        return self.store.add_tenant(Tenant(tenant_id, dialect, permissions, auth, scope))

    # the ASGI application ------------------------------------------------------
    def asgi(self) -> "ProviderApp":
        app = Starlette(
            routes=[
                Mount(CONTROL_PREFIX, routes=control.routes(self)),
                Route("/{path:path}", self.dispatch, methods=list(API_METHODS)),
            ]
        )
        # Starlette's path convertor stops at a newline (".../images/a%0Ab"): what no route
        # matches is still answered in the dialect's error body, not Starlette's plain text.
        app.router.default = self._unrouted
        return ProviderApp(self, app)

    async def _unrouted(self, scope, receive, send) -> None:
        response = await self.dispatch(Request(scope, receive))
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        # the scope's own path and query, not request.url: building a URL (host header, quoting,
        # splitting again) costs more than matching the routes
        path = request.scope["path"]
        candidates = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        owner = self._owner(path, candidates)
        if not candidates:
            return self._plain_refusal(owner, "not_found_rule", f"no such path: {path}")
        allowed = [(r, m) for r, m in candidates if r.operation.method == request.method]
        if not allowed and owner is not None and owner.rules.on(f"{owner.method_rule}:unchecked"):
            allowed = candidates  # the defect: any method is taken for the path's own
        if not allowed:
            refusal = self._plain_refusal(owner, "method_rule", f"{request.method} is not allowed on {path}")
            refusal.headers["Allow"] = ", ".join(sorted({r.operation.method for r, _ in candidates}))  # RFC 9110
            return refusal

        body = await self._read_body(request)
        if body is None:
            refusal = self._plain_refusal(owner, "malformed_rule",
                                          f"the request body did not arrive within {self.settings.body_seconds:g} s")
            refusal.headers["Connection"] = "close"  # what is left of the body will not be read
            return refusal
        headers = {k.lower(): v for k, v in request.headers.items()}
        wire = signing.WireRequest(
            method=request.method,
            path=request.scope.get("raw_path", path.encode()).decode("latin-1").split("?", 1)[0],
            query=request.scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
        )
        # Verifying, validating and handling are CPU work. A small body is answered at once, on
        # the event loop: handing it to a thread and back would cost more than the answer. A large
        # one goes to a worker thread, so that it does not hold up every other connection; so does
        # a small one while a worker holds the store, which the loop must never wait for.
        if len(body) <= self.settings.inline_body_bytes and self.store.lock.acquire(blocking=False):
            try:
                return self._answer(allowed, wire)  # the lock is re-entrant: _answer takes it again
            finally:
                self.store.lock.release()
        return await self.workers.run(self._answer, allowed, wire)

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, read no further than one byte past the limit (the refusal needs no more);
        None when it did not arrive in full within the body deadline (a slow or short body)."""
        limit = self.settings.max_body_bytes
        chunks, size = [], 0

        async def collect() -> None:
            # what Request.stream() does, without an async generator per request
            nonlocal size
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                if message["type"] != "http.request":
                    continue
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                if size > limit or not message.get("more_body", False):
                    return

        try:
            async with asyncio.timeout(self.settings.body_seconds):  # no task of its own, as wait_for makes
                await collect()
        except (TimeoutError, ClientDisconnect):
            return None
        return b"".join(chunks)

    def _answer(self, allowed, wire: signing.WireRequest) -> Response:
        route, match, tenant, failure = self._authenticate(allowed, wire)
        dialect = route.dialect
        query = dict(parse_qsl(wire.query, keep_blank_values=True))  # as Starlette's query_params, the last value kept
        call = Call(route.operation, tenant, match.groupdict(), query, wire.headers, wire.body)  # type: ignore[arg-type]
        body = wire.body
        try:
            # first: a body cut short at the limit cannot match its signature
            if len(body) > self.settings.max_body_bytes:
                raise ProviderError(dialect.malformed_rule, message="The request body is too large.")
            # the defect (unchecked): a request that proves no identity goes on, as the anonymous tenant
            if failure is not None:
                if isinstance(failure, Replayed) and dialect.replay_rule:
                    if not dialect.rules.on(f"{dialect.replay_rule}:unchecked"):  # the defect: replays pass
                        raise ProviderError(dialect.replay_rule)  # the rule's documented message
                elif not dialect.rules.on(f"{dialect.unauthorized_rule}:unchecked"):
                    raise ProviderError(dialect.unauthorized_rule, message=f"Authentication failed: {failure}")
            self._authorize(dialect, call)
            fault = self.store.take_fault(tenant.id, route.operation.operation_id)
            if fault is not None:
                return self._fault(dialect, call, fault.status, fault.code)
            with self.store.lock:
                self.store.advance(tenant.id)
                return dialect.handlers()[route.operation.operation_id](call)
        except ProviderError as error:
            return dialect.refuse(error, call)

    # steps -----------------------------------------------------------------------
    def _authenticate(self, allowed, wire):
        """(route, match, tenant, failure reason) — the route of the tenant's dialect when
        several dialects serve the same path (both Huawei dialects serve Glance paths)."""
        failure = "no credentials"
        for route, match in allowed:
            dialect = route.dialect
            for scheme in dialect.schemes:
                if not signing.presented(scheme, wire.headers):
                    continue
                verified = True
                try:
                    key = signing.verify(scheme, wire, self._secret_for(dialect.name, scheme), max_skew=self.window)
                except signing.AuthError as error:
                    if dialect.rules.on(f"{dialect.unauthorized_rule}:unchecked"):
                        key, verified = signing.claimed_key(scheme, wire.headers), False
                    else:
                        failure = error.reason
                        continue
                tenant = self.store.tenant_by_key(key or "")
                if tenant is not None and tenant.dialect == dialect.name:
                    nonce = nonce_of(scheme, wire.headers, wire.query)
                    if verified and nonce is not None and not self.nonces.first_use(key or "", nonce):
                        return route, match, tenant, Replayed(f"the signature nonce {nonce} was used already")
                    return route, match, tenant, None
                failure = "unknown-key"
        route, match = allowed[0]
        return route, match, Tenant("anonymous", route.dialect.name, "none", {}, {}), failure

    def _secret_for(self, dialect: str, scheme: str):
        def secret_for(key: str) -> str | None:
            tenant = self.store.tenant_by_key(key)
            if tenant is None or tenant.dialect != dialect:
                return None
            return tenant.auth.get("token") if scheme == "token" else tenant.auth.get("secret_key")

        return secret_for

    def _authorize(self, dialect: Dialect, call: Call) -> None:
        # RPC-style reads (Apsara's POST DescribeImages) say so in the contract
        reads_only = call.operation.method in ("GET", "HEAD") or bool(call.operation.spec.get("x-imagecert-read-only"))
        allowed = call.tenant.permissions == "full" or (call.tenant.permissions == "read-only" and reads_only)
        dialect.rules.require(dialect.forbidden_rule, allowed, message="You do not have permission to perform this operation.")

    def _fault(self, dialect: Dialect, call: Call, status: int, code: str | None = None) -> Response:
        entry = dialect.rules.return_code(status, code)
        if entry is not None:
            if dialect.rules.on(f"{entry.id}:unchecked"):  # the defect: armed faults are ignored
                return dialect.handlers()[call.operation.operation_id](call)
            return dialect.refuse(ProviderError(entry.id), call)
        return dialect.error_response(Answer(status, None, f"Injected fault: HTTP {status}."), call)

    def _owner(self, path: str, candidates) -> Dialect | None:
        if candidates:
            return candidates[0][0].dialect
        for prefix, name in PATH_OWNERS:
            if path.startswith(prefix):
                return self.dialects.get(name)
        return None

    def _plain_refusal(self, dialect: Dialect | None, rule_attr: str, message: str) -> Response:
        if dialect is None:
            return JSONResponse({"error": message}, status_code=404)
        rule_id = getattr(dialect, rule_attr) or dialect.not_found_rule
        return dialect.refuse(ProviderError(rule_id, message=message), None)


def create_app(defects: Iterable[str] = (), settings: Settings | None = None) -> ProviderApp:
    return Provider(defects, settings).asgi()


__all__ = ["Provider", "create_app", "DIALECTS"]
