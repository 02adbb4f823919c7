"""imagecert's check of an answer, registered with schemathesis (`documented_answer`),
and the list of checks every answer is held to."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure as Failure_
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imagecert.fuzz.oracle import Expected, Oracle
from imagecert.world import World


@dataclass(frozen=True)
class Judging:
    """What `documented_answer` judges: the answer to the request being checked."""

    oracle: Oracle
    world: World
    response: requests.Response
    expected: Expected


JUDGING: ContextVar[Judging | None] = ContextVar("imagecert_judging", default=None)


class ContractAnswer(Failure_):
    """The answer is not the one the contract and the catalog document for the request."""

    code = "IC001"
    kind_title = "Not the documented answer"


@schemathesis.check
def documented_answer(ctx, response, case) -> bool | None:
    """A schema-valid request that breaks no catalog rule accepted as documented; any
    other refused with the documented 4xx, status and code of the catalog rule it breaks
    — the rules the schema's `x-constraint` marks name and the `CatalogRule`s JSON
    Schema cannot say — in the dialect's error body."""
    judging = JUDGING.get()
    if judging is None:
        return True  # a schemathesis run outside imagecert's fuzzer: nothing to judge against
    problems = judging.oracle.judge(judging.world, judging.response, judging.expected)
    if problems:
        raise FailureGroup([ContractAnswer(operation=case.operation.label, title=ContractAnswer.kind_title,
                                           message=p, case_id=case.id) for p in problems])
    return None


# never a 5xx, only documented statuses, content types and response bodies; then imagecert's
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          documented_answer]

