"""What every dialect's suite shares, one name an idea (Tempest's `waiters` and service
clients): waiting for an image to end, and proving a refusal made nothing.

The dialect's own calls — building its request, finding the image its answer names,
reading that image — are in `imagecert.suitekit.<dialect>` (huawei_ims, huawei_nova,
jdcloud_vm, apsara_ecs), one module each, with the same names where the idea is the same:

  create(world, …)                   the create call of the dialect → the answer
  made(world, response, rule_id)     the image a successful answer names (registered for clean-up)
  make_image(world, rule_id, …)      create and `made`: a new image's id
  wait_until_made(world, id, rule)   the image once no longer being made

A refusal is `refused(world, rule_id, send, *args)` here, for every dialect.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import requests

from imagecert.checks import check, expect_refusal
from imagecert.world import World, poll
from imagecert.world import image_name as run_image_name

T = TypeVar("T")


def wait(world: World, read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """`read()` until `done` says it has ended, and the last thing read. Control mode: the
    target settles its jobs first, so one read is enough. Static mode: a read every
    `[provisioning] poll_s`, for at most `image_timeout_s` (the target file's; see README)."""
    world.settle()
    return poll(read, done, time.monotonic() + (0 if world.controlled else world.target.image_timeout_s),
                world.target.poll_s)


def ids_of(world: World, kind: str = "image") -> list[str] | None:
    """The ids of the tenant's resources of a kind (control mode, where the mock lists
    them); None where that is unknowable."""
    found = world.resources(kind)
    return None if found is None else sorted(r["id"] for r in found)


@contextmanager
def nothing_made(world: World, rule_id: str, kinds: tuple[str, ...] = ("image",)) -> Iterator[None]:
    """What runs inside makes no image (nor anything else of `kinds`), checked where the
    tenant's resources can be listed."""
    before = {kind: ids_of(world, kind) for kind in kinds}
    yield
    for kind, was in before.items():
        now = ids_of(world, kind) if was is not None else None
        check(world.api, rule_id, was is None or now == was,
              f"a refused call made a {kind}: {sorted(set(now or ()) - set(was or ()))}")


def refused(world: World, rule_id: str, send: Callable[..., requests.Response], /, *args: Any,
            **kwargs: Any) -> dict[str, Any]:
    """`send(*args, **kwargs)` is refused as `rule_id` documents (status, code, message,
    error body: from the catalog), and nothing was made; the error body."""
    with nothing_made(world, rule_id):
        return expect_refusal(world.api, send(*args, **kwargs), rule_id)


def named(world: World, rule_id: str, image_id: str | None, answer: Any) -> str:
    """The image a successful answer names, registered for clean-up; a failure of `rule_id`
    if it names none."""
    check(world.api, rule_id, bool(image_id), f"the answer names no image: {answer}")
    return world.made_image(image_id)


def image_name(label: str) -> str:
    """A fresh image name of this run: its prefix (`imagecert.world.image_name`), the label,
    a random part."""
    return run_image_name(label)
