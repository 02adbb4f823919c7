"""The reference provider under hostile input: an oversized form, a replayed nonce, a
bad control body, a request that never ends, a quota raced for. Each is answered with
the dialect's documented error (or the control protocol's 400), never a 5xx, never
held forever, and one heavy request does not hold up the others."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from imagecert.contracts import load_catalog
from imagecert.provider.dialect import Settings
from imagecert.provider.server import exposure_warning, start
from imagecert.target import parse_target
from imagecert.world import World

SETTINGS = Settings()


@pytest.fixture(scope="module")
def provider():
    running = start()
    yield running
    running.stop()


@pytest.fixture
def worlds(provider):
    made: dict[str, World] = {}

    def world(dialect: str) -> World:
        made[dialect] = World(parse_target(provider.targets()[dialect]))
        return made[dialect]

    yield world
    for each in made.values():
        each.close()


def documented(dialect: str, rule_id: str) -> tuple[int, str | None]:
    entry = load_catalog(dialect)[rule_id]
    if entry.kind == "return-code":
        return entry.http_status, entry.code
    return entry.expect.status, entry.expect.code


def apsara_code(answer: requests.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.json().get("Code")


def jd_code(answer: requests.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.json()["error"]["status"]


# -- the oversized form -----------------------------------------------------------------


def test_a_form_with_more_fields_than_any_valid_one_is_refused_as_malformed(worlds):
    world = worlds("apsara-ecs")
    instance = world.make("instance", role="instance.running")
    fields = {"RegionId": world.scope["region_id"], "InstanceId": instance}
    fields.update({f"Tag.{n}.Key": f"k{n}" for n in range(1, SETTINGS.max_form_fields)})
    answer = world.api.call("CreateImage", form=fields)
    assert apsara_code(answer) == documented("apsara-ecs", "APS-C007"), answer.text
    assert "parameters" in answer.json()["Message"]
    assert world.resources("image") == []


def test_a_field_given_twice_is_refused_however_many_there_are(worlds):
    world = worlds("apsara-ecs")
    body = "&".join([f"RegionId={world.scope['region_id']}"] + [f"X{n}=v" for n in range(500)] + ["X7=again"])
    answer = world.api.call("DescribeImages", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert apsara_code(answer) == documented("apsara-ecs", "APS-C007"), answer.text
    assert "X7" in answer.json()["Message"]


def test_more_data_disks_than_device_names_is_refused_as_the_dataDisks_rule(worlds):
    world = worlds("jdcloud-vm")
    instance = world.make("instance", role="instance.running")
    disks = [{"deviceName": f"vd{a}{b}"} for a in "abcdefghij" for b in "abcdefghij"]  # 100 > vdb~vdbm
    answer = world.api.call("createImage", path={"instanceId": instance}, json={"name": "many", "dataDisks": disks})
    assert jd_code(answer) == documented("jdcloud-vm", "JD-P005"), answer.text
    assert world.resources("image") == []


def test_a_request_being_handled_does_not_hold_up_the_others(provider, worlds, monkeypatch):
    """A large body is handled in a worker thread, and so is a small request that finds the
    store held by one: the event loop goes on answering meanwhile."""
    world = worlds("jdcloud-vm")
    dialect = provider.provider.dialects["jdcloud-vm"]
    entered, release = threading.Event(), threading.Event()
    handlers = dialect.handlers()

    def slow_create(call):
        entered.set()
        release.wait(timeout=30)
        return handlers["createImage"](call)

    monkeypatch.setattr(dialect, "handlers", lambda: {**handlers, "createImage": slow_create})
    workers, handed_over = provider.provider.workers, threading.Event()
    hand_over = workers.run

    def run(function, allowed, wire):
        if wire.method == "GET":  # the small request, sent while the store is held
            handed_over.set()
        return hand_over(function, allowed, wire)

    monkeypatch.setattr(workers, "run", run)
    answers = {}

    def send(label, operation, **kwargs):
        answers[label] = world.api.call(operation, **kwargs)

    large = {"name": "large", "description": "x" * (provider.provider.settings.inline_body_bytes + 1)}
    held = threading.Thread(target=send, args=("large", "createImage"),
                            kwargs={"path": {"instanceId": "i-none"}, "json": large})
    small = threading.Thread(target=send, args=("small", "describeImage"), kwargs={"path": {"imageId": "img-x"}})
    held.start()
    try:
        assert entered.wait(timeout=30)
        small.start()
        # the small request waits for the store in a worker thread, not on the event loop...
        assert handed_over.wait(timeout=30), "a small request that found the store held was not handed over"
        # ...which still answers while the handler is busy in its worker thread
        assert requests.get(provider.control_url + "/", timeout=10).status_code == 200
    finally:
        release.set()
        held.join(timeout=30)
        small.join(timeout=30)
    assert answers["small"].status_code == documented("jdcloud-vm", "JD-C010")[0], answers["small"].text
    assert 400 <= answers["large"].status_code < 500, answers["large"].text


# -- job retention ------------------------------------------------------------------------


def test_finished_jobs_leave_the_pending_set_and_only_the_newest_stay_queryable():
    running = start(dialects=["huawei-ims"], settings=Settings(job_seconds=600, finished_jobs_kept=2))
    world = World(parse_target(running.targets()["huawei-ims"]))
    try:
        jobs = []
        for n in range(3):
            made = world.api.call("createWholeImage", json={"name": f"img-{n}", "instance_id": world.make("instance")})
            assert made.status_code == 200, made.text
            jobs.append(made.json()["job_id"])
        assert len(running.provider.store.jobs) == 3
        world.settle()
        assert running.provider.store.jobs == {}
        oldest, *newest = (world.api.call("showJob", path={"job_id": j}) for j in jobs)
        assert [a.json()["status"] for a in newest] == ["SUCCESS", "SUCCESS"]
        assert oldest.status_code == documented("huawei-ims", "IMS-B008")[0], oldest.text
    finally:
        world.close()
        running.stop()


def test_create_and_delete_cycles_leave_no_job_behind(provider, worlds):
    world = worlds("jdcloud-vm")
    instance = world.make("instance", role="instance.running")
    for n in range(5):
        made = world.api.call("createImage", path={"instanceId": instance}, json={"name": f"cycle-{n}"})
        assert made.status_code == 200, made.text
        world.settle()
        deleted = world.api.call("deleteImage", path={"imageId": made.json()["result"]["imageId"]})
        assert deleted.status_code == 200, deleted.text
    pending = [j for j in provider.provider.store.jobs.values() if j.tenant_id == world.tenant_id]
    assert pending == []


# -- replayed nonces ----------------------------------------------------------------------


def send_twice(world: World, operation: str, **kwargs) -> tuple[requests.Response, requests.Response]:
    """One signed request, sent as it is twice: a captured request replayed."""
    method, url = world.api.url_for(operation, kwargs.pop("path", None))
    prepared = requests.Request(method, url, auth=world.api.auth, **kwargs).prepare()
    with requests.Session() as http:
        return http.send(prepared.copy()), http.send(prepared.copy())


@pytest.mark.parametrize("dialect, rule_id, nonce_header", [
    ("jdcloud-vm", "JD-C013", "x-jdcloud-nonce"),
    ("apsara-ecs", "APS-C009", "x-acs-signature-nonce"),
])
def test_a_replayed_nonce_is_refused_and_makes_nothing(worlds, dialect, rule_id, nonce_header):
    world = worlds(dialect)
    instance = world.make("instance", role="instance.running")
    if dialect == "jdcloud-vm":
        first, replay = send_twice(world, "createImage", path={"instanceId": instance}, json={"name": "once"},
                                   headers={nonce_header: "nonce-replayed"})
        code = jd_code(replay)
    else:
        form = {"RegionId": world.scope["region_id"], "InstanceId": instance, "ImageName": "once"}
        first, replay = send_twice(world, "CreateImage", data=form, headers={nonce_header: "nonce-replayed"})
        code = apsara_code(replay)
    assert first.status_code == 200, first.text
    assert code == documented(dialect, rule_id), replay.text
    assert "nonce" in replay.text
    assert len(world.resources("image")) == 1


def test_an_apsara_query_nonce_is_good_once_and_per_access_key(worlds):
    world = worlds("apsara-ecs")
    query = {"RegionId": world.scope["region_id"], "SignatureNonce": "query-nonce"}
    first, replay = send_twice(world, "DescribeImages", params=query, data={"RegionId": world.scope["region_id"]})
    assert first.status_code == 200 and apsara_code(replay) == documented("apsara-ecs", "APS-C009"), replay.text
    other = World(world.target)  # a tenant of its own, with its own access key
    try:
        theirs, _ = send_twice(other, "DescribeImages", params=query, data={"RegionId": other.scope["region_id"]})
        assert theirs.status_code == 200, theirs.text  # another key's nonces are its own
    finally:
        other.close()


# -- bad control bodies -------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/tenants", nested(1000)),
    ("POST", "/tenants", '{"dialect": "jdcloud-vm", "permissions": "\\ud800"}'),
    ("POST", "/resources", '{"tenant_id": "TENANT", "kind": "instance", "attributes": {"deep": ' + nested(500) + "}}"),
    ("POST", "/resources", '{"tenant_id": "TENANT", "kind": "instance", "attributes": {"name": "\\ud800"}}'),
    ("POST", "/resources", '{"tenant_id": "TENANT", "kind": "instance", "attributes": {"\\udfff": 1}}'),
    ("POST", "/resources", '{"tenant_id": "TENANT", "kind": "instance", "attributes": {"data_disks": "abc"}}'),
    ("POST", "/resources", '{"tenant_id": "TENANT", "kind": "instance", "attributes": {"system_disk": [1]}}'),
    ("POST", "/resources", '{"tenant_id": "TENANT", "kind": "instance", "attributes": {"data_disks": [{"size_gb": "x"}]}}'),
    ("PATCH", "/resources/INSTANCE", '{"attributes": {"data_disks": "abc"}}'),
    ("PATCH", "/resources/INSTANCE", '{"attributes": {"data_disks": [7]}}'),
    ("PUT", "/tenants/TENANT/quotas", '{"images": "five"}'),
    ("POST", "/faults", '{"tenant_id": "TENANT", "operation": "createImage", "status": [500]}'),
    ("POST", "/jobs/settle", "{"),
])
def test_a_bad_control_body_is_a_400_with_a_reason_and_changes_nothing(provider, worlds, method, path, body):
    world = worlds("jdcloud-vm")
    instance = world.make("instance", role="instance.running")
    before = requests.get(f"{provider.control_url}/resources", params={"tenant_id": world.tenant_id}).json()
    path = path.replace("TENANT", world.tenant_id).replace("INSTANCE", instance)
    body = body.replace("TENANT", world.tenant_id)
    answer = requests.request(method, provider.control_url + path, data=body.encode(),
                              headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]
    after = requests.get(f"{provider.control_url}/resources", params={"tenant_id": world.tenant_id})
    assert after.status_code == 200 and after.json() == before
    # and the API still works on what is there
    made = world.api.call("createImage", path={"instanceId": instance}, json={"name": "still-fine"})
    assert made.status_code == 200, made.text


@pytest.mark.parametrize("dialect, operation, body", [
    ("jdcloud-vm", "createImage", lambda w, i: {"path": {"instanceId": i}, "json": {"name": "bare"}}),
    ("huawei-ims", "createWholeImage", lambda w, i: {"json": {"name": "bare", "instance_id": i}}),
    ("huawei-nova", "createImage", lambda w, i: {"path": {"server_id": i}, "json": {"createImage": {"name": "bare"}}}),
    ("apsara-ecs", "CreateImage", lambda w, i: {"form": {"RegionId": w.scope["region_id"], "InstanceId": i}}),
])
def test_an_instance_with_bare_disks_is_answered_without_a_5xx(worlds, dialect, operation, body):
    world = worlds(dialect)
    instance = world.make("instance", system_disk={}, data_disks=[{}, {"category": "cloud"}])
    answer = world.api.call(operation, **body(world, instance))
    assert answer.status_code < 500, answer.text


# -- a newline in the path ----------------------------------------------------------------


@pytest.mark.parametrize("dialect, path, rule_id, code_of", [
    ("jdcloud-vm", "/v1/regions/REGION/images/a%0Ab", "JD-C010", jd_code),  # no such image
    ("jdcloud-vm", "/v1/regions/REGION/images/a%0A", "JD-C010", jd_code),
    ("apsara-ecs", "/apsara/route/Ecs/Describe%0AImages", "APS-C008", apsara_code),  # no such path
])
def test_a_newline_in_the_path_is_answered_in_the_dialects_error_body(worlds, dialect, path, rule_id, code_of):
    world = worlds(dialect)
    answer = world.api.send("GET", world.api.base_url + path.replace("REGION", world.scope["region_id"]))
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    assert code_of(answer) == documented(dialect, rule_id), answer.text


@pytest.mark.parametrize("path", ["/v1/cloudimages/a%0Ab", "/v2.1/a%0Ab/servers"])
def test_a_newline_in_a_huawei_path_gets_a_json_refusal(provider, path):
    answer = requests.get(provider.base_url + path)
    assert 400 <= answer.status_code < 500 and answer.headers["content-type"].startswith("application/json"), answer.text
    assert answer.json()


def test_a_newline_in_a_control_path_gets_the_control_error_body(provider):
    answer = requests.get(provider.control_url + "/resources/a%0Ab")
    assert answer.status_code == 404 and answer.json()["error"], answer.text


# -- quotas under concurrency ---------------------------------------------------------------

RACERS = 16
QUOTA = 3


def create_image(world: World, instance: str) -> requests.Response:
    """createImage, as each dialect spells it, from one instance."""
    if world.dialect == "jdcloud-vm":
        return world.api.call("createImage", path={"instanceId": instance}, json={"name": "racer"})
    if world.dialect == "huawei-ims":
        return world.api.call("createWholeImage", json={"name": "racer", "instance_id": instance})
    if world.dialect == "huawei-nova":
        return world.api.call("createImage", path={"server_id": instance}, json={"createImage": {"name": "racer"}})
    return world.api.call("CreateImage", form={"RegionId": world.scope["region_id"], "InstanceId": instance})


@pytest.mark.parametrize("dialect, quota_rule, code_of", [
    ("jdcloud-vm", "JD-R016", jd_code),
    ("huawei-ims", "IMS-C020", lambda a: (a.status_code, a.json()["error"]["code"])),
    ("huawei-nova", "NOVA-R007", lambda a: (a.status_code, next(iter(a.json())))),
    ("apsara-ecs", "APS-C004", apsara_code),
])
def test_racing_creates_never_pass_the_image_quota(worlds, dialect, quota_rule, code_of):
    world = worlds(dialect)
    world.quota(images=QUOTA)
    instances = [world.make("instance", role="instance.running") for _ in range(RACERS)]
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        answers = list(pool.map(lambda instance: create_image(world, instance), instances))
    accepted = [a for a in answers if a.status_code < 300]
    assert len(accepted) == QUOTA, [a.status_code for a in answers]
    for refused in (a for a in answers if a.status_code >= 300):
        assert code_of(refused) == documented(dialect, quota_rule), refused.text
    assert len(world.resources("image")) == QUOTA


# -- requests that never finish -------------------------------------------------------------


@pytest.fixture(scope="module")
def impatient():
    """A provider with short connection deadlines, so that the tests wait little."""
    running = start(dialects=["jdcloud-vm"], settings=Settings(header_seconds=0.5, body_seconds=0.5))
    yield running
    running.stop()


def exchange(provider, raw: bytes) -> bytes:
    """Send raw bytes, then read until the server closes the connection (a bounded wait:
    a server that holds the connection fails the test with a socket timeout)."""
    host, port = provider.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def status_of(received: bytes) -> int:
    return int(received.split(b" ", 2)[1])


def test_a_request_line_without_headers_is_answered_408_and_closed(impatient):
    received = exchange(impatient, b"GET /v1/regions/r/images/i HTTP/1.1\r\n")
    assert status_of(received) == 408, received


def test_a_connection_that_sends_nothing_is_closed(impatient):
    assert exchange(impatient, b"") == b""


@pytest.mark.parametrize("framing", [
    b"Content-Length: 100\r\n\r\n" + b"x" * 10,                 # shorter than announced
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nab",               # a chunk never finished
])
def test_a_body_that_never_arrives_in_full_gets_the_dialects_malformed_answer(impatient, framing):
    region = impatient.dev_tenants["jdcloud-vm"].scope["region_id"]
    received = exchange(impatient, b"POST /v1/regions/%s/instances/i-x:createImage HTTP/1.1\r\n"
                                   b"Host: x\r\nContent-Type: application/json\r\n" % region.encode() + framing)
    status, code = documented("jdcloud-vm", "JD-C012")
    assert status_of(received) == status, received
    assert b'"status": "%s"' % code.encode() in received and b"did not arrive" in received


def test_headers_longer_than_the_limit_are_refused(impatient):
    received = exchange(impatient, b"GET /v1/regions/r/images/i HTTP/1.1\r\nX-Long: "
                        + b"a" * (SETTINGS.max_header_bytes + 1) + b"\r\n\r\n")
    assert status_of(received) == 400, received[:200]


def test_headers_past_the_limit_are_refused_however_they_arrive_and_within_it_answered(impatient):
    head = b"GET /v1/regions/r/images/i HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Long: "
    within = exchange(impatient, head + b"a" * (SETTINGS.max_header_bytes // 2) + b"\r\n\r\n")
    assert status_of(within) == documented("jdcloud-vm", "JD-C013")[0], within[:200]  # unsigned: the app refuses it
    past = exchange(impatient, head + b"a" * (SETTINGS.max_header_bytes + 1) + b"\r\n\r\n")
    assert status_of(past) == 400, past[:200]


@pytest.mark.parametrize("hosts", [b"", b"Host: a\r\nHost: b\r\n"])
def test_an_http_1_1_request_without_exactly_one_host_is_refused(impatient, hosts):
    received = exchange(impatient, b"GET /v1/regions/r/images/i HTTP/1.1\r\n" + hosts + b"Connection: close\r\n\r\n")
    assert status_of(received) == 400, received[:200]


# -- the control protocol beyond loopback ---------------------------------------------------


@pytest.mark.parametrize("host, warned", [
    ("127.0.0.1", False), ("::1", False), ("localhost", False), ("127.0.0.2", False),
    ("0.0.0.0", True), ("::", True), ("192.168.1.10", True), ("build-host.example", True),
])
def test_listening_beyond_loopback_warns_about_the_open_control_protocol(host, warned):
    warning = exposure_warning(host)
    assert bool(warning) == warned
    if warned:
        assert "control protocol" in warning and host in warning


def test_the_default_listens_on_loopback(provider):
    assert provider.base_url.startswith("http://127.0.0.1:")
