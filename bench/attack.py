"""The reference provider and the suites as a hostile client finds them (issue 17).

    .venv/bin/python bench/attack.py [--garbage N] [--racers N] [--no-suites]

Starts the embedded provider on 127.0.0.1 (short connection deadlines, so that a request
that never ends costs seconds), and sends, every loop bounded in count and time:
- malformed requests to every dialect's create and to the control protocol: bad JSON, deep
  nesting, invalid UTF-8, lone surrogates, wrong content types, long paths, null bytes and
  newlines in paths, wrong methods, oversized forms and disk lists, signed and unsigned;
- bad control bodies (deep nesting, surrogates, wrong types);
- raw requests that never finish (a bare request line, a short body, broken chunking);
- replays of signed requests with a nonce (JD's x-jdcloud-nonce, Apsara's header and
  query SignatureNonce);
- quota races: `--racers` creates at once on as many instances with an image quota of 5;
- unless --no-suites: each dialect's fuzz suite in control mode (5 examples), and a
  static-mode suite test stopped by SIGINT while its create's answer is held, counting
  the images left behind.

Prints one table: requests sent, 5xx, unanswered, accepted replays, quota overruns,
images left behind, worst request time. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from imagecert.contracts import DIALECTS
from imagecert.provider import server
from imagecert.provider.dialect import Settings
from imagecert.target import parse_target
from imagecert.world import World

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 20.0  # a request with no answer by then is counted unanswered
QUOTA = 5
CREATE = {
    "jdcloud-vm": lambda w, i, body=None: ("createImage", {"path": {"instanceId": i}}, body or {"name": "attack"}),
    "huawei-ims": lambda w, i, body=None: ("createWholeImage", {}, body or {"name": "attack", "instance_id": i}),
    "huawei-nova": lambda w, i, body=None: ("createImage", {"path": {"server_id": i}},
                                            body or {"createImage": {"name": "attack"}}),
    "apsara-ecs": lambda w, i, body=None: ("CreateImage", {}, body or {"RegionId": w.scope["region_id"],
                                                                        "InstanceId": i, "ImageName": "attack"}),
}


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = self.server_errors = self.unanswered = 0
        self.replays_accepted = self.quota_overruns = self.images_left = 0
        self.worst_s, self.worst_what = 0.0, ""
        self.notes: list[str] = []

    def answer(self, what: str, started: float, status: int | None) -> None:
        took = time.monotonic() - started
        with self.lock:
            self.sent += 1
            if status is None:
                self.unanswered += 1
                self.notes.append(f"no answer: {what}")
            elif status >= 500:
                self.server_errors += 1
                self.notes.append(f"{status}: {what}")
            if took > self.worst_s:
                self.worst_s, self.worst_what = took, what


def send(tally: Tally, what: str, method: str, url: str, **kwargs) -> requests.Response | None:
    started = time.monotonic()
    try:
        response = requests.request(method, url, timeout=TIMEOUT_S, **kwargs)
    except requests.RequestException:
        tally.answer(what, started, None)
        return None
    tally.answer(what, started, response.status_code)
    return response


def signed(tally: Tally, world: World, what: str, operation: str, **kwargs) -> requests.Response | None:
    started = time.monotonic()
    try:
        response = world.api.call(operation, **kwargs)
    except Exception as error:  # noqa: BLE001 - Unreachable, or a body the client cannot even send
        tally.answer(f"{what} ({error.__class__.__name__}: {str(error)[:80]})", started, None)
        return None
    tally.answer(what, started, response.status_code)
    return response


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


GARBAGE_BODIES = [
    b"{", b"[]", b"null", b"\xff\xfe\xfd", b'{"name": "\\ud800"}', b'{"\\udfff": 1}',
    nested(2000).encode(), ('{"a":' * 1500 + "1" + "}" * 1500).encode(), b"\x00" * 64, b"a=b&c",
    json.dumps({"name": "x" * 100_000}).encode(), b'{"name": 5}', b'{"createImage": []}',
]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""]


def garbage(tally: Tally, running, worlds: dict[str, World], count: int) -> None:
    rng = random.Random(17)
    jobs = []
    for n in range(count):
        dialect = DIALECTS[n % len(DIALECTS)]
        world = worlds[dialect]
        operation, where, _ = CREATE[dialect](world, "i-none")
        method, url = world.api.url_for(operation, where.get("path"))
        body = rng.choice(GARBAGE_BODIES)
        kind = n % 6
        if kind == 0:  # signed garbage: it passes the signature and must be refused by validation
            jobs.append(lambda w=world, o=operation, p=where.get("path"), b=body, t=rng.choice(CONTENT_TYPES):
                        signed(tally, w, f"signed garbage {o}", o, path=p, data=b, headers={"Content-Type": t}))
        elif kind == 1:
            jobs.append(lambda u=url, b=body, t=rng.choice(CONTENT_TYPES):
                        send(tally, f"unsigned garbage {u}", "POST", u, data=b, headers={"Content-Type": t}))
        elif kind == 2:  # odd paths
            odd = rng.choice(["/a%0Ab", "/%00", "/" + "x" * 8000, "/..%2f..%2fetc", "/%ff%fe", "/v1/regions/%0A/images/x"])
            jobs.append(lambda u=running.base_url + odd: send(tally, f"odd path {u[:60]}", "GET", u))
        elif kind == 3:  # wrong methods
            jobs.append(lambda u=url, m=rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]):
                        send(tally, f"{m} {u}", m, u))
        elif kind == 4:  # control garbage
            path = rng.choice(["/tenants", "/resources", "/faults", "/jobs/settle", "/tenants/x/quotas"])
            method = "PUT" if path.endswith("quotas") else "POST"
            jobs.append(lambda u=running.control_url + path, m=method, b=body:
                        send(tally, f"control {m} {u}", m, u, data=b, headers={"Content-Type": "application/json"}))
        else:  # repeated and absent headers
            jobs.append(lambda u=url: send(tally, f"odd headers {u}", "POST", u, data=b"{}",
                                           headers={"Content-Type": "application/json", "Authorization": "x" * 5000,
                                                    "X-Sdk-Date": "not a date", "x-jdcloud-date": "0"}))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda job: job(), jobs))


def oversized(tally: Tally, worlds: dict[str, World]) -> None:
    apsara, jd = worlds["apsara-ecs"], worlds["jdcloud-vm"]
    instance = apsara.make("instance", status="Running")
    form = {"RegionId": apsara.scope["region_id"], "InstanceId": instance}
    form.update({f"Tag.{n}.Key": f"k{n}" for n in range(1, 40_001)})
    signed(tally, apsara, "Apsara CreateImage with 40,000 Tag fields", "CreateImage", form=form)
    query = {"RegionId": apsara.scope["region_id"], **{f"Unknown{n}": "v" for n in range(30_000)}}
    signed(tally, apsara, "Apsara DescribeImages with 30,000 unknown fields", "DescribeImages", form=query)
    instance = jd.make("instance", status="running")
    disks = [{"deviceName": f"vd{n}"} for n in range(25_000)]
    signed(tally, jd, "JD createImage with 25,000 dataDisks", "createImage", path={"instanceId": instance},
           json={"name": "many", "dataDisks": disks})


def bad_control_bodies(tally: Tally, running, worlds: dict[str, World]) -> None:
    world = worlds["jdcloud-vm"]
    instance = world.make("instance", status="running")
    tenant = world.tenant_id
    cases = [
        ("POST", "/tenants", nested(1000)),
        ("POST", "/tenants", '{"dialect": "jdcloud-vm", "permissions": "\\ud800"}'),
        ("POST", "/resources", f'{{"tenant_id": "{tenant}", "kind": "instance", "attributes": {{"d": {nested(500)}}}}}'),
        ("POST", "/resources", f'{{"tenant_id": "{tenant}", "kind": "instance", "attributes": {{"name": "\\ud800"}}}}'),
        ("PATCH", f"/resources/{instance}", '{"attributes": {"data_disks": "abc"}}'),
        ("PUT", f"/tenants/{tenant}/quotas", '{"images": "five"}'),
        ("POST", "/faults", f'{{"tenant_id": "{tenant}", "operation": "createImage", "status": [500]}}'),
        ("POST", "/jobs/settle", "{"),
    ]
    for method, path, body in cases:
        send(tally, f"control {method} {path}", method, running.control_url + path, data=body.encode(),
             headers={"Content-Type": "application/json"})
    send(tally, "control GET /resources after the bad bodies", "GET", running.control_url + "/resources",
         params={"tenant_id": tenant})
    signed(tally, world, "JD createImage after a bad PATCH", "createImage", path={"instanceId": instance},
           json={"name": "after"})


def unterminated(tally: Tally, running) -> None:
    host, port = running.base_url.removeprefix("http://").rsplit(":", 1)
    path = "/v1/regions/cn-north-1/instances/i-x:createImage"
    raws = [
        b"POST " + path.encode() + b" HTTP/1.1\r\n",  # a bare request line
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}",  # a short body
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",  # broken chunks
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers that never end
        b"",  # a connection that sends nothing
    ]

    def one(raw: bytes) -> None:
        started = time.monotonic()
        try:
            with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as sock:
                sock.sendall(raw)
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
        except OSError:
            tally.answer(f"raw {raw[:40]!r}", started, None)
            return
        status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0  # 0: closed, no answer due
        tally.answer(f"raw {raw[:40]!r}", started, status)

    with ThreadPoolExecutor(max_workers=len(raws)) as pool:
        list(pool.map(one, raws * 4))


def replays(tally: Tally, worlds: dict[str, World]) -> None:
    def twice(world: World, what: str, operation: str, headers: dict[str, str], **kwargs) -> None:
        method, url = world.api.url_for(operation, kwargs.pop("path", None))
        prepared = requests.Request(method, url, auth=world.api.auth, headers=headers, **kwargs).prepare()
        with requests.Session() as http:
            for attempt in ("first", "replay"):
                started = time.monotonic()
                try:
                    answer = http.send(prepared.copy(), timeout=TIMEOUT_S)
                except requests.RequestException:
                    tally.answer(f"{what} ({attempt})", started, None)
                    continue
                tally.answer(f"{what} ({attempt})", started, answer.status_code)
                if attempt == "replay" and answer.status_code < 300:
                    with tally.lock:
                        tally.replays_accepted += 1
                        tally.notes.append(f"replay accepted: {what}")

    jd, apsara = worlds["jdcloud-vm"], worlds["apsara-ecs"]
    for n in range(3):
        instance = jd.make("instance", status="running")
        twice(jd, "JD createImage, same x-jdcloud-nonce", "createImage", {"x-jdcloud-nonce": f"n-{n}"},
              path={"instanceId": instance}, json={"name": f"replay{n}"})
        instance = apsara.make("instance", status="Running")
        twice(apsara, "Apsara CreateImage, same x-acs-signature-nonce", "CreateImage",
              {"x-acs-signature-nonce": f"n-{n}"},
              data={"RegionId": apsara.scope["region_id"], "InstanceId": instance, "ImageName": f"replay{n}"})
        twice(apsara, "Apsara DescribeImages, same SignatureNonce", "DescribeImages", {},
              params={"RegionId": apsara.scope["region_id"], "SignatureNonce": f"q-{n}"},
              data={"RegionId": apsara.scope["region_id"]})


def quota_races(tally: Tally, running, racers: int) -> None:
    for dialect in DIALECTS:
        world = World(parse_target(running.targets()[dialect]))
        try:
            world.quota(images=QUOTA)
            status = {"huawei-nova": "ACTIVE", "apsara-ecs": "Running"}.get(dialect, "running")
            attributes = {} if dialect == "huawei-ims" else {"status": status}
            instances = [world.make("instance", **attributes) for _ in range(racers)]

            def create(instance: str) -> requests.Response | None:
                operation, where, body = CREATE[dialect](world, instance)
                sent = {"form": body} if dialect == "apsara-ecs" else {"json": body}
                return signed(tally, world, f"{dialect} racing create", operation, **where, **sent)

            with ThreadPoolExecutor(max_workers=racers) as pool:
                answers = list(pool.map(create, instances))
            accepted = sum(1 for a in answers if a is not None and a.status_code < 300)
            made = len(world.resources("image") or [])
            over = max(accepted, made) - QUOTA
            if over > 0:
                tally.quota_overruns += over
                tally.notes.append(f"{dialect}: {accepted} creates accepted, {made} images, quota {QUOTA}")
        finally:
            world.close()


def live_images(running) -> int:
    store = running.provider.store
    with store.lock:
        return sum(1 for r in store.resources.values()
                   if r.kind == "image" and r.attributes.get("status") != "deleted")


def suites_leave_nothing(tally: Tally) -> None:
    """Each fuzz suite in control mode, and a static-mode run stopped by SIGINT while its
    create's answer is held: the images each leaves behind."""
    import pytest

    from imagecert.certify import QUIET_PYTEST

    sys.path.insert(0, str(ROOT / "tests"))
    from test_no_image_left import hold, is_create, run_suite_test, static_target  # the project's own harness

    with tempfile.TemporaryDirectory() as scratch:
        for dialect in DIALECTS:
            running = server.start(dialects=[dialect], settings=Settings(job_seconds=0.2))
            try:
                target = running.write_targets(Path(scratch) / dialect)[dialect]
                pytest.main([str(ROOT / "suites" / dialect / "test_fuzz.py"), "--target", str(target),
                             "--fuzz-examples", "5", *QUIET_PYTEST])
                left = live_images(running)
                tally.images_left += left
                if left:
                    tally.notes.append(f"{dialect}: the fuzz suite left {left} image(s)")
            finally:
                running.stop()
            running = server.start(dialects=[dialect], settings=Settings(job_seconds=0.2))
            try:
                path, _ = static_target(running, dialect, Path(scratch) / f"{dialect}-static.toml")
                handled, release = hold(running, dialect, is_create(dialect))
                run = run_suite_test(dialect, path)
                try:
                    if handled.wait(60):
                        run.send_signal(signal.SIGINT)
                        time.sleep(1.0)
                    release.set()
                    run.communicate(timeout=120)
                finally:
                    release.set()
                    if run.poll() is None:
                        run.kill()
                left = live_images(running)
                tally.images_left += left
                if left:
                    tally.notes.append(f"{dialect}: the static run stopped by SIGINT in a create left {left} image(s)")
            finally:
                running.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--garbage", type=int, default=2000, help="malformed requests (default 2000)")
    parser.add_argument("--racers", type=int, default=64, help="creates racing for a quota of 5 (default 64)")
    parser.add_argument("--no-suites", action="store_true", help="skip the suite runs (images left behind)")
    args = parser.parse_args()

    tally = Tally()
    started = time.monotonic()
    running = server.start(settings=Settings(header_seconds=2.0, body_seconds=2.0))
    try:
        worlds = {d: World(parse_target(running.targets()[d])) for d in DIALECTS}
        garbage(tally, running, worlds, args.garbage)
        oversized(tally, worlds)
        bad_control_bodies(tally, running, worlds)
        unterminated(tally, running)
        replays(tally, worlds)
        quota_races(tally, running, args.racers)
        for world in worlds.values():
            world.close()
    finally:
        running.stop()
    if not args.no_suites:
        suites_leave_nothing(tally)

    rows = [("requests sent", tally.sent), ("5xx", tally.server_errors), ("unanswered", tally.unanswered),
            ("accepted replays", tally.replays_accepted), ("quota overruns", tally.quota_overruns),
            ("images left behind", "-" if args.no_suites else tally.images_left),
            ("worst request time", f"{tally.worst_s:.2f} s ({tally.worst_what})")]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))
    print(f"(probe took {time.monotonic() - started:.0f} s)")
    for note in tally.notes[:20]:
        print("  " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
