"""Property-based fuzzing of each dialect's operation under test, driven by its contract.

schemathesis (on hypothesis) reads a dialect's OpenAPI fragment and generates requests
for the operation under test; this package sends each one through the target's own
signing (`world.api`, so every request is signed like a real client's and recorded
for the failure output) and holds the answer to the contract:

* a schema-valid request that breaks no catalog rule must be accepted (a documented
  2xx with a body of the documented shape);
* a schema-invalid one must be refused with a documented 4xx and the dialect's error
  body — with the status and code of the rule its `x-constraint` names when the
  contract names one;
* never a 5xx, an undocumented status, a body that breaks the response schema or a
  content type the contract does not give (schemathesis' own checks).

All of it runs as schemathesis checks on each answer: its built-in ones and
imagecert's `documented_answer`, registered with `schemathesis.check`.

imagecert itself decides what is valid, by validating the body as it went on the wire
against the contract, so that filling an identifier, a form flattening a number or a
generator's mistake can never turn a refusal into a "pass". What JSON Schema cannot say (bytes rather than
characters, a size not smaller than the snapshot's) each dialect hands over as
`CatalogRule`s, and the identifiers that must name a real resource as `Fill`s; the
rest is generic. Phases: the contract's own examples (and the catalog rules' probes
made from them), schemathesis' coverage phase
(values just under, at and over every documented limit, each keyword broken once),
hypothesis-generated positive and negative requests, and a state machine that makes
an image, follows it to its end, reads it and deletes it.

Budget and reproduction: `--fuzz-examples N` (else the hypothesis profile's
`max_examples`: profiles `ci` and `deep`, see the top-level conftest.py), one seed per
phase (`--hypothesis-seed`, else stable in a derandomized profile), every failure shown
with its seed and a `curl` line, and recorded for the report as `imagecert_fuzz`.

One job a module: `dialect` (what a dialect hands in), `schema` (the contract as
schemathesis loads it), `wire` (a case as the request on the wire), `oracle` (what answer
a request deserves: the `Oracle`), `checks` (the schemathesis checks), `regex` (hypothesis' regex
strategies built once), `engine` (the `Fuzzer` and its phases), `lifecycle` (the state
machine), `run` (a phase's bookkeeping and failure output), `suite` (a dialect's four
tests, declared once).
"""

from imagecert.fuzz.dialect import Ambiguity, CatalogRule, Fill, Lifecycle
from imagecert.fuzz.engine import Fuzzer
from imagecert.fuzz.regex import memoized_regex_strategies
from imagecert.fuzz.schema import load_schema, under_test
from imagecert.fuzz.suite import FuzzTests

__all__ = ["Ambiguity", "CatalogRule", "Fill", "FuzzTests", "Fuzzer", "Lifecycle", "load_schema",
           "memoized_regex_strategies", "under_test"]
