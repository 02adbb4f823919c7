"""One phase's bookkeeping: its examples and distinct failures (each with its seed and a
`curl` line), recorded on the test item as `imagecert_fuzz` and raised as one pytest
failure; the phase's seed and hypothesis settings."""

from __future__ import annotations

import importlib
import random
import re
import shlex
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, settings

from imagecert.checks import RuleViolation
from imagecert.client import Exchange
from imagecert.secrets import redact_body
from imagecert.world import World

FUZZ_PROPERTY = "imagecert_fuzz"  # the test item's user property the report reads
SHOWN_FAILURES = 8                # per test: the first distinct failures are enough to act on


@dataclass
class Failure:
    phase: str
    seed: int | None
    expected: str
    problems: list[str]
    status: int | None
    curl: str
    exchange: str
    rules: tuple[str, ...] = ()   # the rules the target broke; empty: unknown, every rule of the test

    def key(self) -> tuple[str, ...]:
        # distinct failures: the same problem on another generated value is the same failure
        return (self.phase, *(re.sub(r"\d+|'[^']*'", "#", p)[:120] for p in self.problems))

    def show(self) -> str:
        seed = (f"seed {self.seed} (rerun with --hypothesis-seed {self.seed})" if self.seed is not None
                else "no seed: this phase sends the same requests every run")
        lines = "".join(f"    - {p}\n" for p in self.problems)
        broke = f"    rule(s) broken: {', '.join(self.rules)}\n" if self.rules else ""
        return (f"[{self.phase}, {seed}] expected: {self.expected}\n{lines}{broke}"
                f"    reproduce (credentials redacted, sign it again): {self.curl}\n")

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "seed": self.seed, "expected": self.expected, "problems": self.problems,
                "status": self.status, "curl": self.curl, "exchange": self.exchange, "rules": list(self.rules)}


def curl_line(exchange: Exchange, body: bytes | None) -> str:
    """A curl command that sends the request again, secrets already redacted in `exchange`."""
    parts = ["curl", "-X", exchange.method, shlex.quote(exchange.url)]
    for name, value in exchange.request_headers.items():
        if name.lower() not in ("content-length", "connection", "accept-encoding"):
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        try:
            text = redact_body(body.decode("utf-8"))
            parts += ["--data-binary", shlex.quote(text)]
        except UnicodeDecodeError:  # not text: give the bytes as printf escapes
            escaped = "".join(f"\\x{b:02x}" for b in body)
            parts += ["--data-binary", f"\"$(printf '{escaped}')\""]
    return " ".join(parts)


class Run:
    """One phase's count of examples and its failures, recorded on the test item and
    turned into one pytest failure that lists them all."""

    def __init__(self, node: pytest.Item, seed: int | None):
        self.node = node
        self.seed = seed
        self.examples = 0
        self.failures: dict[tuple[str, ...], Failure] = {}
        self.started = time.monotonic()
        self.images = 0            # requests the target accepted (each made an image)
        self.stopped: str | None = None

    def may_make_image(self, world: World) -> bool:
        """Whether one more request the target may accept can be sent: the image budget."""
        return world.max_images is None or self.images < world.max_images

    def stop(self, why: str) -> None:
        self.stopped = why
        self.problem("static", why)

    def fail(self, failure: Failure) -> None:
        self.failures.setdefault(failure.key(), failure)

    def problem(self, phase: str, text: str) -> None:
        self.fail(Failure(phase, self.seed, "nothing changes", [text], None, "", ""))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind, error, tb) -> bool:
        failures = list(self.failures.values())
        seconds = time.monotonic() - self.started
        self.node.user_properties.append((FUZZ_PROPERTY, {
            "examples": self.examples, "seconds": round(seconds, 2), "seed": self.seed,
            "failures": [f.as_dict() for f in failures],
        }))
        if error is not None or not failures:
            return False
        __tracebackhide__ = True
        shown = "".join(f.show() for f in failures[:SHOWN_FAILURES])
        more = f"… and {len(failures) - SHOWN_FAILURES} more distinct failures\n" if len(failures) > SHOWN_FAILURES else ""
        first = failures[0].exchange
        # every failure attributed: only those rules fail; else every rule the test is linked to
        rules = () if any(not f.rules for f in failures) else tuple(dict.fromkeys(r for f in failures for r in f.rules))
        broken = f" breaking {', '.join(rules)}" if rules else ""
        raise RuleViolation(f"{len(failures)} distinct fuzz failure(s){broken} in {self.examples} examples:\n"
                            f"{shown}{more}\nfirst failing exchange:\n{first}", rules=rules)


def fuzz_examples(node: pytest.Item) -> int:
    """`--fuzz-examples N`, else the hypothesis profile's max_examples."""
    given_n = node.config.getoption("fuzz_examples", None)
    return int(given_n) if given_n else settings.default.max_examples


def phase_seed(node: pytest.Item, phase: str) -> int:
    """`--hypothesis-seed`, else stable per test and phase in a derandomized profile
    (CI never flakes), else random (printed with every failure)."""
    from hypothesis import core

    if core.global_force_seed is not None:
        return int(core.global_force_seed)
    if settings.default.derandomize:  # the suite folder and test name: the same from any rootdir
        return zlib.crc32(f"{Path(str(getattr(node, 'path', ''))).parent.name}/{node.name}:{phase}".encode())
    return random.SystemRandom().randrange(2**32)


def fuzz_settings(node: pytest.Item, scale: float = 1.0) -> settings:
    """The profile's settings with this run's budget; no shrinking (each step costs
    requests to the target) and no example database (runs are reproduced by seed)."""
    return settings(settings.default, max_examples=max(1, int(fuzz_examples(node) * scale)), deadline=None,
                    database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


def phase_settings(node: pytest.Item, seed: int, cap: int | None = None):
    """The phase's settings and seed; `cap`: the image budget of a phase whose every request
    makes an image (a few more are drawn, for those not sent: ambiguous ones)."""
    def apply(test):
        base = fuzz_settings(node)
        if cap is not None:
            base = settings(base, max_examples=max(1, min(base.max_examples, 3 * cap)))
        return hypothesis.seed(seed)(base(test))

    return apply


def draws_independent_of_local_code() -> Callable[[], None]:
    """Hypothesis also draws strings and numbers from the constants of the modules of the
    project under test loaded so far (here: imagecert's own, the reference provider's when
    it is embedded). A seed would then draw other requests after any edit of any module,
    against a target file than against the embedded provider, and when replaying a
    cassette than when recording it; and gathering them parses every such module's
    source. From here on hypothesis draws from its built-in constants only, so that what
    a test sends depends on the test, its contract and its seed. Returns the undo."""
    providers = importlib.import_module("hypothesis.internal.conjecture.providers")
    if not hasattr(providers, "_get_local_constants"):
        raise RuntimeError("this hypothesis version has no _get_local_constants: update imagecert.fuzz.run")
    real = providers._get_local_constants

    def undo() -> None:
        providers._get_local_constants = real
        providers.CONSTANTS_CACHE.cache.clear()

    providers._get_local_constants = lambda: providers.Constants()
    providers.CONSTANTS_CACHE.cache.clear()
    return undo
