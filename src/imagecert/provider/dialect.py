"""What every dialect of the reference provider gives the application.

A dialect package (`provider/<dialect>/`) keeps its state model in `models.py` (plain
classes over the store, raising `ProviderError` with catalog rule ids) apart from its
wire format in `responses.py` (parse a call, ask the model, render the answer), as
moto does. `responses.py` exposes one `Dialect` subclass; the application finds the
operation a request is for in the contract and hands it over as a `Call`.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from starlette.responses import Response

import jsonschema_rs
from jsonschema import Draft202012Validator

from imagecert.contracts import Operation, operations, request_pointer, request_schema, resolve, validator
from imagecert.provider.rules import Answer, Defect, ProviderError, Rules
from imagecert.provider.store import Store, Tenant
from imagecert.provider.validation import body_errors


@dataclass(frozen=True)
class Settings:
    """How the reference provider behaves where the documents leave it open."""

    job_seconds: float = 2.0      # how long an asynchronous job runs before it ends by itself
    max_body_bytes: int = 1 << 20
    # A body up to this size is answered on the event loop, a larger one in a worker thread
    # (validating and signing 1 MiB takes tens of milliseconds).
    inline_body_bytes: int = 64 * 1024
    # A form (Apsara) with more fields is refused before it is validated, so that one request
    # stays cheap; every contract's valid forms hold far fewer (Apsara's CreateImage at most
    # its parameters plus 20 Tag.N and 20 DiskDeviceMapping.N, each four fields).
    max_form_fields: int = 1000
    finished_jobs_kept: int = 1000  # per tenant, for a job query (IMS) after the job ended
    # how far a request's signing date may be from the clock; a nonce is good once within it
    signature_window_seconds: float = 15 * 60
    # Connections: a request's headers (request line included) must arrive within
    # header_seconds of the connection opening or of the last answer, its body within
    # body_seconds; an idle kept-alive connection is closed after keep_alive_seconds.
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    max_header_bytes: int = 16 * 1024
    # Serve only the control calls of the outline (interfaces.md), no extension: how a
    # third-party mock built from the outline alone looks to the suite.
    control_outline: bool = False


class _Recursive(ValueError):
    """A schema that refers to itself: it cannot be inlined."""


DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "example"})  # values, not schemas


def _inline(dialect: str, node: Any, within: tuple[str, ...] = ()) -> Any:
    """`node` with every local `$ref` replaced by what it points to (a `$ref` beside other
    keywords applies with them, as allOf)."""
    if isinstance(node, list):
        return [_inline(dialect, item, within) for item in node]
    if not isinstance(node, dict):
        return node
    inlined = {k: v if k in DATA_KEYWORDS else _inline(dialect, v, within) for k, v in node.items() if k != "$ref"}
    reference = node.get("$ref")
    if not isinstance(reference, str):
        return inlined if reference is None else {**inlined, "$ref": reference}
    if reference in within or not reference.startswith("#"):
        raise _Recursive(reference)
    target = _inline(dialect, resolve(dialect, {"$ref": reference}), within + (reference,))
    return {"allOf": [target], **inlined} if inlined else target


@dataclass
class Call:
    """One authenticated request for one operation of the contract."""

    operation: Operation
    tenant: Tenant
    path_params: dict[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def json(self) -> Any:
        """The JSON body (None when empty); ValueError for anything unreadable, a body
        nested past the parser's recursion limit included."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except RecursionError:
            raise ValueError("the JSON body is nested too deeply") from None


Handler = Callable[[Call], Response]


class Dialect:
    """Base of each dialect's wire layer. Subclasses set the class attributes and
    implement `handlers`, `credentials` and `error_response`."""

    name: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]]         # authentication schemes accepted, first is the default
    malformed_rule: ClassVar[str]              # rule for an unreadable body or wrong content type
    unauthorized_rule: ClassVar[str]           # rule (return code) for missing or bad credentials
    forbidden_rule: ClassVar[str]              # rule (return code) for a tenant without permission
    not_found_rule: ClassVar[str]              # rule for an unknown path or resource
    method_rule: ClassVar[str | None] = None   # rule for a known path with another method
    replay_rule: ClassVar[str | None] = None   # rule for a nonce used already (else unauthorized_rule)
    extra_defects: ClassVar[tuple[Defect, ...]] = ()

    def __init__(self, store: Store, rules: Rules, settings: Settings):
        self.store = store
        self.rules = rules
        self.settings = settings
        self._validators: dict[tuple[str, str | None], Any] = {}
        self._quick: dict[tuple[str, str | None], Any] = {}
        self._schemas: dict[str, Any] = {}

    # wiring ------------------------------------------------------------------
    def _validator(self, operation_id: str, media_type: str | None):
        """The contract's validator for one request body, built once: building one resolves
        the contract's references anew."""
        key = (operation_id, media_type)
        if key not in self._validators:
            pointer = request_pointer(self.name, operation_id, media_type)
            compiled = validator(self.name, pointer)
            if type(compiled) is Draft202012Validator:
                # the same schema with its references inlined: looking each one up again
                # in the contract costs more than the check itself
                try:
                    compiled = Draft202012Validator(_inline(self.name, {"$ref": "#" + pointer}))
                except _Recursive:
                    pass
            self._validators[key] = compiled
        return self._validators[key]

    def _quick_validator(self, operation_id: str, media_type: str | None):
        """The same schema compiled by jsonschema-rs (Rust, with fancy-regex's lookarounds):
        a valid body is told valid in microseconds where `jsonschema` takes hundreds. It only
        ever says "valid"; what it refuses, `jsonschema` checks again and explains, so the
        answer and the rule named stay `jsonschema`'s (tests/test_provider_validation.py
        proves the two agree on the contracts). None for a schema that refers to itself."""
        key = (operation_id, media_type)
        if key not in self._quick:
            pointer = request_pointer(self.name, operation_id, media_type)
            try:
                schema = _inline(self.name, {"$ref": "#" + pointer})
            except _Recursive:
                self._quick[key] = None
            else:
                self._quick[key] = jsonschema_rs.Draft202012Validator(
                    schema, validate_formats=False, pattern_options=jsonschema_rs.FancyRegexOptions())
        return self._quick[key]

    def request_schema(self, operation_id: str) -> Any:
        """An operation's request body schema (its first media type), its own `$ref` followed:
        looked up in the contract once, not per request."""
        if operation_id not in self._schemas:
            self._schemas[operation_id] = resolve(self.name, request_schema(self.name, operation_id))
        return self._schemas[operation_id]

    def operations(self) -> dict[str, Operation]:
        return operations(self.name)

    def handlers(self) -> dict[str, Handler]:
        """operationId -> handler, for every operation of the contract."""
        raise NotImplementedError

    def credentials(self, tenant_id: str, rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
        """(auth, scope) for a new tenant, shaped like a target file's [auth] and [scope]."""
        raise NotImplementedError

    @staticmethod
    def random_text(rng: random.Random, length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(rng.choice(alphabet) for _ in range(length))

    def new_id(self, kind: str) -> str:
        return str(uuid.uuid4())

    def default_attributes(self, kind: str) -> dict[str, Any]:
        """The attributes of a healthy resource of this kind, for the control protocol."""
        return {}

    # answers -----------------------------------------------------------------
    def error_response(self, answer: Answer, call: Call | None) -> Response:
        raise NotImplementedError

    def refuse(self, error: ProviderError, call: Call | None) -> Response:
        return self.error_response(self.rules.answer(error), call)

    def check_body(self, call: Call, data: Any, media_type: str | None = None) -> None:
        """Validate a request body against the contract; raise the first rule it breaks."""
        quick = self._quick_validator(call.operation.operation_id, media_type)
        if quick is not None:
            try:
                if quick.is_valid(data):
                    return
            except (ValueError, TypeError, OverflowError):  # a lone surrogate, say: jsonschema decides
                pass
        if self._validator(call.operation.operation_id, media_type).is_valid(data):
            return  # the common case: no need to sort and trace errors to their rules
        for rule_id, detail in body_errors(self.name, call.operation.operation_id, data, media_type):
            if rule_id is None:
                self.rules.require(self.malformed_rule, False, message=detail)
            else:
                self.rules.require(rule_id, False, message=None)

    @staticmethod
    def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        try:
            text = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate echoed back from the request
            text = json.dumps(body).encode("ascii")
        return Response(
            text,
            status_code=status,
            headers=dict(headers or {}),
            media_type="application/json",
        )
