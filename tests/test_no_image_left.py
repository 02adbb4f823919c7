"""A suite run leaves no image behind: every image a test made, registered or not (a
fuzzed create, an unexpected 202), is deleted at teardown, as the README promises."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from imagecert.certify import QUIET_PYTEST
from imagecert.contracts import DIALECTS, operations
from imagecert.provider import server
from imagecert.provider.dialect import Settings
from imagecert.target import parse_target, write_target
from imagecert.world import CREATES, finish_run, recover

SUITES = Path(__file__).resolve().parents[1] / "suites"
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_fuzz_suite_deletes_every_image_it_made(dialect, tmp_path):
    running = server.start(dialects=[dialect])
    try:
        target = running.write_targets(tmp_path)[dialect]
        status = pytest.main([str(SUITES / dialect / "test_fuzz.py"), "--target", str(target),
                              "--fuzz-examples", "5", *QUIET_PYTEST])
        assert status == pytest.ExitCode.OK, f"the {dialect} fuzz suite failed against the sound provider"
        store = running.provider.store
        with store.lock:
            made = [r for r in store.resources.values() if r.kind == "image"]
        left = [(r.id, r.attributes.get("status")) for r in made if r.attributes.get("status") != "deleted"]
        assert not left, f"{len(left)} image(s) left behind by the {dialect} fuzz suite: {left[:5]}"
    finally:
        running.stop()


# -- static mode: a target file with [fixtures], no control protocol ---------------------
# A suite test per dialect that makes one image from a running instance, and the pool it needs.
ONE_IMAGE = {
    "jdcloud-vm": ("test_parameters.py", "JD-P003"),
    "huawei-nova": ("test_create_image.py", "NOVA-B001"),
    "huawei-ims": ("test_async.py", "IMS-B001"),
    "apsara-ecs": ("test_apsara_create.py", "APS-B003"),
}
HOLD_S = 1.0  # how long the provider holds a create's answer (the signal lands meanwhile)
QUICK = Settings(job_seconds=0.2)  # images (and IMS jobs) are made at once: teardown need not wait


def static_target(running, dialect: str, path):
    """A static target file over the embedded provider's development tenant, with one
    running instance (made through the control protocol) as its pool."""
    tenant = running.dev_tenants[dialect]
    made = requests.post(f"{running.control_url}/resources", timeout=10,
                         json={"tenant_id": tenant.id, "kind": "instance", "attributes": {}}).json()
    document = {"dialect": dialect, "base_url": running.base_url, "scope": dict(tenant.scope),
                "auth": dict(tenant.auth), "provisioning": {"mode": "static", "idle_timeout_s": 30},
                "fixtures": {"instance.running": [made["id"]]}}
    return write_target(document, path), parse_target(document)


def images_left(running, dialect: str) -> list[str]:
    """The images of the development tenant that are not deleted, read through the control protocol."""
    tenant = running.dev_tenants[dialect]
    answer = requests.get(f"{running.control_url}/resources", timeout=10,
                          params={"tenant_id": tenant.id, "kind": "image"}).json()
    return [r["id"] for r in answer["resources"] if r["attributes"].get("status") != "deleted"]


def hold(running, dialect: str, which):
    """Make the provider hold the answer of the first successful request `which(method, path)`
    picks (after it has been handled) until `release` is set; `handled` is set meanwhile."""
    handled, release = threading.Event(), threading.Event()
    answer = running.provider._answer
    # every answer in a worker thread, as a large body's: held on the event loop, it would
    # hold up every other connection, which no real answer does
    running.provider.settings = replace(running.provider.settings, inline_body_bytes=-1)

    def held(allowed, wire):
        response = answer(allowed, wire)
        if not handled.is_set() and response.status_code < 300 and which(wire.method, wire.path):
            handled.set()
            release.wait(30)
        return response

    running.provider._answer = held
    return handled, release


def is_create(dialect: str):
    operation = operations(dialect)[CREATES[dialect].operation]
    pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(operation.path)) + r"\Z")
    return lambda method, path: method == operation.method and bool(pattern.match(path))


def after(first):
    """Picks every request after the first one `first` picks."""
    seen: list[str] = []

    def which(method: str, path: str) -> bool:
        if seen:
            return True
        if first(method, path):
            seen.append(path)
        return False

    return which


def run_suite_test(dialect: str, target) -> subprocess.Popen:
    module, rule = ONE_IMAGE[dialect]
    command = [sys.executable, "-m", "pytest", str(SUITES / dialect / module), "--target", str(target),
               "--constraint", rule, "-x", *QUIET_PYTEST]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def interrupt_during_create(running, dialect: str, target, signum: signal.Signals) -> None:
    """Run the dialect's one-image suite test; send `signum` while its create's answer is
    held (the image made); then let the answer go. The run must end interrupted."""
    handled, release = hold(running, dialect, is_create(dialect))
    run = run_suite_test(dialect, target)
    try:
        assert handled.wait(60), "the suite test sent no create"
        assert any(r.kind == "image" for r in list(running.provider.store.resources.values())), "the held create made no image"
        run.send_signal(signum)
        time.sleep(HOLD_S)  # the signal has been received while the answer is held
        release.set()
        _, stderr = run.communicate(timeout=120)
    finally:
        release.set()
        if run.poll() is None:
            run.kill()
    assert run.returncode == pytest.ExitCode.INTERRUPTED, f"the run was not interrupted: {stderr[-2000:]}"


@pytest.mark.parametrize("dialect, signum", [  # every dialect's create answer, both signals
    ("jdcloud-vm", signal.SIGINT), ("huawei-nova", signal.SIGTERM),
    ("huawei-ims", signal.SIGINT), ("apsara-ecs", signal.SIGTERM),
], ids=lambda value: value.name if isinstance(value, signal.Signals) else value)
def test_a_signal_while_a_create_is_answered_leaves_no_image_in_static_mode(dialect, signum, tmp_path):
    """The signal lands while the create's answer is on its way: the run waits for it,
    records the id, stops, and its teardown deletes the image (no listing needed)."""
    running = server.start(dialects=[dialect], settings=QUICK)
    try:
        target, _ = static_target(running, dialect, tmp_path / "static.toml")
        interrupt_during_create(running, dialect, target, signum)
        assert images_left(running, dialect) == [], f"the {dialect} run stopped by {signum.name} left an image"
    finally:
        running.stop()


@pytest.mark.parametrize("dialect, when", [("jdcloud-vm", "after the answer"), ("apsara-ecs", "in flight")])
def test_after_a_sigkill_the_next_run_deletes_what_the_dead_run_made(dialect, when, tmp_path):
    """SIGKILL cannot be handled: the dead run's journal lists the image it made (and its
    name prefix, which Apsara's DescribeImages finds even when the id never arrived); the
    next run against the target deletes them before its first test."""
    running = server.start(dialects=[dialect], settings=QUICK)
    try:
        target_file, target = static_target(running, dialect, tmp_path / "static.toml")
        create = is_create(dialect)
        if when == "in flight":
            handled, release = hold(running, dialect, create)
        else:  # the request after the create: its id is in the journal by then
            handled, release = hold(running, dialect, after(create))
        run = run_suite_test(dialect, target_file)
        try:
            assert handled.wait(60), "the suite test sent no create"
            run.kill()
            run.wait(30)
        finally:
            release.set()
        assert len(images_left(running, dialect)) == 1, "the killed run should have left its image"
        assert recover(target) == 1, "the dead run's journal was not taken over"
        assert images_left(running, dialect) == [], f"the next run left the dead {dialect} run's image"
        finish_run(target)
        assert recover(target) == 0, "a journal outlived the run that cleaned up"
    finally:
        running.stop()


def test_a_signal_while_a_create_is_answered_leaves_no_image_in_control_mode(tmp_path):
    """Control mode: the same held answer and SIGINT; the test's tenant is swept at teardown."""
    dialect = "jdcloud-vm"
    running = server.start(dialects=[dialect], settings=QUICK)
    try:
        target = running.write_targets(tmp_path)[dialect]
        interrupt_during_create(running, dialect, target, signal.SIGINT)
        store = running.provider.store
        with store.lock:
            left = [r.id for r in store.resources.values() if r.kind == "image" and r.attributes.get("status") != "deleted"]
        assert left == [], f"the control-mode run stopped by SIGINT left {left}"
    finally:
        running.stop()


def test_a_signal_during_a_create_is_acted_on_after_its_answer_and_a_second_at_once():
    from imagecert import interrupts

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert interrupts.install()
    try:
        recorded = []
        with pytest.raises(KeyboardInterrupt):
            with interrupts.deferred():
                os.kill(os.getpid(), signal.SIGINT)
                assert interrupts.held() == signal.SIGINT
                recorded.append("the id")  # what the answer names is recorded before the stop
        assert recorded == ["the id"]
        with pytest.raises(KeyboardInterrupt):
            with interrupts.deferred():
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)  # the second: at once
                recorded.append("not reached")
        assert recorded == ["the id"]
        assert interrupts.held() is None
    finally:
        interrupts.uninstall()
        signal.signal(signal.SIGINT, previous)
