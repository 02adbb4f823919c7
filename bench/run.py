"""How fast certification runs on this machine, and where the time goes.

    .venv/bin/python bench/run.py [--fuzz-examples N] [--load-seconds S] [--repeat K]

Prints, and writes to bench/results/<date>.json (<date>-<part>.json for `--only <part>`):
- wall time of `imagecert certify` over all four dialects, serial and with -n 2, and the
  speed-up; `--repeat K` runs the three certify runs (serial, -n 2, replay) K times
  interleaved and takes each one's median, with the load average around each run (the
  machine may be shared);
- fuzz throughput (examples per second) per dialect, from that run's reports;
- per dialect, `pytest suites/<dialect>/test_fuzz.py` next to the bare schemathesis
  command line (`st run`, signed by bench/st_sign.py) on the same contract, against one
  `imagecert mock` and with the same example budget, interleaved, median of
  `--fuzz-runs` (3): examples/s of each, and the time (wall, and the client process'
  CPU) per example of imagecert's over bare st's; with `--baseline-src`, another
  checkout's suites too (before/after in one run);
- offline replay of the committed cassettes (`imagecert certify --replay`), and its wall
  time as a share of the live serial certify it replaces; with `--baseline-src`, the
  three certify runs of another checkout too, in the same rotation;
- the reference provider under load, per dialect: valid signed createImage calls (each on
  its own running instance) and unauthenticated reads from several client processes, next
  to a bare Starlette + uvicorn JSON route started in the same run (on h11 and asyncio's
  loop, and also on httptools and uvloop, as the provider runs, when those are installed);
  req/s, p50/p99 latency
  and the server's CPU time per request (from /proc/<pid>/stat, read around the load only),
  and each figure's ratio over the bare route;
- certify's speed-up with -n 2, and peak memory (RSS) of the processes it ran.
`--only provider` runs the load part alone (about a minute), `--only certify` the certify and
replay part, `--only fuzz` the fuzz part; each writes bench/results/<date>-<part>.json (a
later run the same day: <date>[-<part>]-2.json, -3, …; no run overwrites another).
Every load it makes goes to 127.0.0.1 only, and every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from imagecert.contracts import DIALECTS
from imagecert.fuzz import under_test
from imagecert.target import load_target
from imagecert.world import Control, auth_for

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOAD_REQUESTS_MAX = 5000


def timed(command: list[str], checkout: Path = ROOT) -> tuple[float, subprocess.CompletedProcess]:
    """A command run in a checkout, its imagecert that checkout's src/."""
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=checkout, env=env)
    return time.perf_counter() - started, done


def imagecert_command(*arguments: str) -> list[str]:
    """The `imagecert` command of whichever checkout is on PYTHONPATH (the installed script is this tree's)."""
    return [sys.executable, "-m", "imagecert.cli", *arguments]


def certify_run(report_dir: Path, fuzz_examples: int, workers: str | None, checkout: Path = ROOT) -> dict:
    command = imagecert_command("certify", "--report-dir", str(report_dir),
                                "--fuzz-examples", str(fuzz_examples), "--seed", "1")
    if workers:
        command += ["-n", workers]
    return _certify(command, checkout)


def _certify(command: list[str], checkout: Path = ROOT) -> dict:
    load_before = os.getloadavg()[0]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, done = timed(command, checkout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"certify could not run ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return {"wall_s": round(seconds, 2), "exit": done.returncode,
            "cpu_s": round(usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime, 2),
            "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's wall time beside it."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    return {**ordered[(len(ordered) - 1) // 2], "runs_wall_s": [r["wall_s"] for r in runs]}


def fuzz_throughput(report_dir: Path) -> dict:
    figures = {}
    for dialect in DIALECTS:
        path = report_dir / dialect / "compliance.json"
        if not path.is_file():
            continue
        document = json.loads(path.read_text("utf-8"))
        seconds = sum(t["duration_s"] for t in document["tests"] if "fuzz" in t["nodeid"])
        examples = document["fuzz"]["examples"]
        figures[dialect] = {"examples": examples, "seconds": round(seconds, 2),
                            "examples_per_s": round(examples / seconds, 1) if seconds else None}
    return figures


# -- fuzzing: imagecert's fuzz suite next to bare `st run`, same server and budget -------
# The path (and query) parameters bare `st run` is given, per dialect: a real region and
# project, and a running instance the control protocol makes for each run.
ST_PARAMETERS = {
    "jdcloud-vm": lambda scope, instance: {"path.regionId": scope["region_id"], "path.instanceId": instance},
    "huawei-nova": lambda scope, instance: {"path.project_id": scope["project_id"], "path.server_id": instance},
    "huawei-ims": lambda scope, instance: {},
    "apsara-ecs": lambda scope, instance: {"query.RegionId": scope["region_id"]},
}


def _measured(command: list[str], cwd: Path, env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds (user + system, the child alone) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def _imagecert_fuzz(checkout: Path, dialect: str, target: Path, fuzz_examples: int, scratch: Path) -> dict:
    """`pytest suites/<dialect>/test_fuzz.py` of a checkout against the target: its examples from the report."""
    report = scratch / "report"
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    wall, cpu, done = _measured([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", f"suites/{dialect}/test_fuzz.py",
                                 "--target", str(target), "--fuzz-examples", str(fuzz_examples),
                                 "--report-dir", str(report)], checkout, env)
    path = report / dialect / "compliance.json"
    examples = json.loads(path.read_text("utf-8"))["fuzz"]["examples"] if path.is_file() else 0
    return {"wall_s": wall, "cpu_s": cpu, "examples": examples, "exit": done.returncode,
            "tail": done.stdout.strip().splitlines()[-1:]}


def _bare_st(dialect: str, target: Path, control: Control, tenant_id: str, scope: dict, fuzz_examples: int,
             scratch: Path) -> dict:
    """Bare `st run` on the dialect's contract and operation under test, signed like a client
    (bench/st_sign.py), its path parameters naming a fresh running instance."""
    instance = control.call("POST", "/resources", {"tenant_id": tenant_id, "kind": "instance", "attributes": {}})["id"]
    config = scratch / "schemathesis.toml"
    lines = ["[phases.coverage]", "unexpected-methods = []", "", "[parameters]"]
    lines += [f'"{name}" = "{value}"' for name, value in ST_PARAMETERS[dialect](scope, instance).items()]
    config.write_text("\n".join(lines) + "\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'bench'}", "SCHEMATHESIS_HOOKS": "st_sign",
           "IMAGECERT_BENCH_TARGET": str(target)}
    wall, cpu, done = _measured([str(BIN / "st"), "--config-file", str(config), "run",
                                 str(ROOT / f"contracts/{dialect}/openapi.yaml"),
                                 "--url", load_target(target).base_url, "--max-examples", str(fuzz_examples),
                                 "--seed", "1", "--no-color", "--include-operation-id", under_test(dialect),
                                 "--phases", "examples,coverage,fuzzing", "--continue-on-failure"], ROOT, env)
    generated = [line for line in done.stdout.splitlines() if " generated" in line]
    examples = int(generated[-1].split()[0]) if generated else 0
    return {"wall_s": wall, "cpu_s": cpu, "examples": examples, "exit": done.returncode}


def _median_run(runs: list[dict]) -> dict:
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    examples = statistics.median(r["examples"] for r in runs)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "examples": examples,
            "examples_per_s": round(examples / wall, 1) if wall else None,
            "cpu_ms_per_example": round(cpu / examples * 1000, 1) if examples else None,
            "exits": sorted({r["exit"] for r in runs})}


def fuzz_vs_bare(fuzz_examples: int, runs: int = 3, baseline: Path | None = None,
                 dialects: list[str] | None = None) -> dict:
    """Per dialect, `runs` times in turn (A/B interleaved): imagecert's fuzz suite (and a
    baseline checkout's, with `baseline`) and bare `st run`, both against one reference
    provider started for the bench (`imagecert mock`), with the same example budget.
    Medians; the ratio is the time per example of imagecert's over bare st's (wall and CPU
    of the client process alone; the server is another process)."""
    checkouts = {"imagecert": ROOT}
    if baseline:
        checkouts["baseline"] = baseline.resolve().parent
    figures: dict = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        mock = _spawn(imagecert_command("mock", "--port", "0", "--emit-targets", str(scratch / "targets")),
                      ROOT / "src")
        try:
            for line in mock.stdout:  # the target files are written before this line
                if line.startswith("Press Ctrl-C"):
                    break
            for dialect in dialects or DIALECTS:
                target = scratch / "targets" / f"{dialect}.toml"
                loaded = load_target(target)
                control = Control(loaded.control_url)
                measured: dict[str, list[dict]] = {label: [] for label in (*checkouts, "bare_st")}
                for n in range(runs):
                    for label, checkout in checkouts.items():
                        measured[label].append(_imagecert_fuzz(checkout, dialect, target, fuzz_examples,
                                                               scratch / f"{label}-{n}"))
                    (scratch / f"st-{n}").mkdir(exist_ok=True)
                    measured["bare_st"].append(_bare_st(dialect, target, control, loaded.tenant_id, loaded.scope,
                                                        fuzz_examples, scratch / f"st-{n}"))
                row = {label: _median_run(found) for label, found in measured.items()}
                bare = row["bare_st"]
                for label in checkouts:
                    mine = row[label]
                    if mine["examples"] and bare["examples"]:
                        mine["over_bare_st"] = {
                            "wall_per_example": round((mine["wall_s"] / mine["examples"])
                                                      / (bare["wall_s"] / bare["examples"]), 2),
                            "cpu_per_example": round((mine["cpu_s"] / mine["examples"])
                                                     / (bare["cpu_s"] / bare["examples"]), 2)}
                figures[dialect] = row
                print(f"  {dialect}: " + "; ".join(
                    f"{label} {r['examples_per_s']} examples/s ({r['examples']} in {r['wall_s']} s, "
                    f"{r['cpu_ms_per_example']} ms CPU each)"
                    + (f", ×{r['over_bare_st']['wall_per_example']} wall ×{r['over_bare_st']['cpu_per_example']} CPU"
                       " per example of bare st" if "over_bare_st" in r else "")
                    for label, r in row.items()), flush=True)
        finally:
            mock.terminate()
            mock.wait(timeout=10)
    return figures


def replay_run(report_dir: Path, checkout: Path = ROOT) -> dict:
    """`certify --replay` of a checkout's committed cassettes: the budget and seeds they were
    recorded with (no --fuzz-examples, no --seed)."""
    if not any((checkout / "cassettes").glob("*/*.yaml")):
        return {"skipped": "no committed cassettes"}
    return _certify(imagecert_command("certify", "--replay", "--report-dir", str(report_dir)), checkout)


def certify_figures(fuzz_examples: int, checkout: Path, scratch: Path, label: str) -> dict:
    """One round of certify serial, -n 2 and --replay of a checkout (see `main`)."""
    print(f"certify of {label}, serial …", flush=True)
    serial = certify_run(scratch / f"{label}-serial", fuzz_examples, None, checkout)
    print(f"certify of {label}, -n 2 …", flush=True)
    parallel = certify_run(scratch / f"{label}-n2", fuzz_examples, "2", checkout)
    print(f"certify --replay of {label}'s committed cassettes …", flush=True)
    replayed = replay_run(scratch / f"{label}-replay", checkout)
    return {"serial": serial, "n2": parallel, "replay": replayed}


def certify_summary(rounds: list[dict]) -> dict:
    """Medians of the rounds of one checkout, and its ratios."""
    serial, parallel = median_run([r["serial"] for r in rounds]), median_run([r["n2"] for r in rounds])
    replays = [r["replay"] for r in rounds]
    replay = replays[0] if "skipped" in replays[0] else median_run(replays)
    figures = {"certify_serial": serial, "certify_n2": parallel, "replay": replay,
               "certify_speedup_n2": round(serial["wall_s"] / parallel["wall_s"], 2)}
    if "wall_s" in replay:
        figures["replay_over_live"] = round(replay["wall_s"] / serial["wall_s"], 3)
    return figures


# -- the provider under load, next to a bare ASGI route ---------------------------------
BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def post(request):
    await request.body()
    return JSONResponse({"id": "bench"})

async def get(request):
    return JSONResponse({"id": "bench"})

app = Starlette(routes=[Route("/bare", post, methods=["POST"]), Route("/bare", get, methods=["GET"])])
print("ready", flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            lifespan="off", http=sys.argv[2], loop=sys.argv[3], timeout_keep_alive=5)
"""
# Valid createImage (signed, with state and validation) and an unauthenticated read, per dialect.
CREATE = {
    "jdcloud-vm": ("createImage", lambda scope, instance, n: {"path": {"instanceId": instance},
                                                             "json": {"name": f"bench-{n}"}}),
    "huawei-nova": ("createImage", lambda scope, instance, n: {"path": {"server_id": instance},
                                                              "json": {"createImage": {"name": f"bench-{n}"}}}),
    "huawei-ims": ("createWholeImage", lambda scope, instance, n: {"json": {"name": f"bench_{n}",
                                                                           "instance_id": instance}}),
    "apsara-ecs": ("CreateImage", lambda scope, instance, n: {"form": {"RegionId": scope["region_id"],
                                                                      "ImageName": f"bench-{n}",
                                                                      "InstanceId": instance}}),
}
# (operation, path): answered with the dialect's authentication refusal
READ = {"jdcloud-vm": ("describeImage", {"imageId": "img-bench"}),
        "huawei-nova": ("showImage", {"image_id": "bench"}),
        "huawei-ims": ("glanceShowImage", {"image_id": "bench"}),
        "apsara-ecs": None}  # its reads are signed RPC POSTs
CLIENTS = 3


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _client(job: dict) -> dict:
    """One load process: its share of the calls, until they are done or the deadline passes."""
    session = requests.Session()
    api = None
    if job["dialect"]:
        from imagecert.client import ApiClient
        api = ApiClient(job["dialect"], job["base_url"], job["scope"], auth_for(job["auth"], job["scope"]))
    latencies, statuses = [], {}
    deadline = job["deadline"]
    for n, instance in enumerate(job["instances"]):
        if time.time() > deadline:
            break
        started = time.perf_counter()
        if api is None:
            answer = (session.post(job["bare_url"], json={"name": f"bench-{n}"}, timeout=10) if job["write"]
                      else session.get(job["bare_url"], timeout=10))
        elif job["write"]:
            operation, build = CREATE[job["dialect"]]
            answer = api.call(operation, **build(job["scope"], instance, f"{job['index']}-{n}"))
            api.exchanges.clear()
        else:
            method, url = api.url_for(*job["read"])
            answer = session.request(method, url, timeout=10)
        latencies.append(time.perf_counter() - started)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    return {"latencies": latencies, "statuses": statuses}


def _drive(pid: int, jobs: list[dict]) -> dict:
    """Run the load processes at once; the server's CPU is read around the load alone."""
    import multiprocessing

    ticks = os.sysconf("SC_CLK_TCK")
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        before, began = _cpu_ticks(pid), time.perf_counter()
        done = pool.map(_client, jobs)
        elapsed, after = time.perf_counter() - began, _cpu_ticks(pid)
    latencies = sorted(x for d in done for x in d["latencies"])
    statuses: dict[str, int] = {}
    for d in done:
        for code, count in d["statuses"].items():
            statuses[str(code)] = statuses.get(str(code), 0) + count
    count = len(latencies)
    return {
        "requests": count, "statuses": statuses,
        "requests_per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[max(0, int(count * 0.99) - 1)] * 1000, 2),
        "server_cpu_us_per_request": round((after - before) / ticks / count * 1e6, 1),
    }


def _ratios(provider: dict, bare: dict) -> dict:
    return {"requests_per_s": round(provider["requests_per_s"] / bare["requests_per_s"], 2),
            "server_cpu_per_request": round(provider["server_cpu_us_per_request"] / bare["server_cpu_us_per_request"], 2),
            "capacity_of_bare": round(bare["server_cpu_us_per_request"] / provider["server_cpu_us_per_request"], 2)}


def _installed(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def _spawn(command: list[str], src: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def provider_load(calls: int, seconds: float, baseline: Path | None = None) -> dict:
    """Per dialect: `calls` valid signed createImage calls (each on its own instance) and as
    many unauthenticated reads, from CLIENTS processes, at most `seconds` each; then the
    same number of POST and GET calls on a bare Starlette route served by uvicorn (h11).
    With `baseline` (another checkout's src/), its provider is loaded the same way, in turn."""
    port = _free_port()
    bare = _spawn([sys.executable, "-c", BARE_APP, str(port), "h11", "asyncio"])
    # the same bare route on the HTTP parser and event loop the provider runs on when they
    # are installed (httptools, uvloop): the anchor for what the provider itself adds
    fast_port = _free_port() if _installed("httptools", "uvloop") else None
    bare_fast = _spawn([sys.executable, "-c", BARE_APP, str(fast_port), "httptools", "uvloop"]) if fast_port else None
    mocks = {"provider": _spawn(imagecert_command("mock", "--port", "0"), ROOT / "src")}
    if baseline:
        mocks["baseline"] = _spawn(imagecert_command("mock", "--port", "0"), baseline)
    try:
        bare.stdout.readline()
        if bare_fast:
            bare_fast.stdout.readline()
        bases = {label: m.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0] for label, m in mocks.items()}
        bare_url = f"http://127.0.0.1:{port}/bare"
        fast_url = f"http://127.0.0.1:{fast_port}/bare" if fast_port else None
        for url in filter(None, (bare_url, fast_url)):
            for _ in range(100):  # the bare server prints before it binds
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.05)
        figures: dict = {}

        def jobs(write: bool, base_url=None, dialect=None, tenant=None, instances=(), read=None,
                 bare_at=None) -> list[dict]:
            return [{"dialect": dialect, "base_url": base_url, "bare_url": bare_at or bare_url, "write": write,
                     "scope": tenant["scope"] if tenant else None, "auth": tenant["auth"] if tenant else None,
                     "read": read, "index": i, "deadline": time.time() + seconds,
                     "instances": list(instances)[i::CLIENTS] if instances else [None] * (calls // CLIENTS)}
                    for i in range(CLIENTS)]

        for dialect in DIALECTS:
            row: dict = {"bare_post": _drive(bare.pid, jobs(True))}
            if bare_fast:
                row["bare_post_httptools_uvloop"] = _drive(bare_fast.pid, jobs(True, bare_at=fast_url))
            if READ[dialect]:
                row["bare_get"] = _drive(bare.pid, jobs(False))
            for label, mock in mocks.items():
                control = Control(bases[label] + "/_imagecert/v1")
                tenant = control.call("POST", "/tenants", {"dialect": dialect})
                instances = [control.call("POST", "/resources", {"tenant_id": tenant["tenant_id"], "kind": "instance",
                                                                 "attributes": {}})["id"] for _ in range(calls)]
                mine = row[label] = {"create_image": _drive(mock.pid, jobs(True, bases[label], dialect, tenant, instances))}
                mine["create_over_bare"] = _ratios(mine["create_image"], row["bare_post"])
                if bare_fast:
                    mine["create_over_bare_httptools_uvloop"] = _ratios(mine["create_image"],
                                                                        row["bare_post_httptools_uvloop"])
                if READ[dialect]:
                    mine["unauthenticated_read"] = _drive(mock.pid, jobs(False, bases[label], dialect, tenant,
                                                                         read=READ[dialect]))
                    mine["read_over_bare"] = _ratios(mine["unauthenticated_read"], row["bare_get"])
                print(f"  {dialect} ({label}): createImage {mine['create_image']['requests_per_s']} req/s, "
                      f"{mine['create_image']['server_cpu_us_per_request']} µs server CPU; bare "
                      f"{row['bare_post']['requests_per_s']} req/s, {row['bare_post']['server_cpu_us_per_request']} µs;"
                      f" capacity {mine['create_over_bare']['capacity_of_bare']:.0%} of bare"
                      + (f" ({mine['create_over_bare_httptools_uvloop']['capacity_of_bare']:.0%} of bare on"
                         f" httptools+uvloop, {row['bare_post_httptools_uvloop']['server_cpu_us_per_request']} µs)"
                         if bare_fast else ""), flush=True)
            if baseline:
                row["provider_over_baseline"] = _ratios(row["provider"]["create_image"], row["baseline"]["create_image"])
            figures[dialect] = row
        figures["peak_rss_mb"] = {label: _rss_mb(m.pid) for label, m in mocks.items()}
        figures["peak_rss_mb"]["bare"] = _rss_mb(bare.pid)
        if bare_fast:
            figures["peak_rss_mb"]["bare_httptools_uvloop"] = _rss_mb(bare_fast.pid)
        figures["peak_rss_mb"]["provider_over_bare"] = round(figures["peak_rss_mb"]["provider"]
                                                             / figures["peak_rss_mb"]["bare"], 2)
    finally:
        for process in (*mocks.values(), bare, *([bare_fast] if bare_fast else [])):
            process.terminate()
            process.wait(timeout=10)
    return figures


def results_path(only: str | None) -> Path:
    """bench/results/<date>[-<part>].json; a later run the same day gets -2, -3, …, so no run
    overwrites an earlier one (and a partial run never the full one)."""
    stem = f"{datetime.now(timezone.utc):%Y-%m-%d}" + (f"-{only}" if only else "")
    folder = ROOT / "bench" / "results"
    out, n = folder / f"{stem}.json", 1
    while out.exists():
        n += 1
        out = folder / f"{stem}-{n}.json"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz-examples", type=int, default=25, help="examples per fuzzed operation (default 25)")
    parser.add_argument("--load-calls", type=int, default=1500, help="calls per load phase (default 1500)")
    parser.add_argument("--load-seconds", type=float, default=6.0, help="longest a load phase runs (default 6)")
    parser.add_argument("--baseline-src", type=Path, metavar="DIR",
                        help="also certify with, load the provider of and fuzz with the suites of another checkout (its src/): before/after in one run")
    parser.add_argument("--only", choices=("provider", "certify", "fuzz"), help="run one part of the bench")
    parser.add_argument("--fuzz-runs", type=int, default=3, help="interleaved runs per fuzz figure (median; default 3)")
    parser.add_argument("--dialect", action="append", choices=DIALECTS, help="fuzz figures for these dialects only")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="run certify serial, -n 2 and --replay K times, interleaved; medians (default 1)")
    args = parser.parse_args()

    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                     "fuzz_examples": args.fuzz_examples}
    if args.only in (None, "fuzz"):
        print("fuzz suites next to bare st run (interleaved, medians) …", flush=True)
        results["fuzz_vs_bare_st"] = fuzz_vs_bare(args.fuzz_examples, args.fuzz_runs, args.baseline_src, args.dialect)
    if args.only in (None, "certify"):
        checkouts = {"imagecert": ROOT}
        if args.baseline_src:
            checkouts["baseline"] = args.baseline_src.resolve().parent
        rounds: dict[str, list[dict]] = {label: [] for label in checkouts}
        with tempfile.TemporaryDirectory() as scratch:
            for round_ in range(args.repeat):  # interleaved: a change in the machine's load hits every run
                for label, checkout in checkouts.items():
                    rounds[label].append(certify_figures(args.fuzz_examples, checkout, Path(scratch) / str(round_),
                                                         label))
                if round_ == 0:
                    results["fuzz"] = fuzz_throughput(Path(scratch) / "0" / "imagecert-serial")
        results.update(certify_summary(rounds["imagecert"]))
        if "baseline" in rounds:
            results["baseline_certify"] = certify_summary(rounds["baseline"])
        for label, figures in (("imagecert", results), ("baseline", results.get("baseline_certify"))):
            if figures:
                print(f"{label}: certify serial {figures['certify_serial']['wall_s']} s, -n 2 "
                      f"{figures['certify_n2']['wall_s']} s: speed-up {figures['certify_speedup_n2']}x; replay "
                      f"{figures['replay'].get('wall_s')} s = {figures.get('replay_over_live', 0):.0%} of live", flush=True)
        results["peak_rss_mb_certify"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    if args.only in (None, "provider"):
        print(f"provider load ({CLIENTS} client processes) …", flush=True)
        results["provider_load"] = provider_load(args.load_calls, args.load_seconds, args.baseline_src)

    out = results_path(args.only)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
