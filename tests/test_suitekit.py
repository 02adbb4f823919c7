"""The suites' one waiter and the one "a refusal made nothing" check, on a stand-in world."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from imagecert.checks import RuleViolation
from imagecert.suitekit import nothing_made, wait


class StandIn:
    """What the toolkit asks of a world: settle, controlled, the target's timeouts, the images."""

    def __init__(self, controlled: bool, images: list[list[str]] | None = None):
        self.controlled = controlled
        self.target = SimpleNamespace(image_timeout_s=60.0, poll_s=0.001)
        self.settled = 0
        self.api = SimpleNamespace(dialect="jdcloud-vm", exchanges=[])
        self._images = list(images or [])

    def settle(self) -> None:
        self.settled += 1

    def resources(self, kind: str):
        return [{"id": i} for i in self._images.pop(0)] if self._images else None


def test_static_mode_polls_until_the_read_says_done():
    answers = iter(["saving", "saving", "active", "never read"])
    assert wait(StandIn(controlled=False), lambda: next(answers), lambda status: status != "saving") == "active"


def test_static_mode_gives_up_at_the_target_files_timeout():
    world = StandIn(controlled=False)
    world.target.image_timeout_s = 0.01
    reads = []
    assert wait(world, lambda: reads.append(1) or "saving", lambda status: False) == "saving"
    assert len(reads) >= 2


def test_control_mode_settles_and_reads_once():
    world, reads = StandIn(controlled=True), []
    assert wait(world, lambda: reads.append(1) or "saving", lambda status: False) == "saving"
    assert (world.settled, len(reads)) == (1, 1)


def test_an_image_made_by_a_refused_call_fails_the_rule():
    with pytest.raises(RuleViolation, match="i-new"):
        with nothing_made(StandIn(True, [["i-old"], ["i-new", "i-old"]]), "JD-C001"):
            pass
    with nothing_made(StandIn(True, [["i-old"], ["i-old"]]), "JD-C001"):
        pass
