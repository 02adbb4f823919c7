"""The engine: one dialect's operation under test fuzzed in four phases, each request
sent through the target's own signing and its answer judged with schemathesis' checks
and imagecert's."""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import replace
from typing import Any, Callable, Iterable
from weakref import WeakKeyDictionary

import hypothesis
import pytest
import requests
from hypothesis import given, settings
from hypothesis.stateful import run_state_machine_as_test
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup

from imagecert.checks import expect_refusal, expect_success, schema_problems
from imagecert.client import scope_value
from imagecert.contracts import operations, request_pointer, resolve, validator
from imagecert.fuzz.checks import CHECKS, JUDGING, ContractAnswer, Judging
from imagecert.fuzz.dialect import Ambiguity, CatalogRule, Fill, Lifecycle
from imagecert.fuzz.lifecycle import LIFECYCLE_SHARE, LIFECYCLE_STEPS, LifecycleBroken, lifecycle_machine
from imagecert.fuzz.oracle import (
    UNKNOWN_FIELD,
    Expected,
    documents_a_refusal,
    integral_float,
    parse_body,
    rules_broken,
    typed,
    violations,
)
from imagecert.fuzz.regex import memoized_regex_strategies
from imagecert.fuzz.run import Failure, Run, curl_line, fuzz_settings, phase_seed, phase_settings
from imagecert.fuzz.schema import constraint_ids_in, load_schema, security_headers, under_test
from imagecert.fuzz.wire import FORM, Outgoing, Provisioned, as_bytes, set_present, wire_body
from imagecert.world import World, not_verified


class Fuzzer:
    """Fuzzing of one dialect's operation under test (see the module docstring)."""

    def __init__(self, dialect: str, fills: Iterable[Fill] = (), rules: Iterable[CatalogRule] = (),
                 lifecycle: Lifecycle | None = None, operation_id: str | None = None,
                 malformed_rule: str | None = None, empty_body_rule: str | None = None,
                 ambiguities: Iterable[Ambiguity] = ()):
        """`malformed_rule`: the catalog rule that refuses a body the contract's marks
        name no rule for (unreadable, a wrong type, an unknown key); `empty_body_rule`:
        the one that refuses a missing body (default: the malformed rule). Without them
        any documented 4xx with the dialect's error body will do."""
        self.dialect = dialect
        self.malformed_rule = malformed_rule
        self.empty_body_rule = empty_body_rule or malformed_rule
        self.operation_id = operation_id or under_test(dialect)
        self.fills = tuple(fills)
        self.rules = tuple(rules)
        self.ambiguities = tuple(ambiguities)
        self.lifecycle = lifecycle
        self._parameters: list[dict[str, Any]] | None = None
        self._parameter_validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._reusable: "WeakKeyDictionary[World, dict[tuple[str, str], Any]]" = WeakKeyDictionary()
        self.operation = operations(dialect)[self.operation_id]

    # markers -------------------------------------------------------------------
    def schema_rule_ids(self) -> list[str]:
        """The catalog ids the request schema carries: what the negative phases exercise."""
        return constraint_ids_in(self.dialect, self.operation.spec.get("requestBody", {}))

    def catalog_rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.rules]

    # schemathesis --------------------------------------------------------------
    @property
    def st_operation(self):
        return load_schema(self.dialect).find_operation_by_id(self.operation_id)

    def _path_parameters(self, world: World, made: "Provisioned") -> dict[str, Any]:
        """Every path parameter: provisioned, else from the scope."""
        found = {}
        for name in re.findall(r"\{([^}]+)\}", self.operation.path):
            if ("path", name) in made:
                found[name] = made.value(("path", name))
            elif scope_value(world.scope, name) is not None:
                found[name] = scope_value(world.scope, name)
        return found

    def _provision(self, world: World) -> "Provisioned":
        """Fresh fills for a request (or a set of requests); the reusable ones kept per
        test (per World): made at most once in it, whatever phase asks."""
        return Provisioned(world, self.fills, self._reusable.setdefault(world, {}))

    def strategy(self, mode: GenerationMode, world: World):
        """Cases of the operation. What the fills and the scope decide (path parameters,
        the scope's query parameters, signing and filled headers) is given, not
        generated, so a negative case is never one whose only mistake is overwritten."""
        path = {name: "filled" for name in re.findall(r"\{([^}]+)\}", self.operation.path)}
        query = {p["name"]: scope_value(world.scope, p["name"]) for p in self._declared_parameters()
                 if p["in"] == "query" and scope_value(world.scope, p["name"]) is not None}
        headers = {name: "signed" for name in security_headers(self.dialect)}
        headers.update({f.name: "filled" for f in self.fills if f.location == "header"})
        return self.st_operation.as_strategy(mode, path_parameters=path, query=query or None, headers=headers)

    def _fill(self, case, made: "Provisioned", world: World) -> None:
        case.path_parameters = {**case.path_parameters, **self._path_parameters(world, made)}
        for parameter in self._declared_parameters():  # the scope's region or project, as the client sends it
            if parameter["in"] == "query" and scope_value(world.scope, parameter["name"]) is not None:
                case.query = {**(case.query or {}), parameter["name"]: scope_value(world.scope, parameter["name"])}
        if isinstance(case.body, dict) and any(location == "body" for location, _ in made.keys()):
            case.body = deepcopy(case.body)  # generated bodies may share objects with the loaded schema
        for key in made.keys():
            location, name = key
            if location == "header":
                case.headers[name] = made.value(key)
            elif location == "query":
                case.query = {**(case.query or {}), name: made.value(key)}
            elif location == "body" and isinstance(case.body, dict):
                # a form sends every value as text: there a generated number is no wrong type to keep
                set_present(case.body, name, lambda key=key: made.value(key),
                             (object,) if case.media_type == FORM else (str,))

    # one request ---------------------------------------------------------------
    def _request(self, world: World, case) -> "Outgoing":
        """The request a case makes: schemathesis serialises it; the signing headers
        it generated for the security schemes are left to the target's own signing."""
        kwargs = case.as_transport_kwargs(base_url=world.target.base_url)
        declared = {p["name"].lower() for p in self._declared_parameters() if p["in"] == "header"}
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items()
                   if k.lower() == "content-type" or k.lower() in declared}
        body: dict[str, Any] = {}
        if "json" in kwargs:
            body["json"] = kwargs["json"]
        elif isinstance(kwargs.get("data"), dict):
            body["form"] = kwargs["data"]
        elif kwargs.get("data") is not None:
            body["data"] = kwargs["data"]
        query = kwargs.get("params") or None
        prepared = requests.Request(kwargs["method"], kwargs["url"], params=query, headers=headers,
                                    json=body.get("json"), data=body.get("form", body.get("data"))).prepare()
        media = (prepared.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return Outgoing(kwargs["method"], kwargs["url"], query, headers, body, as_bytes(prepared.body), media)

    def expectation(self, case, outgoing: "Outgoing", strict: bool = False) -> Expected:
        """Whether the request, as it goes on the wire, is valid by the contract, and the
        rules it breaks. `strict`: the strict profile, which also holds the target to
        what no document says (refusing unknown fields)."""
        broken = self._parameter_problems(case)
        if broken:
            return Expected(False, "; ".join(broken), any_refusal=True)
        request_body = resolve(self.dialect, self.operation.spec.get("requestBody") or {})
        if not request_body:
            return self._catalog_expectation(None)
        content = request_body.get("content", {})
        if not outgoing.body and set(content) == {FORM}:
            outgoing = replace(outgoing, media=FORM)  # an empty form is a form without fields
        elif not outgoing.body.strip():
            if outgoing.body:  # only whitespace: empty to one reader, unreadable to another
                return Expected(False, "the body is only whitespace", tuple(
                    dict.fromkeys(r for r in (self.empty_body_rule, self.malformed_rule) if r)),
                    any_refusal=not self.malformed_rule)
            if request_body.get("required"):
                return self._refusal("the required request body is missing", self.empty_body_rule)
            return self._catalog_expectation(None)
        if outgoing.media not in content:
            return Expected(False, f"content type {outgoing.media or '(none)'} is undocumented: "
                                   "accepted or refused as documented, never anything else", either=True)
        pointer = request_pointer(self.dialect, self.operation_id, outgoing.media)
        data = parse_body(outgoing.body, outgoing.media, resolve(self.dialect, content[outgoing.media]["schema"]))
        if data is NOT_SET:
            return self._refusal(f"the body is not a readable {outgoing.media} (each field once)", self.malformed_rule)
        check = validator(self.dialect, pointer)
        errors = list(check.iter_errors(data))
        if not errors:
            return self._catalog_expectation(data)
        malformed = (self.malformed_rule,) if self.malformed_rule else ()
        unknown = [e for e in errors if e.validator in UNKNOWN_FIELD]
        refusing_unknown: list[str] = []  # core: a target may refuse an unknown field too, as documented
        if unknown and not strict:  # no document says an unknown field is refused: strict profile only
            errors = [e for e in errors if e.validator not in UNKNOWN_FIELD]
            if not errors:
                caught = self._catalog_expectation(data)
                return caught if not caught.accepted else Expected(
                    False, "an unknown field (no document says it is refused): accepted or refused as "
                           "documented", either=True)
            refusing_unknown = [r for e in unknown for r in (rules_broken(self.dialect, check.schema, e) or malformed)]
        # a wrong type breaks the field's rule to one reader and makes the body malformed to another
        marked = [(rules_broken(self.dialect, check.schema, e) + (malformed if e.validator == "type" else ()))
                  or malformed for e in errors]
        rules = [r for found in marked for r in found] + list(self._catalog_rules_broken(data)) + refusing_unknown
        why = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:100]}" for e in errors[:3])
        return Expected(False, f"schema-invalid ({why})", tuple(dict.fromkeys(rules)),
                        any_refusal=any(not found for found in marked))

    @staticmethod
    def _refusal(why: str, rule_id: str | None) -> Expected:
        return Expected(False, why, (rule_id,)) if rule_id else Expected(False, why, any_refusal=True)

    def _parameter_problems(self, case) -> list[str]:
        """How the query and header parameters break their schemas (as strings on the
        wire; the signing headers are the target's own business)."""
        problems = []
        for parameter in self._declared_parameters():
            sent = (case.query or {}) if parameter["in"] == "query" else case.headers
            value = sent.get(parameter["name"])
            if value is None:
                if parameter.get("required"):
                    problems.append(f"the required {parameter['in']} parameter {parameter['name']} is missing")
                continue
            schema = resolve(self.dialect, parameter.get("schema") or {})
            key = (parameter["in"], parameter["name"])
            if key not in self._parameter_validators:  # built once per run, not per request
                self._parameter_validators[key] = Draft202012Validator(schema)
            if not self._parameter_validators[key].is_valid(typed(value, schema)):
                problems.append(f"the {parameter['in']} parameter {parameter['name']}={value!r} breaks its schema")
        return problems

    def _declared_parameters(self) -> list[dict[str, Any]]:
        """The query and header parameters the contract declares (the signing headers
        left to the target's signing); the same for every request: worked out once."""
        if self._parameters is None:
            self._parameters = self._find_declared_parameters()
        return self._parameters

    def _find_declared_parameters(self) -> list[dict[str, Any]]:
        signing = security_headers(self.dialect)
        found = []
        for parameter in self.operation.spec.get("parameters") or []:
            parameter = resolve(self.dialect, parameter)
            if parameter["in"] == "query" or (parameter["in"] == "header" and parameter["name"].lower() not in signing):
                found.append(parameter)
        return found

    def _catalog_rules_broken(self, data: Any) -> tuple[str, ...]:
        broken = []
        for catalog_rule in self.rules:
            try:
                if catalog_rule.broken_by(data):
                    broken.append(catalog_rule.rule_id)
            except (TypeError, AttributeError, KeyError, ValueError):
                pass  # a schema-invalid body may not have the shape the rule reads
        return tuple(broken)

    def _catalog_expectation(self, data: Any) -> Expected:
        broken = self._catalog_rules_broken(data)
        if broken:
            return Expected(False, f"schema-valid but breaks {', '.join(broken)}", broken)
        ambiguous = [a.entry_id for a in self.ambiguities if a.applies(data)] + (
            ["an integer field given a whole number with a fraction part (472377.0)"] if integral_float(data) else [])
        if ambiguous:
            return Expected(False, f"ambiguous ({', '.join(ambiguous)}): accepted or refused as documented, "
                                   "never sent as a valid request", either=True)
        return Expected(True, "schema-valid: accepted")

    def judge(self, world: World, response: requests.Response, expected: Expected) -> list[str]:
        """How the answer breaks the contract; empty when it is as documented."""
        api = world.api
        if expected.accepted or (expected.either and 200 <= response.status_code < 300):
            return violations(lambda: expect_success(api, response))
        if expected.either and 400 <= response.status_code < 500:
            return schema_problems(self.dialect, response, self.operation_id)
        if 200 <= response.status_code < 300:
            return [f"a request that must be refused was accepted with HTTP {response.status_code}"]
        tried = []
        for rule_id in expected.rules:  # the first rule the refusal matches is enough
            problems = violations(lambda r=rule_id: expect_refusal(api, response, r))
            if not problems:
                return []
            tried.append(problems)
        if expected.any_refusal and 400 <= response.status_code < 500:
            return schema_problems(self.dialect, response, self.operation_id)
        if not tried:
            return [f"expected a documented 4xx, got HTTP {response.status_code}"]
        return list(dict.fromkeys(p for problems in tried for p in problems))[:4]

    def prepare(self, world: World, case, made: "Provisioned") -> tuple["Outgoing", Expected]:
        self._fill(case, made, world)
        outgoing = self._request(world, case)
        return outgoing, self.expectation(case, outgoing, strict=world.option("profile") == "strict")

    def exercise(self, world: World, case, outgoing: "Outgoing", expected: Expected, phase: str,
                 run: "Run") -> requests.Response:
        """Send one request; judge the answer with schemathesis' checks, imagecert's among them."""
        response = world.api.send(outgoing.method, outgoing.url, query=outgoing.query,
                                  headers=outgoing.headers, **outgoing.kwargs)
        run.examples += 1
        judging = JUDGING.set(Judging(self, world, response, expected))
        try:
            problems = self._schemathesis_problems(case, response)
        finally:
            JUDGING.reset(judging)
        if problems:
            exchange = world.api.exchanges[-1]
            run.fail(Failure(phase, run.seed, expected.why, list(dict.fromkeys(problems)), response.status_code,
                             curl_line(exchange, outgoing.body), exchange.show(),
                             self.attribute(world, response, expected)))
        return response

    def attribute(self, world: World, response: requests.Response, expected: Expected) -> tuple[str, ...]:
        """The rules a failing answer breaks: those the request broke when it had to be
        refused; when it had to be accepted, those whose documented refusal the target
        gave (it enforced them where they do not apply). Empty when neither is known."""
        if not expected.accepted:
            return expected.rules
        claimed = [r for r in self.schema_rule_ids() + self.catalog_rule_ids()
                   if documents_a_refusal(world.api.dialect, r)
                   and not violations(lambda r=r: expect_refusal(world.api, response, r))]
        return tuple(claimed)

    @staticmethod
    def _schemathesis_problems(case, response: requests.Response) -> list[str]:
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            return [f.message if isinstance(f, ContractAnswer) else
                    f"{f.title}: {f.message.splitlines()[0] if f.message else ''}".rstrip(": ") for f in group.exceptions]
        return []

    # phases --------------------------------------------------------------------
    def check_examples_and_boundaries(self, world: World, node: pytest.Item) -> None:
        """The contract's own examples (and the catalog rules' probes made from them),
        then schemathesis' coverage phase: each documented limit just under, at and
        over, each keyword broken once."""
        run = Run(node, None)
        with run, memoized_regex_strategies():
            if self._replayed(world, node, "examples", run) is not None:
                return
            shared = self._provision(world)
            for case in self._contract_examples():
                example = deepcopy(case.body)
                self._exercise_case(world, case, "examples", run, shared)
                for catalog_rule in self.rules:  # `rule` is hypothesis' stateful decorator here
                    for probe in catalog_rule.probes(deepcopy(example)):
                        probe_case = self.st_operation.Case(body=probe, media_type=case.media_type, path_parameters={})
                        self._exercise_case(world, probe_case, f"catalog {catalog_rule.rule_id}", run, shared)
            schema = load_schema(self.dialect)
            op = self.st_operation
            config = schema.config.generation_for(operation=op, phase="coverage")
            for case in schema.iter_coverage_cases(op, generation_modes=list(GenerationMode), generation_config=config):
                self._exercise_case(world, case, "coverage", run, shared)

    def check_valid_requests(self, world: World, node: pytest.Item) -> None:
        """Generated schema-valid requests, each against freshly provisioned resources
        (static mode: the leased ones, idle again, within the image budget)."""
        if world.max_images == 0:
            not_verified("every accepted request makes an image, and the target file's "
                         "[provisioning] max_images is 0")
        run = Run(node, phase_seed(node, "positive"))
        with run, memoized_regex_strategies():
            @phase_settings(node, run.seed, cap=world.max_images)
            @given(case=self.strategy(GenerationMode.POSITIVE, world))
            def valid_request(case):
                if run.stopped or not run.may_make_image(world):
                    return
                outgoing, expected = self.prepare(world, case, self._provision(world))
                if expected.either:
                    return  # ambiguous: a valid request only by some reading of the documents
                self._answered(world, self.exercise(world, case, outgoing, expected, "positive", run), run)

            if self._replayed(world, node, "positive", run) is None:
                valid_request()

    def check_invalid_requests(self, world: World, node: pytest.Item) -> None:
        """Generated schema-invalid requests, against one set of provisioned resources
        (a refused request changes nothing; the image count is checked after)."""
        run = Run(node, phase_seed(node, "negative"))
        with run, memoized_regex_strategies():
            made = self._provision(world)
            accepted: list[bool] = []
            before = world.resources("image")

            @phase_settings(node, run.seed)
            @given(case=self.strategy(GenerationMode.NEGATIVE, world))
            def invalid_request(case):
                # a generated mistake the wire mends (a number sent as form text, an
                # identifier filled) leaves a valid request: it is tested as one
                response = self._exercise_case(world, case, "negative", run, made)
                accepted.append(response is not None and 200 <= response.status_code < 300)

            if self._replayed(world, node, "negative", run, accepted) is None:
                invalid_request()
            after = world.resources("image")
            if before is not None and after is not None and len(after) - len(before) != sum(accepted):
                run.problem("negative", f"{sum(accepted)} accepted requests made {len(after) - len(before)} image(s): "
                                        "a refused request made one")

    def check_lifecycle(self, world: World, node: pytest.Item) -> None:
        """A state machine: create (a generated valid request), settle and follow the
        job to its end, read the image, delete it, read it again (gone)."""
        if self.lifecycle is None:
            raise LookupError(f"the {self.dialect} fuzz suite gives no Lifecycle")
        if not world.controlled:
            not_verified("the stateful phase makes images and settles their jobs: it needs the control protocol")
        run = Run(node, phase_seed(node, "stateful"))
        with run, memoized_regex_strategies():
            machine = lifecycle_machine(self, world, run, self._valid_requests(world, node, run.seed))
            try:
                run_state_machine_as_test(hypothesis.seed(run.seed)(machine),
                                          settings=settings(fuzz_settings(node, LIFECYCLE_SHARE),
                                                            stateful_step_count=LIFECYCLE_STEPS))
            except* LifecycleBroken:
                pass  # recorded by the step that found it

    def _replayed(self, world: World, node: pytest.Item, phase: str, run: "Run",
                  accepted: list[bool] | None = None) -> list[requests.Response] | None:
        """On an offline replay (`--replay`), the phase's requests as its cassette recorded
        them, sent again in their order and judged as now, instead of generating them anew
        (hypothesis would only draw what the cassette already holds); None when not replaying."""
        from imagecert.cassettes.player import recorded_requests

        recorded = recorded_requests(node, self.operation.method, self.operation.path, world.target.base_url)
        if recorded is None:
            return None
        declared = {p["name"].lower() for p in self._declared_parameters() if p["in"] == "header"}
        answers = []
        for sent in recorded:
            headers = {k: v for k, v in sent.headers.items() if k.lower() == "content-type" or k.lower() in declared}
            outgoing = Outgoing(sent.method, sent.url, None, headers, {"data": sent.body} if sent.body else {},
                                sent.body, sent.media)
            case = self.st_operation.Case(body=wire_body(sent.body, sent.media), media_type=sent.media or None,
                                          query=dict(sent.query), headers=dict(headers),
                                          path_parameters=dict(sent.path_parameters))
            expected = self.expectation(case, outgoing, strict=world.option("profile") == "strict")
            response = self.exercise(world, case, outgoing, expected, phase, run)
            if accepted is not None:
                accepted.append(200 <= response.status_code < 300)
            answers.append(response)
        return answers

    # helpers -------------------------------------------------------------------
    def _valid_requests(self, world: World, node: pytest.Item, seed: int) -> list[Callable[[], Any]]:
        """Generated valid requests, drawn before the state machine runs: a draw that
        schemathesis rejects half-way would throw away a run whose requests were sent."""
        drawn: list[Callable[[], Any]] = []

        @settings(fuzz_settings(node, LIFECYCLE_SHARE * LIFECYCLE_STEPS))
        @hypothesis.seed(seed)
        @given(case=self.strategy(GenerationMode.POSITIVE, world))
        def draw(case):
            body, media, query = deepcopy(case.body), case.media_type, dict(case.query or {})
            headers = dict(case.headers or {})
            drawn.append(lambda: self.st_operation.Case(body=deepcopy(body), media_type=media, query=dict(query),
                                                        headers=dict(headers), path_parameters={}))

        from imagecert.cassettes.player import kept_draws

        def keep(case) -> dict[str, Any]:
            return {"media": case.media_type, "query": dict(case.query or {}), "headers": dict(case.headers or {}),
                    **({} if case.body is NOT_SET else {"body": case.body})}

        def again(kept: dict[str, Any]):
            return lambda: self.st_operation.Case(body=deepcopy(kept.get("body", NOT_SET)), media_type=kept["media"],
                                                  query=dict(kept["query"]), headers=dict(kept["headers"]),
                                                  path_parameters={})

        # a recording keeps what was drawn in the cassette, and its replay draws nothing
        return kept_draws(node, draw, drawn, keep, again)

    def _exercise_case(self, world: World, case, phase: str, run: "Run",
                       shared: "Provisioned") -> requests.Response | None:
        """A request the target may accept gets fresh resources (accepting uses them up);
        in static mode only within the image budget (`World.max_images`)."""
        if run.stopped:
            return None
        outgoing, expected = self.prepare(world, case, shared)
        if expected.accepted or expected.either:
            if not run.may_make_image(world):
                return None
            outgoing, expected = self.prepare(world, case, self._provision(world))
        response = self.exercise(world, case, outgoing, expected, phase, run)
        self._answered(world, response, run, shared if not expected.accepted else None)
        return response

    def _answered(self, world: World, response: requests.Response, run: "Run",
                  shared: "Provisioned | None" = None) -> None:
        """After an accepted request, what it used is made idle before the next one, so that
        no later answer is a conflict with it: control mode gives the shared resources up
        (the teardown's sweep deletes what they made); static mode waits for the image, deletes
        it and waits for the leased server to be idle again."""
        if not 200 <= response.status_code < 300:
            return
        run.images += 1
        if world.controlled:
            if shared is not None:
                shared.made.clear()
            return
        # the world recorded the create's answer (World.makes_images): waiting ends it and deletes it
        if not world.quiesce():
            run.stop(f"what an accepted request made did not end within [provisioning] idle_timeout_s "
                     f"({world.target.idle_timeout_s:.0f} s): the phase sent nothing more")

    def _contract_examples(self) -> list[Any]:
        body = resolve(self.dialect, self.operation.spec.get("requestBody") or {})
        cases = []
        for media, content in (body.get("content") or {}).items():
            for example in (content.get("examples") or {}).values():
                example = resolve(self.dialect, example)
                if "value" in example:  # a copy: filling identifiers must not touch the loaded contract
                    cases.append(self.st_operation.Case(body=deepcopy(example["value"]), media_type=media,
                                                        path_parameters={}))
        return cases

