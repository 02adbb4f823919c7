"""A dialect's four fuzz tests, declared once: `suites/<dialect>/test_fuzz.py` says what
only its dialect knows (a `Fuzzer`), each test's stable id and what the stateful test
proves, and takes the test functions with `globals().update(TESTS.tests())`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from imagecert.fuzz.engine import Fuzzer

# the phases' tests, by the names their node ids (and so their cassettes) carry
EXAMPLES = "test_contract_examples_and_every_limit_just_under_at_and_over"
VALID = "test_generated_valid_requests_are_accepted"
INVALID = "test_generated_invalid_requests_are_refused_as_documented"


@dataclass(frozen=True)
class FuzzTests:
    """`examples`, `valid`, `invalid`, `lifecycle`: each test's stable id (`test_id`);
    `lifecycle_test`: the stateful test's name, `lifecycle_rules` the rules it proves
    (what following an image made checks)."""

    fuzzer: Fuzzer
    examples: str
    valid: str
    invalid: str
    lifecycle: str
    lifecycle_test: str
    lifecycle_rules: tuple[str, ...]

    def tests(self) -> dict[str, Callable[..., None]]:
        """The four test functions by name, each marked with its stable id and its rules."""
        fuzz = self.fuzzer
        schema = fuzz.oracle.schema_rule_ids()
        return dict([
            _test(EXAMPLES, self.examples, schema, fuzz.check_examples_and_boundaries),
            _test(VALID, self.valid, [*schema, *fuzz.oracle.catalog_rule_ids()], fuzz.check_valid_requests),
            _test(INVALID, self.invalid, schema, fuzz.check_invalid_requests),
            _test(self.lifecycle_test, self.lifecycle, list(self.lifecycle_rules), fuzz.check_lifecycle),
        ])


def _test(name: str, test_id: str, rules: list[str], phase: Callable[[Any, pytest.Item], None]):
    def test(world, request):
        phase(world, request.node)

    test.__name__ = test.__qualname__ = name
    test.__doc__ = phase.__doc__
    return name, pytest.mark.test_id(test_id)(pytest.mark.constraint(*rules)(test))
