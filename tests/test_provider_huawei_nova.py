"""The reference provider speaks huawei-nova as python-novaclient expects it.

A real client (novaclient over a keystoneauth1 token session pointed at the loopback
server) gets its createImage accepted and its answer parsed at both microversions, and
reads the documented refusals; and what the suite cannot see (the volume snapshots an
image leaves). The documented refusals on the wire are the suite's (suites/huawei-nova).
"""

from __future__ import annotations

import pytest
import requests
import novaclient
from novaclient import api_versions
from novaclient import exceptions as nova_exceptions

from imagecert.contracts import load_catalog, load_contract

DIALECT = "huawei-nova"
CATALOG = load_catalog(DIALECT)
MICROVERSIONS = load_contract(DIALECT)["info"]["x-imagecert-microversions"]


def fault_of(rule_id: str) -> tuple[int, str]:
    entry = CATALOG[rule_id]
    if entry.kind == "return-code":
        return entry.http_status, entry.code
    return entry.expect.status, entry.expect.code


def nova(account, version: str = MICROVERSIONS["min"]):
    """novaclient over a keystoneauth1 token session, pointed at the provider."""
    return account.sdk_client(version=version)


def nova_url(account) -> str:
    return f"{account.endpoint}/v2.1/{account.project_id}"


def action(account, server_id: str, **kwargs) -> requests.Response:
    headers = {"X-Auth-Token": account.auth["token"], **kwargs.pop("headers", {})}
    return requests.post(f"{nova_url(account)}/servers/{server_id}/action", headers=headers, timeout=10, **kwargs)


def assert_fault(response: requests.Response, rule_id: str) -> dict:
    status, name = fault_of(rule_id)
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == [name], body
    assert body[name]["code"] == status and body[name]["message"], body
    return body[name]


# -- a real client ------------------------------------------------------------------

def test_novaclient_below_2_45_reads_the_image_id_from_location(account):
    server = account.make("instance", az="cn-north-4b")
    # below location_until: at 2.44 itself the seed sends no Location (NOVA-D006)
    major, minor = MICROVERSIONS["location_until"].split(".")
    image_id = nova(account, f"{major}.{int(minor) - 1}").servers.create_image(
        server, "from-novaclient", {"ImageType": "Gold"})

    image = account.read(image_id)
    assert image["name"] == "from-novaclient"
    assert image["metadata"] == {"ImageType": "Gold"}
    assert image["az"] == "cn-north-4b"  # NOVA-C002: the image records the server's AZ
    assert image["status"] == "SAVING"  # NOVA-B001: 202 only accepts the request
    account.settle()
    assert account.read(image_id)["status"] == "ACTIVE"


def test_novaclient_from_2_45_reads_image_id_and_the_version_is_echoed(account):
    server = account.make("instance")
    version = MICROVERSIONS["image_id_from"]
    image_id = nova(account, version).servers.create_image(server, "from-2.45")
    assert account.read(image_id)["name"] == "from-2.45"

    response = action(account, account.make("instance"), json={"createImage": {"name": "raw"}},
                              headers={"OpenStack-API-Version": f"compute {version}"})
    assert response.status_code == 202 and "Location" not in response.headers
    assert response.headers["X-OpenStack-Nova-API-Version"] == version
    assert response.headers["OpenStack-API-Version"] == f"compute {version}"
    assert set(response.json()) == {"image_id"}


def test_novaclient_discovers_the_version_range_and_uses_it(account):
    discovered = api_versions.discover_version(nova(account), api_versions.APIVersion("2.latest"))
    expected = min(api_versions.APIVersion(MICROVERSIONS["max"]), novaclient.API_MAX_VERSION)
    assert discovered == expected

    image_id = nova(account, discovered.get_string()).servers.create_image(account.make("instance"), "negotiated")
    assert account.read(image_id)["name"] == "negotiated"


def test_novaclient_reads_the_documented_refusals(account):
    with pytest.raises(nova_exceptions.Conflict) as refused:
        nova(account).servers.create_image(account.make("instance", status="ERROR"), "broken")
    assert CATALOG["NOVA-C001"].expect.message_pattern().match(refused.value.message), refused.value.message

    with pytest.raises(nova_exceptions.NotFound):
        nova(account).servers.create_image("no-such-server", "ghost")
    assert account.resources("image") == []


def test_a_second_create_image_while_the_first_runs_is_refused(account):
    server = account.make("instance")
    client = nova(account)
    client.servers.create_image(server, "first")
    with pytest.raises(nova_exceptions.Conflict):
        client.servers.create_image(server, "second")
    account.settle()
    client.servers.create_image(server, "third")
    assert sorted(i["attributes"]["name"] for i in account.resources("image")) == ["first", "third"]


# -- what the suite cannot see ---------------------------------------------------------

def test_deleting_the_image_leaves_its_volume_snapshots(account):
    image_id = nova(account).servers.create_image(account.make("instance"), "volume-backed")
    account.settle()
    snapshots = [s for s in account.resources("snapshot") if s["attributes"]["image_id"] == image_id]
    assert snapshots and all(s["attributes"]["status"] == "available" for s in snapshots)

    shown = requests.get(f"{nova_url(account)}/images/{image_id}", headers={"X-Auth-Token": account.auth["token"]}, timeout=10)
    assert shown.status_code == 200 and shown.json()["image"]["status"] == "ACTIVE"
    deleted = requests.delete(f"{nova_url(account)}/images/{image_id}", headers={"X-Auth-Token": account.auth["token"]}, timeout=10)
    assert deleted.status_code == 204
    gone = requests.get(f"{nova_url(account)}/images/{image_id}", headers={"X-Auth-Token": account.auth["token"]}, timeout=10)
    assert_fault(gone, "NOVA-R004")
    assert [s["id"] for s in account.resources("snapshot")] == [s["id"] for s in snapshots]


def test_the_v2_path_serves_create_image_without_microversions(account):
    """The seed's /v2 path (NOVA-C008) as upstream's legacy v2 compatible mode serves it,
    the reading of NOVA-D007 the reference provider follows: every microversion header is
    ignored, in the request and in the answer, refusals included."""
    v2 = f"{account.endpoint}/v2/{account.project_id}/servers"
    headers = {"X-Auth-Token": account.auth["token"]}
    for asked in ({}, {"X-OpenStack-Nova-API-Version": MICROVERSIONS["image_id_from"]},
                  {"OpenStack-API-Version": "compute latest"}, {"X-OpenStack-Nova-API-Version": "two"}):
        response = requests.post(f"{v2}/{account.make('instance')}/action", json={"createImage": {"name": "on-v2"}},
                                 headers={**headers, **asked}, timeout=10)
        assert response.status_code == 202 and not response.content, (asked, response.text)
        image_id = response.headers["Location"].rsplit("/", 1)[-1]
        assert account.read(image_id)["name"] == "on-v2"
        assert "X-OpenStack-Nova-API-Version" not in response.headers and "OpenStack-API-Version" not in response.headers
    refused = requests.post(f"{v2}/{account.make('instance')}/action", json={"createImage": {}},
                            headers={**headers, "X-OpenStack-Nova-API-Version": "2.45"}, timeout=10)
    assert_fault(refused, "NOVA-P004")
    assert "X-OpenStack-Nova-API-Version" not in refused.headers
