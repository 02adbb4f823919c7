"""Static mode lends pooled resources: one per test at a time, back to the pool when the
test ends, so a pool of one serves any number of tests (and xdist workers)."""

from __future__ import annotations

import pytest

from imagecert.target import TargetError, parse_target
from imagecert.world import World


def _target(**provisioning):
    return parse_target({
        "dialect": "jdcloud-vm", "base_url": "http://127.0.0.1:9", "scope": {"region_id": "cn-north-1"},
        "provisioning": {"mode": "static", **provisioning},
        "fixtures": {"instance.running": ["i-only"]},
    })


def test_a_pool_of_one_serves_one_test_after_another():
    target = _target()
    for _ in range(3):
        world = World(target)
        assert world.make("instance", role="instance.running") == "i-only"
        world.close()


def test_a_test_waits_for_a_leased_resource_and_is_not_verified_past_the_deadline():
    target = _target(idle_timeout_s=1)
    holder = World(target)
    holder.make("instance", role="instance.running")
    try:
        with pytest.raises(pytest.skip.Exception, match="came free within"):
            World(target).make("instance", role="instance.running")
    finally:
        holder.close()
    assert World(target).make("instance", role="instance.running") == "i-only"


def test_asking_for_the_role_again_gives_the_same_resource_back():
    world = World(_target())
    assert world.make("instance", role="instance.running") == world.make("instance", role="instance.running")
    world.close()


def test_a_role_the_target_file_lacks_is_not_verified():
    with pytest.raises(pytest.skip.Exception, match="has no 'instance.stopped'"):
        World(_target()).make("instance", role="instance.stopped")


@pytest.mark.parametrize("provisioning, wrong", [
    ({"idle_timeout_s": 0}, "idle_timeout_s"),
    ({"idle_timeout_s": "10"}, "idle_timeout_s"),
    ({"max_images": -1}, "max_images"),
    ({"max_images": True}, "max_images"),
])
def test_a_bad_static_option_is_a_clear_error(provisioning, wrong):
    with pytest.raises(TargetError, match=wrong):
        _target(**provisioning)


def test_the_read_only_credential_is_read_and_checked():
    document = {"dialect": "huawei-nova", "base_url": "http://127.0.0.1:9", "scope": {"project_id": "p"},
                "auth": {"scheme": "token", "token": "t", "read_only": {"scheme": "token", "token": "r"}}}
    assert parse_target(document).read_only_auth == {"scheme": "token", "token": "r"}
    document["auth"]["read_only"] = {"scheme": "token"}
    with pytest.raises(TargetError, match=r"\[auth.read_only\] scheme token needs token"):
        parse_target(document)
