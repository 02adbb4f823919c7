"""Assertions the suites make, each naming the catalog rule it holds the target to.

Every expectation is read from the contracts: the status, code and message a refusal
must carry come from the rule's catalog entry; where the error body keeps them comes
from the contract's `info.x-imagecert-error`; which statuses and bodies an operation
may answer comes from its `responses`. A failure says the rule (id and quote), what
was expected, what came back, and shows the exchange with its secrets redacted.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

import requests

from imagecert.contracts import (
    Entry,
    Expectation,
    load_catalog,
    load_contract,
    operations,
    pointer,
    resolve,
    source_path,
    validator,
)
from imagecert.client import ApiClient

_folded_sources: dict[str, str] = {}


class RuleViolation(AssertionError):
    """A target broke a documented rule: `rules` names the rules it broke, and the report
    fails those alone (a test linked to more rules gives the others no evidence)."""

    def __init__(self, *args: Any, rules: Iterable[str] = ()):
        super().__init__(*args)
        self.rules = tuple(rules)


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _source_text(source: str) -> str:
    if source not in _folded_sources:
        _folded_sources[source] = _fold(source_path(source).read_text("utf-8"))
    return _folded_sources[source]


def expected_answer(entry: Entry) -> Expectation:
    if entry.kind == "return-code":
        return Expectation(int(entry.http_status), entry.code, entry.message)
    if entry.expect is None:
        raise LookupError(f"{entry.id} documents no refusal; test it with check(), not expect_refusal()")
    return entry.expect


def message_is_documented(entry: Entry, message: str) -> bool:
    """A message is held to the letter only where the rule's own document prints it
    (JD's return-code table); elsewhere it was chosen from reference material."""
    return _fold(message) in _source_text(entry.source)


def _pick(body: Any, where: str) -> Any:
    """A value by JSON pointer; `*` is the body's one top-level key, `$key` its name."""
    if where == "$key":
        return next(iter(body)) if isinstance(body, dict) and len(body) == 1 else None
    node = body
    for part in where.strip("/").split("/"):
        if part == "*" and isinstance(node, dict) and len(node) == 1:
            node = next(iter(node.values()))
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def error_of(dialect: str, body: Any) -> tuple[Any, Any]:
    """(code, message) of a dialect's error body, as the contract says where they are."""
    where = load_contract(dialect)["info"]["x-imagecert-error"]
    return _pick(body, where["code"]), _pick(body, where["message"])


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def find_operation(dialect: str, method: str, url: str) -> str | None:
    path = requests.utils.urlparse(url).path
    for op in operations(dialect).values():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path))
        if op.method == method.upper() and re.fullmatch(regex + "/?", path):
            return op.operation_id
    return None


def schema_problems(dialect: str, response: requests.Response, operation_id: str | None = None) -> list[str]:
    """How a response breaks its operation's documented responses (status, body schema)."""
    operation_id = operation_id or find_operation(dialect, response.request.method, response.request.url)
    if operation_id is None:
        return [f"{response.request.method} {response.request.url} is no operation of the {dialect} contract"]
    op = operations(dialect)[operation_id]
    documented = op.spec.get("responses", {})
    key = str(response.status_code)
    if key not in documented:
        key = f"{key[0]}XX" if f"{key[0]}XX" in documented else "default"
    if key not in documented:
        return [f"{operation_id} does not document HTTP {response.status_code} (documented: {', '.join(documented)})"]
    spec = resolve(dialect, documented[key])
    content = spec.get("content") or {}
    media = next((m for m in content if "json" in m), None)
    if media is None or "schema" not in content[media]:
        return []
    base = pointer("paths", op.path, op.method.lower(), "responses", key)
    if "$ref" in documented[key]:
        base = documented[key]["$ref"].lstrip("#")
    schema_at = base + pointer("content", media, "schema")
    seen = (dialect, schema_at, response.content, response.encoding)
    if seen in _BODY_PROBLEMS:
        return list(_BODY_PROBLEMS[seen])
    body = _body(response)
    if body is None:
        return [f"the {response.status_code} body is not JSON: {response.text[:200]!r}"]
    errors = list(validator(dialect, schema_at).iter_errors(body))
    problems = [f"body {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]]
    if len(response.content) <= MEMO_BODY_BYTES and len(_BODY_PROBLEMS) < MEMO_BODIES:
        _BODY_PROBLEMS[seen] = tuple(problems)
    return problems


# The problems of each answer body already validated, by the schema and the body's bytes:
# a fuzz run gets the same error body for half its requests (the judge validates one once).
_BODY_PROBLEMS: dict[tuple[str, str, bytes, str | None], tuple[str, ...]] = {}
MEMO_BODY_BYTES, MEMO_BODIES = 16 * 1024, 4096


def body_rules(dialect: str, response: requests.Response) -> tuple[str, ...]:
    """The rules that say how an answer's body looks: the `x-constraint` of its documented
    schema (an error body's own rule, e.g. IMS-B007), or none."""
    operation_id = find_operation(dialect, response.request.method, response.request.url)
    documented = operations(dialect)[operation_id].spec.get("responses", {}) if operation_id else {}
    spec = resolve(dialect, documented.get(str(response.status_code)) or {})
    schema = next((m.get("schema") for t, m in (spec.get("content") or {}).items() if "json" in t), None) or {}
    named = resolve(dialect, schema).get("x-constraint") if isinstance(schema, dict) else None
    return tuple([named] if isinstance(named, str) else named or [])


def _fail(entry: Entry | None, problems: Iterable[str], exchanges: Iterable[Any],
          rules: Iterable[str] | None = None) -> None:
    head = f"[{entry.id}] {entry.quote.strip()}\n  ({entry.source})\n" if entry else ""
    shown = "\n".join(x.show() for x in exchanges)
    raise RuleViolation(head + "".join(f"  - {p}\n" for p in problems) + ("\n" + shown if shown else ""),
                        rules=rules if rules is not None else (entry.id,) if entry else ())


def _exchanges(api: ApiClient | None) -> list[Any]:
    return api.exchanges[-2:] if api is not None else []


def expect_refusal(api: ApiClient, response: requests.Response, rule_id: str) -> dict[str, Any]:
    """The target refused the call as rule `rule_id` documents: status, error code,
    message, and an error body of the documented shape. Returns the body."""
    entry = load_catalog(api.dialect)[rule_id]
    expected = expected_answer(entry)
    status, code, message = expected.status, expected.code, expected.message
    body = _body(response)
    problems = []
    if response.status_code != status:
        problems.append(f"expected HTTP {status}, got {response.status_code}")
    got_code, got_message = error_of(api.dialect, body) if body is not None else (None, None)
    # `expect.codes`: further codes the documents give for the same breach; any is right.
    accepted = [str(c) for c in [code, *((entry.raw.get("expect") or {}).get("codes") or [])]]
    if code is not None and str(got_code) not in accepted:
        problems.append(f"expected error code {' or '.join(map(repr, accepted))}, got {got_code!r}")
    if message and message_is_documented(entry, message) and str(got_code) == str(code):
        if not isinstance(got_message, str) or not expected.message_pattern().match(got_message):
            problems.append(f"expected the documented message {message!r}, got {got_message!r}")
    elif body is not None and not got_message:
        problems.append("the error body carries no message")
    # A body of the wrong shape (its code unreadable) breaks the body's own rule (e.g. IMS-B007);
    # the status, code and message of a well-formed answer are the refused rule's.
    shape = schema_problems(api.dialect, response) if response.status_code == status else []
    if shape:
        _fail(entry, shape + problems, _exchanges(api), rules=body_rules(api.dialect, response) or (entry.id,))
    if problems:
        _fail(entry, problems, _exchanges(api))
    return body


def expect_refusal_by_any(api: ApiClient, response: requests.Response, rule_ids: Iterable[str]) -> dict[str, Any]:
    """The target refused the call as one of `rule_ids` documents: the readings of a `D…`
    entry, each certified. When it matches none, every one of them is broken."""
    rule_ids = tuple(rule_ids)
    problems: list[str] = []
    for rule_id in rule_ids:
        try:
            return expect_refusal(api, response, rule_id)
        except RuleViolation as error:
            problems.append(f"not as {rule_id}: " + "; ".join(
                line.strip()[2:] for line in str(error).splitlines() if line.strip().startswith("- ")))
    _fail(load_catalog(api.dialect)[rule_ids[0]], problems, _exchanges(api), rules=rule_ids)
    raise AssertionError("unreachable")  # _fail raises


def expect_success(api: ApiClient, response: requests.Response, rule_id: str | None = None,
                   status: int | None = None) -> Any:
    """The call succeeded with a documented 2xx status and a body of the documented
    shape. Returns the parsed body (None when there is none)."""
    entry = load_catalog(api.dialect)[rule_id] if rule_id else None
    problems = []
    if status is not None and response.status_code != status:
        problems.append(f"expected HTTP {status}, got {response.status_code}")
    elif not 200 <= response.status_code < 300:
        code, message = error_of(api.dialect, _body(response)) if _body(response) is not None else (None, None)
        problems.append(f"expected success, got HTTP {response.status_code} ({code}: {message})")
    if not problems:
        problems.extend(schema_problems(api.dialect, response))
    if problems:
        _fail(entry, problems, _exchanges(api))
    return _body(response) if response.content else None


def check(api: ApiClient | None, rule_id: str, ok: bool, problem: str, dialect: str | None = None) -> None:
    """Any other property a rule requires (a side effect, a header, a job's outcome)."""
    if ok:
        return
    entry = load_catalog(dialect or api.dialect)[rule_id]
    _fail(entry, [problem], _exchanges(api))


def show(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)[:500]
