"""The engine: one dialect's operation under test fuzzed in four phases, each request
sent through the target's own signing and its answer judged with schemathesis' checks
and imagecert's."""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any, Callable, Iterable
from weakref import WeakKeyDictionary

import hypothesis
import pytest
import requests
from hypothesis import given, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup

from imagecert.client import scope_value
from imagecert.contracts import operations, resolve
from imagecert.fuzz.checks import CHECKS, JUDGING, ContractAnswer, Judging
from imagecert.fuzz.dialect import Ambiguity, CatalogRule, Fill, Lifecycle
from imagecert.fuzz.lifecycle import LIFECYCLE_SHARE, LIFECYCLE_STEPS, LifecycleBroken, lifecycle_machine
from imagecert.fuzz.oracle import Expected, Oracle
from imagecert.fuzz.regex import memoized_regex_strategies
from imagecert.fuzz.run import Failure, Run, curl_line, fuzz_settings, phase_seed, phase_settings
from imagecert.fuzz.schema import declared_parameters, load_schema, security_headers, under_test
from imagecert.fuzz.wire import FORM, Outgoing, Provisioned, as_bytes, set_present, wire_body
from imagecert.world import World, not_verified


class Fuzzer:
    """Fuzzing of one dialect's operation under test (see the module docstring)."""

    def __init__(self, dialect: str, fills: Iterable[Fill] = (), rules: Iterable[CatalogRule] = (),
                 lifecycle: Lifecycle | None = None, operation_id: str | None = None,
                 malformed_rule: str | None = None, empty_body_rule: str | None = None,
                 ambiguities: Iterable[Ambiguity] = ()):
        """`rules`, `ambiguities`, `malformed_rule`, `empty_body_rule`: what the oracle
        needs besides the contract (see `Oracle`)."""
        self.dialect = dialect
        self.operation_id = operation_id or under_test(dialect)
        self.fills = tuple(fills)
        self.lifecycle = lifecycle
        self.parameters = declared_parameters(dialect, self.operation_id)  # the query and header ones
        self.oracle = Oracle(dialect, self.operation_id, rules, ambiguities, malformed_rule, empty_body_rule)
        self._reusable: "WeakKeyDictionary[World, dict[tuple[str, str], Any]]" = WeakKeyDictionary()
        self.operation = operations(dialect)[self.operation_id]

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
        query = {p["name"]: scope_value(world.scope, p["name"]) for p in self.parameters
                 if p["in"] == "query" and scope_value(world.scope, p["name"]) is not None}
        headers = {name: "signed" for name in security_headers(self.dialect)}
        headers.update({f.name: "filled" for f in self.fills if f.location == "header"})
        return self.st_operation.as_strategy(mode, path_parameters=path, query=query or None, headers=headers)

    def _fill(self, case, made: "Provisioned", world: World) -> None:
        case.path_parameters = {**case.path_parameters, **self._path_parameters(world, made)}
        for parameter in self.parameters:  # the scope's region or project, as the client sends it
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
        declared = {p["name"].lower() for p in self.parameters if p["in"] == "header"}
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

    def prepare(self, world: World, case, made: "Provisioned") -> tuple["Outgoing", Expected]:
        self._fill(case, made, world)
        outgoing = self._request(world, case)
        return outgoing, self.oracle.expectation(case, outgoing, strict=world.option("profile") == "strict")

    def exercise(self, world: World, case, outgoing: "Outgoing", expected: Expected, phase: str,
                 run: "Run") -> requests.Response:
        """Send one request; judge the answer with schemathesis' checks, imagecert's among them."""
        response = world.api.send(outgoing.method, outgoing.url, query=outgoing.query,
                                  headers=outgoing.headers, **outgoing.kwargs)
        run.examples += 1
        judging = JUDGING.set(Judging(self.oracle, world, response, expected))
        try:
            problems = self._schemathesis_problems(case, response)
        finally:
            JUDGING.reset(judging)
        if problems:
            exchange = world.api.exchanges[-1]
            run.fail(Failure(phase, run.seed, expected.why, list(dict.fromkeys(problems)), response.status_code,
                             curl_line(exchange, outgoing.body), exchange.show(),
                             self.oracle.attribute(world, response, expected)))
        return response

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
                for catalog_rule in self.oracle.rules:  # `rule` is hypothesis' stateful decorator here
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
        declared = {p["name"].lower() for p in self.parameters if p["in"] == "header"}
        answers = []
        for sent in recorded:
            headers = {k: v for k, v in sent.headers.items() if k.lower() == "content-type" or k.lower() in declared}
            outgoing = Outgoing(sent.method, sent.url, None, headers, {"data": sent.body} if sent.body else {},
                                sent.body, sent.media)
            case = self.st_operation.Case(body=wire_body(sent.body, sent.media), media_type=sent.media or None,
                                          query=dict(sent.query), headers=dict(headers),
                                          path_parameters=dict(sent.path_parameters))
            expected = self.oracle.expectation(case, outgoing, strict=world.option("profile") == "strict")
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

