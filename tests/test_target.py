"""Target files: good ones load, every mistake is refused with a reason naming the key."""

from __future__ import annotations

import pytest

from imagecert.target import TargetError, load_target, write_target

GOOD = """
dialect  = "jdcloud-vm"
base_url = "http://127.0.0.1:8642"

[scope]
region_id = "cn-north-1"

[auth]
scheme     = "jdcloud-hmac"
access_key = "env:IMAGECERT_TEST_AK"
secret_key = "env:IMAGECERT_TEST_SK"

[provisioning]
mode        = "static"

[fixtures]
"instance.running" = ["i-1", "i-2"]
"""


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("IMAGECERT_TEST_AK", "AK123")
    monkeypatch.setenv("IMAGECERT_TEST_SK", "SK456")


def write(tmp_path, text: str):
    path = tmp_path / "target.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_target_loads_with_secrets_from_the_environment(tmp_path, keys):
    target = load_target(write(tmp_path, GOOD))
    assert target.dialect == "jdcloud-vm"
    assert target.auth == {"scheme": "jdcloud-hmac", "access_key": "AK123", "secret_key": "SK456"}
    assert target.fixtures == {"instance.running": ["i-1", "i-2"]}
    assert target.mode == "static"


def test_the_waiters_timeouts_come_from_the_provisioning_table(tmp_path, keys):
    default = load_target(write(tmp_path, GOOD))
    given = load_target(write(tmp_path, GOOD.replace('mode        = "static"',
                                                      'mode = "static"\nimage_timeout_s = 90\npoll_s = 0.5')))
    assert (given.image_timeout_s, given.poll_s) == (90.0, 0.5)
    assert (default.image_timeout_s, default.poll_s) != (90.0, 0.5)


def test_what_a_report_may_show_holds_no_secret(tmp_path, keys):
    shown = repr(load_target(write(tmp_path, GOOD)).public())
    assert "SK456" not in shown and "AK123" not in shown


@pytest.mark.parametrize(
    "change, complaint",
    [
        (('"jdcloud-vm"', '"jd"'), "dialect must be one of"),
        (('"http://127.0.0.1:8642"', '"127.0.0.1:8642"'), "base_url must be an http(s) URL"),
        (('region_id = "cn-north-1"', ""), "[scope] needs region_id"),
        (('"jdcloud-hmac"', '"hmac"'), "scheme must be one of"),
        (('secret_key = "env:IMAGECERT_TEST_SK"', ""), "needs secret_key"),
        (('"env:IMAGECERT_TEST_SK"', '"env:IMAGECERT_NOT_SET"'), "IMAGECERT_NOT_SET, which is not set"),
        (('mode        = "static"', 'mode = "magic"'), "mode must be control or static"),
        (('mode        = "static"', 'mode = "control"'), "control_url must be an http(s) URL"),
        (('["i-1", "i-2"]', '"i-1"'), "must be a list of resource ids"),
        (("[scope]", "[scope"), "not valid TOML"),
        (('"http://127.0.0.1:8642"', '"http://127.0.0.1:99999"'), "base_url is not a usable URL"),
        (('"http://127.0.0.1:8642"', '"http://127.0.0.1:abc"'), "base_url is not a usable URL"),
        (('"http://127.0.0.1:8642"', '"http://[::1"'), "base_url is not a usable URL"),
        (('mode        = "static"', 'mode = "control"\ncontrol_url = "http://127.0.0.1:1/c"\ntenant_id = 7'),
         "tenant_id must be a string, not 7"),
        (('mode        = "static"', 'mode = "control"\ncontrol_url = "http://127.0.0.1:1/c"'),
         "control mode needs tenant_id"),
        (('"jdcloud-hmac"', '"huawei-aksk"'),
         "[auth] scheme huawei-aksk does not sign jdcloud-vm requests; jdcloud-vm takes jdcloud-hmac (or none)"),
        (('mode        = "static"', 'mode = "control"\ncontrol_url = "http://127.0.0.1:1/c"\ntenant_id = "t"'
          '\n[auth.read_only]\nscheme = "token"\ntoken = "t"'), "[auth.read_only] scheme token does not sign"),
        (('mode        = "static"', 'mode = "static"\nimage_timeout_s = 0'), "image_timeout_s must be a positive"),
        (('mode        = "static"', 'mode = "static"\npoll_s = "2"'), "poll_s must be a positive number"),
    ],
)
def test_every_mistake_is_refused_with_its_reason(tmp_path, keys, change, complaint):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(TargetError) as error:
        load_target(path)
    assert complaint in str(error.value)
    assert str(path) in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TargetError, match="no such target file"):
        load_target(tmp_path / "absent.toml")


def test_written_targets_read_back(tmp_path):
    document = {
        "dialect": "huawei-nova", "base_url": "http://127.0.0.1:1",
        "scope": {"project_id": "p1"}, "auth": {"scheme": "token", "token": "tok"},
        "provisioning": {"mode": "control", "control_url": "http://127.0.0.1:1/_imagecert/v1", "tenant_id": "t-1"},
    }
    target = load_target(write_target(document, tmp_path / "nova.toml"))
    assert (target.dialect, target.auth["token"], target.tenant_id) == ("huawei-nova", "tok", "t-1")


def test_a_target_that_would_not_load_is_never_written(tmp_path):
    with pytest.raises(TargetError):
        write_target({"dialect": "nope"}, tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()
