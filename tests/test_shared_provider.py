"""`-n 2`: the xdist controller starts one embedded provider, and every worker certifies it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from imagecert import plugin
from imagecert.provider import server


def _config(**workerinput):
    options = {"target": [], "replay": False, "imagecert_defect": []}
    config = SimpleNamespace(getoption=lambda name: options[name])
    if workerinput:
        config.workerinput = workerinput
    return config


def _controller(start_embedded) -> tuple[plugin.RunState, plugin.SharedProvider, list[SimpleNamespace]]:
    state = plugin.RunState(_config())
    state.start_embedded = start_embedded
    shared = plugin.SharedProvider(state)
    nodes = [SimpleNamespace(workerinput={}) for _ in range(3)]
    for node in nodes:
        shared.pytest_configure_node(node)
    return state, shared, nodes


def test_the_controller_starts_one_provider_for_every_worker():
    running = server.start()
    try:
        started = []

        def start_embedded():
            started.append(1)
            return running.targets()

        state, shared, nodes = _controller(start_embedded)
        handed = {node.workerinput[plugin.SHARED_TARGETS] for node in nodes}
        assert len(handed) == 1  # one file for every worker

        # a worker: the targets it is handed, and no provider of its own
        worker = plugin.RunState(_config(**nodes[1].workerinput))
        assert worker.target("huawei-nova").base_url == running.base_url
        assert worker.target("huawei-nova").control_url == running.control_url
        assert worker.embedded is None
        assert len(started) == 1
        assert state.targets["jdcloud-vm"].base_url == running.base_url  # the controller's reports name it
        shared.pytest_unconfigure(None)
        assert not Path(handed.pop()).parent.exists()  # the targets file goes with the run
    finally:
        running.stop()


def test_a_worker_is_told_why_the_shared_provider_did_not_start():
    def start_embedded():
        raise OSError("no free port")

    _, shared, nodes = _controller(start_embedded)
    try:
        worker = plugin.RunState(_config(**nodes[0].workerinput))
        with pytest.raises(RuntimeError, match="did not start: no free port"):
            worker.target("jdcloud-vm")
    finally:
        shared.pytest_unconfigure(None)


def test_a_worker_does_not_wait_for_ever_for_the_shared_provider(tmp_path):
    with pytest.raises(RuntimeError, match="did not start within"):
        plugin.shared_targets(tmp_path / "never-written.json", timeout=0.05)


def test_a_serial_run_starts_its_own_provider_on_the_first_test():
    state = plugin.RunState(_config())
    try:
        target = state.target("apsara-ecs")
        assert state.embedded is not None and target.base_url == state.embedded.base_url
    finally:
        state.stop()
