"""`imagecert replay`: send recorded requests to a live endpoint and report where it differs.

Each cassette (see `imagecert.cassettes`) is replayed in order against the target of its
dialect:

* control protocol calls are made again, so the target gets a tenant and resources of its
  own; every identifier the recording holds (tenant, project, resource, image, job ids)
  is mapped to the one the target answered in the same place, and later requests use
  the target's;
* each API request is sent again with the same method, path, query, headers and body
  (identifiers mapped), signed with the target's credentials of the same tenant — or
  with a wrong secret, or none, exactly as the recording says it was signed;
* each answer is compared with the recorded one: the status, the error code and the shape
  of the body (members, JSON types, list lengths — values are the target's own and are
  not compared, so ids, dates and request ids never count), and it is held to the
  contract (an answer the operation documents) wherever the recorded one was.
  An extension's read (a listing of images one longer is a refused call that made an
  image) is compared on status and shape too, when the target serves it.

Differences are told apart: on the API or the control protocol; breaking (a status, an
error code, a member missing or of another type, a list of another length, an answer the
contract does not allow) or additive (a member the recording had not). The control calls
of the outline (`OUTLINE`) are compared on their status and the members the outline names
only; an extension the target does not serve is skipped and listed; an outline call that
fails where it succeeded makes the cassette not replayable (its set-up cannot be made).
Only breaking differences on the API, or on an extension's read, fail rules. The run
shows its progress and ends with a summary per rule.

Every difference is reported against catalog rules — those whose documented refusal the
recorded (or the new) answer is, the recording test's own first, else any in the catalog
(a fuzz test meets refusals it is not about); else all the test's rules — in the usual
compliance report, and listed one by one in `<report-dir>/<dialect>/replay.json`. A target in static mode replays the cassettes that
need no control protocol, its `[fixtures]` standing in for the recorded ones role by role.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import yaml

from imagecert import signing
from imagecert.cassettes import (
    NONCE_HEADERS,
    TARGET_FILE,
    VOLATILE_QUERY_PARAMS,
    VOLATILE_REQUEST_HEADERS,
    Identifiers,
    Interaction,
    read_cassette,
)
from imagecert.checks import error_of, expected_answer, find_operation, schema_problems
from imagecert.client import ApiClient, Unreachable
from imagecert.secrets import SECRET_HEADERS, SECRET_QUERY_PARAMS
from imagecert.contracts import load_catalog
from imagecert.target import Target
from imagecert.world import CONTROL_TIMEOUT_S, auth_for, wrong_secret

# Headers the signer or the HTTP stack sets anew on every request.
RESENT_WITHOUT = frozenset({"host", "content-length"}) | VOLATILE_REQUEST_HEADERS | SECRET_HEADERS
SHOWN_DIFFERENCES = 8
PROGRESS_EVERY_S = 2.0


class CannotReplay(Exception):
    """A cassette the target cannot replay (it needs what the target does not offer)."""


BREAKING, ADDITIVE = "breaking", "additive"
API, CONTROL = "api", "control"

# The control calls of the outline (interfaces.md, "Control protocol (v1)": all a mock must
# serve) and the members each answer must carry. Their answers are compared on these and
# the status alone: more members and attributes are allowed. Any other control call is
# an extension, replayed only when the target serves it.
OUTLINE = {
    ("POST", r"/tenants"): ("tenant_id", "auth", "scope"),
    ("POST", r"/resources"): ("id", "kind", "attributes"),
    ("GET", r"/resources/[^/]+"): ("id", "kind", "attributes"),
    ("PATCH", r"/resources/[^/]+"): (),
    ("PUT", r"/tenants/[^/]+/quotas"): (),
    ("POST", r"/faults"): (),
    ("POST", r"/jobs/settle"): (),
}
NOT_SERVED = (404, 405, 501)  # how a target says it serves no such extension


def outline_members(method: str, path: str) -> tuple[str, ...] | None:
    """The members an outline control call's answer carries, or None for an extension."""
    for (outline_method, pattern), members in OUTLINE.items():
        if method.upper() == outline_method and re.fullmatch(pattern, path.rstrip("/") or "/"):
            return members
    return None


@dataclass
class Finding:
    what: str
    severity: str  # BREAKING: status, error code, a member missing or retyped, the contract; ADDITIVE: a new member


@dataclass
class Difference:
    test: str
    interaction: int  # 1-based, in the cassette
    request: str      # "POST /v1/…" as recorded (ids normalized, no secret)
    rules: list[str]
    what: str
    side: str = API          # API: the dialect's own API; CONTROL: the control protocol
    severity: str = BREAKING

    def line(self) -> str:
        return (f"{self.test} #{self.interaction} {self.request} [{', '.join(self.rules)}] "
                f"{self.severity}: {self.what}")


@dataclass
class CassetteResult:
    path: Path
    meta: dict[str, Any]
    interactions: int = 0
    differences: list[Difference] = field(default_factory=list)  # breaking: these fail their rules
    additive: list[Difference] = field(default_factory=list)     # new members only: reported, fail nothing
    control: list[Difference] = field(default_factory=list)      # the outline's control answers differed
    extensions_not_served: list[str] = field(default_factory=list)
    not_replayable: str | None = None
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0


# -- comparing answers -----------------------------------------------------------------


def _json_of(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape_differences(recorded: Any, live: Any, where: str = "") -> list[Finding]:
    """How two JSON bodies differ in shape: a member missing or of another JSON type, a
    list of another length (breaking), a member not recorded (additive)."""
    here = where or "(body)"
    if _kind(recorded) != _kind(live):
        return [Finding(f"{here}: recorded {_kind(recorded)}, got {_kind(live)}", BREAKING)]
    found: list[Finding] = []
    if isinstance(recorded, dict):
        for key in recorded:
            if key not in live:
                found.append(Finding(f"{where}/{key}: recorded, missing now", BREAKING))
            else:
                found += shape_differences(recorded[key], live[key], f"{where}/{key}")
        found += [Finding(f"{where}/{key}: not recorded, present now", ADDITIVE) for key in live if key not in recorded]
    elif isinstance(recorded, list):
        if len(recorded) != len(live):
            found.append(Finding(f"{here}: recorded {len(recorded)} items, got {len(live)}", BREAKING))
        for index, (a, b) in enumerate(zip(recorded, live)):
            found += shape_differences(a, b, f"{where}/{index}")
    return found


def answer_differences(dialect: str, recorded: Interaction, live_status: int, live_body: Any,
                       recorded_body: Any) -> list[Finding]:
    found = []
    if recorded.status != live_status:
        found.append(Finding(f"status: recorded {recorded.status}, got {live_status}", BREAKING))
    if recorded.status >= 400 or live_status >= 400:
        recorded_code = error_of(dialect, recorded_body)[0] if recorded_body is not None else None
        live_code = error_of(dialect, live_body)[0] if live_body is not None else None
        if str(recorded_code) != str(live_code):
            found.append(Finding(f"error code: recorded {recorded_code!r}, got {live_code!r}", BREAKING))
    if recorded_body is not None or live_body is not None:
        found += [Finding(f"body {f.what}", f.severity) for f in shape_differences(recorded_body, live_body)]
    return found


def rules_for(dialect: str, constraints: list[str], statuses_and_codes: Iterable[tuple[int, Any]]) -> list[str]:
    """The rules a difference is about: the test's rules whose documented answer is the
    recorded or the new one; else any rule of the catalog documenting that answer (a
    test may meet a refusal it is not about: a fuzz test, a set-up step); else all the
    test's rules."""
    catalog = load_catalog(dialect)
    wanted = {(status, str(code)) for status, code in statuses_and_codes if code is not None}

    def documenting(entries: Iterable[Any]) -> list[str]:
        named = []
        for entry in entries:
            try:
                expected = expected_answer(entry)
            except LookupError:
                continue
            if (expected.status, str(expected.code)) in wanted:
                named.append(entry.id)
        return named

    return (documenting(catalog.by_id[i] for i in constraints) or documenting(catalog.entries)
            or list(constraints))


# -- recorded answers ----------------------------------------------------------------


def _as_response(x: Interaction, url: str) -> requests.Response:
    """A recorded answer as `requests` gives one, to hold it to the contract too."""
    response = requests.Response()
    response.status_code = x.status
    response.headers.update({k: v[0] for k, v in x.response_headers.items()})
    response._content = x.response_body.encode("utf-8")
    response.request = requests.Request(x.method, url).prepare()
    return response


# -- one cassette ------------------------------------------------------------------------


def _tag(interaction: Interaction) -> str:
    for name, value in interaction.request_headers.items():
        if name.lower() in SECRET_HEADERS:
            match = re.fullmatch(r"<redacted (.+)>", value)
            if match:
                return match.group(1)
    return "no-credentials"


def _tag_parts(tag: str) -> tuple[str, bool]:
    """(whose, verified): `tenant-1` -> (tenant-1, True); `tenant-1-wrong-secret` -> (tenant-1, False)."""
    match = re.fullmatch(r"(tenant-\d+|target)(?:-(.+))?", tag)
    if not match:
        return tag, False
    return match.group(1), match.group(2) is None


class CassetteReplay:
    def __init__(self, target: Target, recorded_target: dict[str, Any], path: Path):
        self.target = target
        self.dialect = target.dialect
        self.path = path
        self.meta, self.interactions = read_cassette(path)
        self.ids = Identifiers(self._fixture_ids(recorded_target))
        self.nonces: dict[str, str] = {}  # a recorded nonce's placeholder -> the fresh one sent
        self.tenants: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        if target.mode == "static":
            self.tenants["target"] = (dict(target.auth), dict(target.scope))
        self.control = requests.Session()
        self.api = ApiClient(self.dialect, target.base_url, target.scope, signing.NoAuth())
        self.result = CassetteResult(path, self.meta)

    def _fixture_ids(self, recorded_target: dict[str, Any]) -> dict[str, str]:
        """A static target's fixtures stand in for the recorded ones, role by role."""
        mapped = {}
        for role, ids in (recorded_target.get("fixtures") or {}).items():
            for recorded, own in zip(ids, self.target.fixtures.get(role, [])):
                mapped[recorded] = own
        for key, value in (recorded_target.get("scope") or {}).items():
            if self.target.scope.get(key) and value != self.target.scope[key]:
                mapped[value] = self.target.scope[key]
        return mapped

    def run(self) -> CassetteResult:
        started = time.monotonic()
        try:
            for number, interaction in enumerate(self.interactions, 1):
                self.result.interactions = number
                if interaction.control:
                    self._control(number, interaction)
                else:
                    self._call(number, interaction)
        except CannotReplay as reason:
            self.result.not_replayable = str(reason)
        except Unreachable as error:  # the target stopped answering: that is a difference too
            self.result.differences.append(Difference(self.meta.get("test", self.path.name), self.result.interactions,
                                                      "", list(self.meta.get("constraints") or []), str(error)))
        finally:
            self.result.duration_s = time.monotonic() - started
        return self.result

    def _differ(self, number: int, x: Interaction, findings: list[Finding], live_status: int, live_body: Any,
                outline: bool = False) -> None:
        """The findings of one interaction, as one breaking and one additive difference at most.
        Breaking ones on the API (or on an extension's read) fail their rules; those on the
        outline's control calls and additive ones are reported and fail nothing."""
        recorded_body = x.response_json()
        answers = [(x.status, error_of(self.dialect, recorded_body)[0] if recorded_body is not None else None),
                   (live_status, error_of(self.dialect, live_body)[0] if live_body is not None else None)]
        where = urlsplit(x.uri)
        request = f"{x.method} {'control ' if x.control else ''}{where.path}"
        for severity in (BREAKING, ADDITIVE):
            problems = [f.what for f in findings if f.severity == severity]
            if not problems:
                continue
            rules = rules_for(self.dialect, self.meta.get("constraints") or [], answers)
            shown = problems[:SHOWN_DIFFERENCES] + ([f"… and {len(problems) - SHOWN_DIFFERENCES} more"]
                                                   if len(problems) > SHOWN_DIFFERENCES else [])
            difference = Difference(self.meta.get("test", self.path.name), number, request, rules, "; ".join(shown),
                                    CONTROL if x.control else API, severity)
            kept = (self.result.control if outline else self.result.additive if severity == ADDITIVE
                    else self.result.differences)
            kept.append(difference)

    # control protocol ---------------------------------------------------------------
    def _control(self, number: int, x: Interaction) -> None:
        if self.target.control_url is None:
            raise CannotReplay("it provisions through the control protocol, which a static target has not")
        where = urlsplit(x.uri)
        url = self.target.control_url + self.ids.apply(where.path) + (
            "?" + self.ids.apply(where.query) if where.query else "")
        headers = {k: v for k, v in x.request_headers.items() if k.lower() not in RESENT_WITHOUT}
        try:
            response = self.control.request(x.method, url, data=self.ids.apply(x.request_body).encode("utf-8") or None,
                                            headers=headers, timeout=CONTROL_TIMEOUT_S)
        except requests.RequestException as error:
            raise Unreachable(f"control protocol {x.method} {url}: no answer ({error.__class__.__name__})") from None
        recorded_body, live_body = x.response_json(), _json_of(response.text)
        if x.method.upper() == "GET" and (where.path.rstrip("/") or "/") == "/":
            return  # what the mock says of itself (dialects, extensions): no state to compare
        members = outline_members(x.method, where.path)
        if members is None and response.status_code in NOT_SERVED and x.status not in NOT_SERVED:
            self.result.extensions_not_served.append(f"{x.method} {where.path}")
            return  # an extension this target does not offer: nothing observed, nothing differs
        if members is not None and x.status < 300 and response.status_code >= 300:
            raise CannotReplay(f"control protocol {x.method} {where.path} answered {response.status_code} where "
                               f"the recording had {x.status}: the set-up could not be made again")
        self._learn_tenant(recorded_body, live_body)
        self.ids.learn(recorded_body, live_body)
        findings = [] if x.status == response.status_code else [
            Finding(f"control protocol status: recorded {x.status}, got {response.status_code}", BREAKING)]
        if members is not None:  # the outline's members only: more are allowed
            findings += [Finding(f"control answer /{m}: required by the outline, missing now", BREAKING)
                         for m in members if isinstance(recorded_body, dict) and m in recorded_body
                         and not (isinstance(live_body, dict) and m in live_body)]
        elif recorded_body is not None or live_body is not None:  # an extension's read: what it observes
            findings += [Finding(f"control answer {f.what}", f.severity)
                         for f in shape_differences(recorded_body, live_body) if f.severity == BREAKING]
        self._differ(number, x, findings, response.status_code, None, outline=members is not None)

    def _learn_tenant(self, recorded: Any, live: Any) -> None:
        if not (isinstance(recorded, dict) and isinstance(live, dict) and isinstance(live.get("auth"), dict)):
            return
        label = re.sub(r"-(access-key|token|secret-key)$", "", next(
            (v for k, v in recorded.get("auth", {}).items() if k != "scheme"), "tenant-?"))
        self.tenants[label] = (dict(live["auth"]), dict(live.get("scope") or {}))
        for key, value in (recorded.get("scope") or {}).items():  # regions too: another target's
            if key in live.get("scope", {}) and value != live["scope"][key]:
                self.ids.add(value, live["scope"][key])

    # API calls ------------------------------------------------------------------------
    def _credentials(self, tag: str) -> requests.auth.AuthBase:
        if tag == "no-credentials":
            return signing.NoAuth()
        whose, verified = _tag_parts(tag)
        if whose not in self.tenants:
            first = next(iter(self.tenants.values()), None)
            if tag != "unknown-credentials" or first is None:
                raise CannotReplay(f"it was signed as {tag}, and this target has no such credentials")
            auth, scope = first
            unknown = {k: (v if k == "scheme" else f"imagecert-unknown-{v}") for k, v in auth.items()}
            return auth_for(unknown, scope)
        auth, scope = self.tenants[whose]
        return auth_for(auth if verified else wrong_secret(auth), scope)

    def _call(self, number: int, x: Interaction) -> None:
        where = urlsplit(x.uri)
        query = [(k, self.ids.apply(v)) for k, v in parse_qsl(where.query, keep_blank_values=True)
                 if k.lower() not in SECRET_QUERY_PARAMS | VOLATILE_QUERY_PARAMS]
        url = self.target.base_url + self.ids.apply(where.path) + ("?" + urlencode(query) if query else "")
        headers = {k: self.ids.apply(v) for k, v in x.request_headers.items() if k.lower() not in RESENT_WITHOUT}
        # a recorded nonce goes out fresh, the same fresh one wherever the recording used one nonce again
        headers.update({k: self.nonces.setdefault(v, uuid.uuid4().hex) for k, v in x.request_headers.items()
                        if k.lower() in NONCE_HEADERS})
        body = self.ids.apply(x.request_body).encode("utf-8") or None
        response = self.api.send(x.method, url, data=body, headers=headers, auth=self._credentials(_tag(x)))
        recorded_body, live_body = x.response_json(), _json_of(response.text)
        self.ids.learn(recorded_body, live_body)
        for name, values in x.response_headers.items():
            if name.lower() == "location" and response.headers.get(name):
                self.ids.learn_url(values[0], response.headers[name])
        findings = answer_differences(self.dialect, x, response.status_code, live_body, recorded_body)
        if find_operation(self.dialect, x.method, url) and not schema_problems(self.dialect, _as_response(x, url)):
            # the contract's word only where there is an operation, and the recording kept to it
            findings += [Finding(f"against the contract: {p}", BREAKING) for p in schema_problems(self.dialect, response)]
        if any(f.severity == BREAKING for f in findings):
            self.result.exchanges.append(self.api.exchanges[-1].as_dict())
        self._differ(number, x, findings, response.status_code, live_body)


# -- a whole run -----------------------------------------------------------------------


def cassettes_of(directory: Path, dialect: str) -> tuple[list[Path], dict[str, Any]]:
    """The cassettes of a dialect under `directory` (the cassettes root or the dialect's
    own folder) and the description of the target they were recorded from."""
    folder = directory / dialect if (directory / dialect).is_dir() else directory
    description_path = folder / TARGET_FILE
    description = yaml.safe_load(description_path.read_text("utf-8")) if description_path.is_file() else {}
    if description.get("dialect", dialect) != dialect:
        return [], description
    found = sorted(p for p in folder.rglob("*.yaml") if p.name != TARGET_FILE and not p.name.startswith("."))
    return found, description


def outcomes(results: list[CassetteResult], dialect: str) -> dict[str, dict[str, Any]]:
    """One outcome per (cassette, rule), so that a difference fails only the rules it is about."""
    found = {}
    for result in results:
        test = result.meta.get("test", result.path.name)
        failing = {rule for d in result.differences for rule in d.rules}
        own = list(result.meta.get("constraints") or [])
        for rule in own + sorted(failing - set(own)):
            if result.not_replayable:
                outcome, reason = "not_verified", f"not replayed: {result.not_replayable}"
            elif rule in failing:
                outcome = "failed"
                reason = "replay differs from the recording:\n" + "\n".join(
                    d.line() for d in result.differences if rule in d.rules)
            else:
                outcome, reason = "passed", None
            nodeid = f"replay::{test}::{rule}"
            found[nodeid] = {"nodeid": nodeid, "dialect": dialect, "constraints": [rule], "outcome": outcome,
                             "reason": reason, "duration_s": result.duration_s,
                             "exchanges": result.exchanges[-2:] if outcome == "failed" else [], "fuzz": None}
    return found


def per_rule(results: list[CassetteResult]) -> dict[str, dict[str, int]]:
    """Per rule: how many breaking and additive API differences, in how many cassettes."""
    summary: dict[str, dict[str, Any]] = {}
    for result in results:
        for difference in result.differences + result.additive:
            for rule in difference.rules:
                row = summary.setdefault(rule, {"breaking": 0, "additive": 0, "cassettes": set()})
                row[difference.severity] += 1
                row["cassettes"].add(str(result.path))
    return {rule: {**row, "cassettes": len(row["cassettes"])} for rule, row in sorted(summary.items())}


def replay(cassette_dir: Path, target: Target, report_dir: Path, out: TextIO | None = None) -> list[CassetteResult]:
    from imagecert.report import write_reports

    out = out or sys.stdout

    paths, description = cassettes_of(cassette_dir, target.dialect)
    started = time.time()
    out.write(f"replaying {len(paths)} cassettes of {target.dialect} against {target.base_url}\n")
    results = []
    shown_at = time.monotonic()
    for number, path in enumerate(paths, 1):
        result = CassetteReplay(target, description, path).run()
        results.append(result)
        for difference in result.differences:
            out.write(f"  DIFFERS {difference.line()}\n")
        if time.monotonic() - shown_at > PROGRESS_EVERY_S or number == len(paths):
            shown_at = time.monotonic()
            out.write(f"  progress: {number}/{len(paths)} cassettes, "
                      f"{sum(1 for r in results if r.differences)} with breaking differences\n")
        out.flush()
    written = write_reports(report_dir, outcomes(results, target.dialect), {target.dialect: target},
                            profile="core", ims_document=None,
                            started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                            duration_s=time.time() - started)
    listing = {
        "dialect": target.dialect,
        "target": target.public(),
        "cassettes": len(results),
        "interactions": sum(r.interactions for r in results),
        "not_replayable": {r.meta.get("test", r.path.name): r.not_replayable for r in results if r.not_replayable},
        "differences": [asdict(d) for r in results for d in r.differences],
        "additive": [asdict(d) for r in results for d in r.additive],
        "control": [asdict(d) for r in results for d in r.control],
        "extensions_not_served": sorted({c for r in results for c in r.extensions_not_served}),
        "rules": per_rule(results),
    }
    folder = report_dir / target.dialect
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "replay.json").write_text(json.dumps(listing, ensure_ascii=False, indent=2), "utf-8")
    for rule, counts in listing["rules"].items():
        out.write(f"  {rule}: {counts['breaking']} breaking, {counts['additive']} additive "
                  f"in {counts['cassettes']} cassettes\n")
    if listing["control"] or listing["extensions_not_served"]:
        out.write(f"  control protocol: {len(listing['control'])} differences on the outline's calls (fail nothing); "
                  f"extensions not served: {', '.join(listing['extensions_not_served']) or 'none'}\n")
    count = len(listing["differences"])
    out.write(f"{count} breaking difference{'s' if count != 1 else ''} in {sum(1 for r in results if r.differences)} of "
              f"{len(results)} cassettes ({listing['interactions']} requests); "
              f"not replayable: {len(listing['not_replayable'])}; report: {written.get(target.dialect, folder)}\n")
    return results

