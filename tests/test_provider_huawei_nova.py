"""The reference provider speaks huawei-nova as python-novaclient expects it.

A real client (novaclient over a keystoneauth1 token session pointed at the loopback
server) gets its createImage accepted and its answer parsed at both microversions,
and the key refusals come back as Nova faults with the catalog's status and name;
bad input is answered 4xx, never 5xx. The exhaustive proof is suites/huawei-nova.
"""

from __future__ import annotations

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import novaclient
from novaclient import api_versions
from novaclient import client as nova_client
from novaclient import exceptions as nova_exceptions

from imagecert.contracts import load_catalog, load_contract, request_schema, resolve

DIALECT = "huawei-nova"
CATALOG = load_catalog(DIALECT)
MICROVERSIONS = load_contract(DIALECT)["info"]["x-imagecert-microversions"]
WIDE_CHAR = "中"  # three UTF-8 bytes, one character


def create_image_fields() -> dict:
    action = resolve(DIALECT, request_schema(DIALECT, "createImage"))
    return resolve(DIALECT, action["properties"]["createImage"])["properties"]


def fault_of(rule_id: str) -> tuple[int, str]:
    entry = CATALOG[rule_id]
    if entry.kind == "return-code":
        return entry.http_status, entry.code
    return entry.expect.status, entry.expect.code


class Account:
    """A fresh tenant of the provider, with a server and a novaclient for it."""

    def __init__(self, provider, permissions: str = "full"):
        self.provider = provider
        self.control = provider.control_url
        tenant = self._control("POST", "/tenants", {"dialect": DIALECT, "permissions": permissions})
        self.tenant_id = tenant["tenant_id"]
        self.token = tenant["auth"]["token"]
        self.project_id = tenant["scope"]["project_id"]
        self.endpoint = f"{provider.base_url}/v2.1/{self.project_id}"
        self.session = ks_session.Session(auth=token_endpoint.Token(self.endpoint, self.token))

    def _control(self, method: str, path: str, body=None, params=None):
        response = requests.request(method, self.control + path, json=body, params=params, timeout=10)
        assert response.status_code < 300, response.text
        return response.json()

    def server(self, **attributes) -> str:
        return self._control("POST", "/resources", {"tenant_id": self.tenant_id, "kind": "instance",
                                                    "attributes": attributes})["id"]

    def resources(self, kind: str) -> list[dict]:
        return self._control("GET", "/resources", params={"tenant_id": self.tenant_id, "kind": kind})["resources"]

    def read(self, resource_id: str) -> dict:
        return self._control("GET", f"/resources/{resource_id}")["attributes"]

    def settle(self) -> None:
        self._control("POST", "/jobs/settle", {"tenant_id": self.tenant_id})

    def nova(self, version: str = MICROVERSIONS["min"]):
        return nova_client.Client(version, session=self.session)

    def action(self, server_id: str, **kwargs) -> requests.Response:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        return requests.post(f"{self.endpoint}/servers/{server_id}/action", headers=headers, timeout=10, **kwargs)


@pytest.fixture
def account(provider):
    return Account(provider)


def assert_fault(response: requests.Response, rule_id: str) -> dict:
    status, name = fault_of(rule_id)
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == [name], body
    assert body[name]["code"] == status and body[name]["message"], body
    return body[name]


# -- a real client ------------------------------------------------------------------

def test_novaclient_below_2_45_reads_the_image_id_from_location(account):
    server = account.server(az="cn-north-4b")
    # below location_until: at 2.44 itself the seed sends no Location (NOVA-D006)
    major, minor = MICROVERSIONS["location_until"].split(".")
    image_id = account.nova(f"{major}.{int(minor) - 1}").servers.create_image(
        server, "from-novaclient", {"ImageType": "Gold"})

    image = account.read(image_id)
    assert image["name"] == "from-novaclient"
    assert image["metadata"] == {"ImageType": "Gold"}
    assert image["az"] == "cn-north-4b"  # NOVA-C002: the image records the server's AZ
    assert image["status"] == "SAVING"  # NOVA-B001: 202 only accepts the request
    account.settle()
    assert account.read(image_id)["status"] == "ACTIVE"


def test_novaclient_from_2_45_reads_image_id_and_the_version_is_echoed(account):
    server = account.server()
    version = MICROVERSIONS["image_id_from"]
    image_id = account.nova(version).servers.create_image(server, "from-2.45")
    assert account.read(image_id)["name"] == "from-2.45"

    response = account.action(account.server(), json={"createImage": {"name": "raw"}},
                              headers={"OpenStack-API-Version": f"compute {version}"})
    assert response.status_code == 202 and "Location" not in response.headers
    assert response.headers["X-OpenStack-Nova-API-Version"] == version
    assert response.headers["OpenStack-API-Version"] == f"compute {version}"
    assert set(response.json()) == {"image_id"}


def test_novaclient_discovers_the_version_range_and_uses_it(account):
    discovered = api_versions.discover_version(account.nova(), api_versions.APIVersion("2.latest"))
    expected = min(api_versions.APIVersion(MICROVERSIONS["max"]), novaclient.API_MAX_VERSION)
    assert discovered == expected

    image_id = account.nova(discovered.get_string()).servers.create_image(account.server(), "negotiated")
    assert account.read(image_id)["name"] == "negotiated"


def test_novaclient_reads_the_documented_refusals(account):
    with pytest.raises(nova_exceptions.Conflict) as refused:
        account.nova().servers.create_image(account.server(status="ERROR"), "broken")
    assert CATALOG["NOVA-C001"].expect.message_pattern().match(refused.value.message), refused.value.message

    with pytest.raises(nova_exceptions.NotFound):
        account.nova().servers.create_image("no-such-server", "ghost")
    assert account.resources("image") == []


def test_a_second_create_image_while_the_first_runs_is_refused(account):
    server = account.server()
    nova = account.nova()
    nova.servers.create_image(server, "first")
    with pytest.raises(nova_exceptions.Conflict):
        nova.servers.create_image(server, "second")
    account.settle()
    nova.servers.create_image(server, "third")
    assert sorted(i["attributes"]["name"] for i in account.resources("image")) == ["first", "third"]


# -- refusals on the wire --------------------------------------------------------------

def test_names_are_limited_in_bytes_not_characters(account):
    limit = create_image_fields()["name"]["x-imagecert-max-bytes"]
    too_long = WIDE_CHAR * (limit // len(WIDE_CHAR.encode()) + 1)
    assert len(too_long) <= limit  # short enough in characters: only the byte rule refuses it
    assert_fault(account.action(account.server(), json={"createImage": {"name": too_long}}), "NOVA-D001")

    fits = WIDE_CHAR * (limit // len(WIDE_CHAR.encode()))
    assert account.action(account.server(), json={"createImage": {"name": fits}}).status_code == 202


def test_metadata_keys_are_limited_in_bytes(account):
    limit = create_image_fields()["metadata"]["x-imagecert-key-max-bytes"]
    response = account.action(account.server(), json={"createImage": {"name": "m", "metadata": {"k" * (limit + 1): "v"}}})
    assert_fault(response, "NOVA-D002")
    response = account.action(account.server(), json={"createImage": {"name": "m", "metadata": {"k" * limit: "v"}}})
    assert response.status_code == 202


@pytest.mark.parametrize("body, rule_id", [
    ({}, "NOVA-P003"),
    ({"createImage": "name"}, "NOVA-P003"),
    ({"createImage": {"name": "x", "extra": 1}}, "NOVA-P003"),
    ({"createImage": {"name": "x"}, "reboot": {"type": "SOFT"}}, "NOVA-P003"),
    ({"createImage": {}}, "NOVA-P004"),
    ({"createImage": {"name": 7}}, "NOVA-P004"),
    ({"createImage": {"name": ""}}, "NOVA-P004"),
    ({"createImage": {"name": "x", "metadata": ["k"]}}, "NOVA-P005"),
    ({"createImage": {"name": "x", "metadata": {"": "v"}}}, "NOVA-P005"),
    ({"createImage": {"name": " x"}}, "NOVA-D005"),
    ({"createImage": {"name": "x", "metadata": {"镜像类型": "v"}}}, "NOVA-D003"),
    ({"createImage": {"name": "x", "metadata": {"k": 1}}}, "NOVA-D004"),
])
def test_bodies_that_break_a_rule_are_refused_and_make_nothing(account, body, rule_id):
    assert_fault(account.action(account.server(), json=body), rule_id)
    assert account.resources("image") == [] and account.resources("snapshot") == []


@pytest.mark.parametrize("data, content_type, rule_id", [
    (b"{\"createImage\": {", "application/json", "NOVA-R001"),
    (b"\xff\xfe\x00garbage", "application/json", "NOVA-R001"),
    (b"{\"createImage\": {\"name\": \"x\"}}", "text/plain", "NOVA-R009"),
    (b"{\"createImage\": {\"name\": \"" + b"x" * (2 << 20) + b"\"}}", "application/json", "NOVA-R001"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", "NOVA-R001"),
    (b"{\"createImage\": {\"name\": \"\\ud800\"}}", "application/json", "NOVA-R001"),
])
def test_unreadable_bodies_get_a_4xx_fault(account, data, content_type, rule_id):
    response = account.action(account.server(), data=data, headers={"Content-Type": content_type})
    assert_fault(response, rule_id)


def test_credentials_project_and_permissions(account, provider):
    server = account.server()
    body = {"createImage": {"name": "x"}}
    anonymous = requests.post(f"{account.endpoint}/servers/{server}/action", json=body, timeout=10)
    assert_fault(anonymous, "NOVA-R002")
    assert_fault(account.action(server, json=body, headers={"X-Auth-Token": account.token + "x"}), "NOVA-R002")

    other = Account(provider)
    foreign = requests.post(f"{other.endpoint}/servers/{server}/action", json=body,
                            headers={"X-Auth-Token": account.token}, timeout=10)
    assert_fault(foreign, "NOVA-P001")

    reader = Account(provider, permissions="read-only")
    assert_fault(reader.action(reader.server(), json=body), "NOVA-R003")
    assert account.resources("image") == []


def test_microversions_outside_the_range_or_unreadable_are_refused(account):
    server = account.server()
    major, minor = MICROVERSIONS["max"].split(".")
    above = f"{major}.{int(minor) + 1}"
    fault = assert_fault(account.action(server, json={"createImage": {"name": "x"}},
                                        headers={"X-OpenStack-Nova-API-Version": above}), "NOVA-B006")
    assert above in fault["message"]
    assert_fault(account.action(server, json={"createImage": {"name": "x"}},
                                headers={"X-OpenStack-Nova-API-Version": "two"}), "NOVA-B002")
    assert account.resources("image") == []


def test_deleting_the_image_leaves_its_volume_snapshots(account):
    image_id = account.nova().servers.create_image(account.server(), "volume-backed")
    account.settle()
    snapshots = [s for s in account.resources("snapshot") if s["attributes"]["image_id"] == image_id]
    assert snapshots and all(s["attributes"]["status"] == "available" for s in snapshots)

    shown = requests.get(f"{account.endpoint}/images/{image_id}", headers={"X-Auth-Token": account.token}, timeout=10)
    assert shown.status_code == 200 and shown.json()["image"]["status"] == "ACTIVE"
    deleted = requests.delete(f"{account.endpoint}/images/{image_id}", headers={"X-Auth-Token": account.token}, timeout=10)
    assert deleted.status_code == 204
    gone = requests.get(f"{account.endpoint}/images/{image_id}", headers={"X-Auth-Token": account.token}, timeout=10)
    assert_fault(gone, "NOVA-R004")
    assert [s["id"] for s in account.resources("snapshot")] == [s["id"] for s in snapshots]


def test_the_v2_path_serves_create_image_without_microversions(account):
    """The seed's /v2 path (NOVA-C008) as upstream's legacy v2 compatible mode serves it,
    the reading of NOVA-D007 the reference provider follows: every microversion header is
    ignored, in the request and in the answer, refusals included."""
    v2 = f"{account.provider.base_url}/v2/{account.project_id}/servers"
    headers = {"X-Auth-Token": account.token}
    for asked in ({}, {"X-OpenStack-Nova-API-Version": MICROVERSIONS["image_id_from"]},
                  {"OpenStack-API-Version": "compute latest"}, {"X-OpenStack-Nova-API-Version": "two"}):
        response = requests.post(f"{v2}/{account.server()}/action", json={"createImage": {"name": "on-v2"}},
                                 headers={**headers, **asked}, timeout=10)
        assert response.status_code == 202 and not response.content, (asked, response.text)
        image_id = response.headers["Location"].rsplit("/", 1)[-1]
        assert account.read(image_id)["name"] == "on-v2"
        assert "X-OpenStack-Nova-API-Version" not in response.headers and "OpenStack-API-Version" not in response.headers
    refused = requests.post(f"{v2}/{account.server()}/action", json={"createImage": {}},
                            headers={**headers, "X-OpenStack-Nova-API-Version": "2.45"}, timeout=10)
    assert_fault(refused, "NOVA-P004")
    assert "X-OpenStack-Nova-API-Version" not in refused.headers
