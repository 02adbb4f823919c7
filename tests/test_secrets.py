"""One redaction policy for every artifact (imagecert.secrets).

The canary: a suite test sends an Apsara CreateImage with a `Password` form field and
gets answers that set a session cookie (a proxy in front of the reference provider adds
`Set-Cookie` to each), then fails through a check so that its exchanges are shown. The
run records a cassette and writes the reports, JUnit and allure results; neither the
password nor the cookie may be in any of them, nor in the console output.
"""

from __future__ import annotations

import http.client
import http.server
import os
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest

from imagecert import secrets
from imagecert.contracts import load_catalog
from imagecert.provider import server
from imagecert.target import write_target

PASSWORD = "hunter2" + "secret"  # never written whole in a file the run could show
COOKIE = "sess" + "ion-canary-c00k1e"
RUN_TIMEOUT_S = 120

CANARY_TEST = '''
import os

from imagecert.checks import check


@pytest.mark.constraint({rule!r})
def test_canary(world):
    form = {{"RegionId": world.scope["region_id"], "ImageName": "canary", "InstanceId": "i-canary",
             "Password": os.environ["CANARY_PASSWORD"]}}
    world.api.call("CreateImage", form=form)
    check(world.api, {rule!r}, False, "the canary test fails on purpose, to show its exchanges")
'''


def test_the_policy_hides_headers_query_json_and_form_fields():
    assert secrets.redact_headers({"Set-Cookie": "sid=x", "Cookie": "a=b", "X-Auth-Token": "t",
                                   "Authorization": "acs AK:sig", "Content-Type": "text/plain"}) == {
        "Set-Cookie": "<redacted>", "Cookie": "<redacted>", "X-Auth-Token": "<redacted>",
        "Authorization": "<redacted>", "Content-Type": "text/plain"}
    assert secrets.redact_headers({"set-cookie": ["a", "b"]}) == {"set-cookie": ["<redacted>", "<redacted>"]}
    assert secrets.redact_body(f"ImageName=x&Password={PASSWORD}&Tag.1.Key=k") == (
        "ImageName=x&Password=%3Credacted%3E&Tag.1.Key=k")
    assert PASSWORD not in secrets.redact_body(f'{{"server": {{"adminPass": "{PASSWORD}", "name": "n"}}}}')
    assert secrets.redact_body('{"name": "n"}') == '{"name": "n"}'
    assert secrets.redact_query("Signature=abc&Name=x") == "Signature=%3Credacted%3E&Name=x"


class CookieProxy(http.server.BaseHTTPRequestHandler):
    """Forwards every request to the provider and adds a session cookie to its answer."""

    upstream = ""

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        answer = connection.getresponse()
        content = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Set-Cookie", f"sid={COOKIE}; Path=/; HttpOnly")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        connection.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxied_target(tmp_path):
    running = server.start(dialects=("apsara-ecs",))
    handler = type("Proxy", (CookieProxy,), {"upstream": running.base_url})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        document = running.targets()["apsara-ecs"]
        proxied = f"http://127.0.0.1:{proxy.server_address[1]}"
        document["base_url"] = proxied
        document["provisioning"]["control_url"] = document["provisioning"]["control_url"].replace(
            running.base_url, proxied)
        yield write_target(document, tmp_path / "apsara-ecs.toml")
    finally:
        proxy.shutdown()
        running.stop()


def test_a_password_field_and_a_session_cookie_reach_no_artifact(proxied_target, tmp_path):
    rule = next(iter(load_catalog("apsara-ecs").by_id))
    suite = tmp_path / "suites" / "apsara-ecs"
    suite.mkdir(parents=True)
    (suite / "test_canary.py").write_text("import pytest\n" + CANARY_TEST.format(rule=rule), "utf-8")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-rA", "-vv",
            "--import-mode=importlib", str(suite), "--target", str(proxied_target),
            "--record", "--cassette-dir", str(out / "cassettes"), "--report-dir", str(out / "reports"),
            "--alluredir", str(out / "allure"), "--junitxml", str(out / "pytest-junit.xml")]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                         env={**os.environ, "CANARY_PASSWORD": PASSWORD})
    console = run.stdout + run.stderr
    assert run.returncode == 1 and "the canary test fails on purpose" in console, console[-3000:]

    written = {str(p.relative_to(out)): p.read_text("utf-8", "replace") for p in out.rglob("*") if p.is_file()}
    kinds = {"cassettes/": ".yaml", "reports/apsara-ecs/": "compliance.json", "reports/": "junit.xml",
             "allure/": "-attachment.txt"}
    for folder, ending in kinds.items():
        assert any(n.startswith(folder) and n.endswith(ending) for n in written), f"no {folder}*{ending} written"
    everything = {**written, "console output": console}
    for canary in (PASSWORD, COOKIE):
        leaked = sorted(name for name, text in everything.items() if canary in text)
        assert not leaked, f"{canary!r} was written into {leaked}"
    # the canaries really went through: hidden, not absent
    cassette = next(text for name, text in written.items() if name.endswith("test_canary.yaml"))
    assert "Password=%3Credacted%3E" in cassette and "<redacted>" in cassette
    attachments = "".join(text for name, text in written.items() if name.endswith("-attachment.txt"))
    assert "Password=%3Credacted%3E" in attachments and "Set-Cookie: <redacted>" in attachments
    assert "Password=%3Credacted%3E" in console and "Set-Cookie: <redacted>" in console


def test_a_body_nested_too_deeply_to_read_is_not_shown_and_does_not_crash_the_client():
    body = "[" * 5000 + '{"password": "hunter2"}' + "]" * 5000
    shown = secrets.redact_body(body)
    assert "hunter2" not in shown and "nested too deeply" in shown
