"""`-n 2`: the xdist controller starts one embedded provider, and every worker certifies it."""

from __future__ import annotations

from types import SimpleNamespace

from imagecert import plugin
from imagecert.provider import server


def _config(**workerinput):
    options = {"target": [], "replay": False, "imagecert_defect": []}
    config = SimpleNamespace(getoption=lambda name: options[name])
    if workerinput:
        config.workerinput = workerinput
    return config


def test_the_controller_starts_one_provider_for_every_worker():
    running = server.start()
    try:
        state = plugin.RunState(_config())
        started = []

        def start_embedded():
            started.append(1)
            return running.targets()

        state.start_embedded = start_embedded
        shared = plugin.SharedProvider(state)
        nodes = [SimpleNamespace(workerinput={}) for _ in range(3)]
        for node in nodes:
            shared.pytest_configure_node(node)
        assert len(started) == 1
        assert all(node.workerinput[plugin.SHARED_TARGETS] == running.targets() for node in nodes)
        assert state.targets["jdcloud-vm"].base_url == running.base_url  # the controller's reports name it

        # a worker: the targets it is handed, and no provider of its own
        worker = plugin.RunState(_config(**nodes[1].workerinput))
        assert worker.target("huawei-nova").base_url == running.base_url
        assert worker.target("huawei-nova").control_url == running.control_url
        assert worker.embedded is None
    finally:
        running.stop()


def test_a_serial_run_starts_its_own_provider_on_the_first_test():
    state = plugin.RunState(_config())
    try:
        target = state.target("apsara-ecs")
        assert state.embedded is not None and target.base_url == state.embedded.base_url
    finally:
        state.stop()
