"""The stateful phase: a state machine that makes an image with a generated valid
request, follows it to its end, reads it, deletes it and reads it gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, multiple, rule

from imagecert.checks import RuleViolation, expect_success, schema_problems
from imagecert.contracts import operations
from imagecert.fuzz.oracle import problems_of, rules_of, violations
from imagecert.fuzz.run import Failure, Run, curl_line
from imagecert.world import World

if TYPE_CHECKING:
    from imagecert.fuzz.engine import Fuzzer

LIFECYCLE_SHARE = 0.2             # state machine runs per fuzzed example (each runs several steps)
LIFECYCLE_STEPS = 8


class LifecycleBroken(AssertionError):
    """The stateful phase found a failure (already recorded); stop the machine."""


def lifecycle_machine(fuzzer: Fuzzer, world: World, run: "Run", requests_drawn: list[Callable[[], Any]]):
    lifecycle = fuzzer.lifecycle
    assert lifecycle is not None
    cleanup = cleanup_operation(fuzzer.dialect)

    def failed(step: str, problems: list[str], rules: tuple[str, ...] = ()) -> None:
        exchange = world.api.exchanges[-1]
        run.fail(Failure("stateful", run.seed, step, problems, exchange.status, curl_line(exchange, None),
                         exchange.show(), rules))
        raise LifecycleBroken(step)

    class ImageLifecycle(RuleBasedStateMachine):
        made = Bundle("made")
        images = Bundle("images")

        @rule(target=made, which=st.integers(0, len(requests_drawn) - 1))
        def create(self, which):
            case = requests_drawn[which]()
            outgoing, expected = fuzzer.prepare(world, case, fuzzer._provision(world))
            if expected.either:
                return multiple()  # ambiguous: not a valid request by every reading
            failures_before = len(run.failures)
            response = fuzzer.exercise(world, case, outgoing, expected, "stateful", run)
            if len(run.failures) > failures_before:
                raise LifecycleBroken("create")
            return response if expected.accepted else multiple()

        @rule(target=images, created=consumes(made))
        def follow_to_its_end(self, created):
            world.settle()
            try:
                image_id = lifecycle.image_of(world, created)
            except RuleViolation as error:
                failed("the job of an accepted create ends with an image", problems_of(error), rules_of(error))
            world.made_image(image_id)
            self._read(image_id)
            return image_id

        @rule(image=images)
        def read(self, image):
            self._read(image)

        @rule(image=consumes(images))
        def delete(self, image):
            where = {cleanup.name: image, **cleanup.scope(world)}
            response = world.api.call(cleanup.operation_id, **{cleanup.where: where})
            run.examples += 1
            problems = violations(lambda: expect_success(world.api, response))
            if problems:
                failed(f"deleting the image made ({image}) succeeds", problems)
            gone = lifecycle.read(world, image)
            run.examples += 1
            problems = schema_problems(fuzzer.dialect, gone)
            if lifecycle.gone is not None:
                problems += [] if lifecycle.gone(gone) else [f"it still reads as there (HTTP {gone.status_code})"]
            elif not 400 <= gone.status_code < 500:
                problems.append(f"expected a documented 4xx, got HTTP {gone.status_code}")
            if problems:
                failed(f"a deleted image ({image}) reads as gone", problems)

        def _read(self, image_id: str) -> None:
            response = lifecycle.read(world, image_id)
            run.examples += 1
            problems = violations(lambda: expect_success(world.api, response))
            if not problems and not lifecycle.ready(response.json()):
                problems = ["the image made is not ready once its job ended"]
            if problems:
                failed(f"the image made ({image_id}) reads as ready", problems)

    return ImageLifecycle


@dataclass(frozen=True)
class Cleanup:
    operation_id: str
    where: str
    name: str
    scope_keys: dict[str, str]

    def scope(self, world: World) -> dict[str, str]:
        return {name: world.scope.get(key) for name, key in self.scope_keys.items()}


def cleanup_operation(dialect: str) -> Cleanup:
    for op in operations(dialect).values():
        how = op.spec.get("x-imagecert-cleanup")
        if how:
            return Cleanup(op.operation_id, how["in"], how["name"], dict(how.get("scope") or {}))
    raise LookupError(f"the {dialect} contract marks no x-imagecert-cleanup operation")

