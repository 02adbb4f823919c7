"""How fast certification runs on this machine, and where the time goes.

    .venv/bin/python bench/run.py [--fuzz-examples N] [--load-seconds S]

Prints, and writes to bench/results/<date>.json:
- wall time of `imagecert certify` over all four dialects, serial and with -n 2;
- fuzz throughput (examples per second) per dialect, from that run's reports;
- the same contract fuzzed by the bare schemathesis command line (`st run`) against the
  same server with the same example budget, and the suite's ratio over it;
- offline replay time of the committed cassettes (`pytest suites --replay`);
- the reference provider's throughput for a valid createImage (a bounded load loop on
  loopback, two client threads) with p50/p99 latency;
- peak memory (RSS) of the processes it ran.
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
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from imagecert.contracts import DIALECTS
from imagecert.provider import server
from imagecert.world import auth_for

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOAD_REQUESTS_MAX = 5000


def timed(command: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, **kwargs)
    return time.perf_counter() - started, done


def certify_run(report_dir: Path, fuzz_examples: int, workers: str | None) -> dict:
    command = [str(BIN / "imagecert"), "certify", "--report-dir", str(report_dir),
               "--fuzz-examples", str(fuzz_examples), "--seed", "1"]
    if workers:
        command += ["-n", workers]
    seconds, done = timed(command)
    if done.returncode not in (0, 1):
        raise SystemExit(f"certify could not run ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return {"wall_s": round(seconds, 2), "exit": done.returncode}


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


def bare_schemathesis(fuzz_examples: int) -> dict:
    """`st run` on the huawei-nova contract (token auth: one static header) against the
    reference provider, with the same example budget as the suite; the path's ids are
    a real project and server, given through a schemathesis config file."""
    running = server.start()
    try:
        control = running.control_url
        tenant = requests.post(f"{control}/tenants", json={"dialect": "huawei-nova"}, timeout=10).json()
        instance = requests.post(f"{control}/resources", json={"tenant_id": tenant["tenant_id"], "kind": "instance",
                                                                "attributes": {}}, timeout=10).json()["id"]
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "schemathesis.toml"
            config.write_text(f'[parameters]\n"path.project_id" = "{tenant["scope"]["project_id"]}"\n'
                              f'"path.server_id" = "{instance}"\n', "utf-8")
            command = [str(BIN / "st"), "--config-file", str(config), "run",
                       str(ROOT / "contracts/huawei-nova/openapi.yaml"), "--url", running.base_url,
                       "-H", f"X-Auth-Token: {tenant['auth']['token']}", "--max-examples", str(fuzz_examples),
                       "--seed", "1", "--no-color", "--include-operation-id", "createImage",
                       "--phases", "examples,coverage,fuzzing", "--continue-on-failure"]
            seconds, done = timed(command)
    finally:
        running.stop()
    summary = [line.strip() for line in done.stdout.splitlines() if "generated" in line or line.startswith("===")]
    return {"wall_s": round(seconds, 2), "exit": done.returncode, "summary": summary[-2:]}


def replay_run() -> dict:
    if not any((ROOT / "cassettes").glob("*/*.yaml")):
        return {"skipped": "no committed cassettes"}
    seconds, done = timed([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "suites", "--replay"])
    return {"wall_s": round(seconds, 2), "exit": done.returncode, "tail": done.stdout.strip().splitlines()[-1:]}


def provider_load(seconds: float) -> dict:
    """Valid JD createImage calls, each on its own running instance, from two threads."""
    process = subprocess.Popen([str(BIN / "imagecert"), "mock", "--port", "0", "--emit-targets",
                                str(Path(tempfile.mkdtemp()) / "t")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = process.stdout.readline()
        base_url = line.split(" on ", 1)[1].split(" ", 1)[0]
        control = base_url + "/_imagecert/v1"
        tenant = requests.post(f"{control}/tenants", json={"dialect": "jdcloud-vm"}, timeout=10).json()
        instances = [requests.post(f"{control}/resources", json={"tenant_id": tenant["tenant_id"], "kind": "instance",
                                                                  "attributes": {"status": "running"}}, timeout=10).json()["id"]
                     for _ in range(LOAD_REQUESTS_MAX)]
        auth = auth_for(tenant["auth"], tenant["scope"])
        region = tenant["scope"]["region_id"]
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        deadline = time.perf_counter() + seconds

        def worker(mine: list[str]) -> None:
            session = requests.Session()
            for instance in mine:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                answer = session.post(f"{base_url}/v1/regions/{region}/instances/{instance}:createImage",
                                      json={"name": "bench-image"}, auth=auth, timeout=10)
                with lock:
                    latencies.append(time.perf_counter() - started)
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        threads = [threading.Thread(target=worker, args=(instances[i::2],)) for i in range(2)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        process.terminate()
        process.wait(timeout=10)
    latencies.sort()
    return {
        "requests": len(latencies), "seconds": round(elapsed, 2), "statuses": statuses,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz-examples", type=int, default=25, help="examples per fuzzed operation (default 25)")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="how long the load loop runs (default 10)")
    args = parser.parse_args()

    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                     "fuzz_examples": args.fuzz_examples}
    with tempfile.TemporaryDirectory() as scratch:
        print("certify, serial …", flush=True)
        results["certify_serial"] = certify_run(Path(scratch) / "serial", args.fuzz_examples, None)
        results["fuzz"] = fuzz_throughput(Path(scratch) / "serial")
        print("certify, -n 2 …", flush=True)
        results["certify_n2"] = certify_run(Path(scratch) / "n2", args.fuzz_examples, "2")
    print("st run (bare schemathesis) …", flush=True)
    results["st_run_nova"] = bare_schemathesis(args.fuzz_examples)
    nova = results["fuzz"].get("huawei-nova", {})
    if nova.get("seconds") and results["st_run_nova"]["wall_s"]:
        results["suite_over_bare_engine_nova"] = round(nova["seconds"] / results["st_run_nova"]["wall_s"], 2)
    print("replay of the committed cassettes …", flush=True)
    results["replay"] = replay_run()
    print("provider load …", flush=True)
    results["provider_load"] = provider_load(args.load_seconds)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)

    out = ROOT / "bench" / "results" / f"{datetime.now(timezone.utc):%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
