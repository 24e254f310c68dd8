"""Intake's ceiling with wrk: accepted POST /v1/tickets per second at saturation, against its own baseline.

    python -m bench.intake_wrk [--seconds 20] [--connections 32] [--quick]

The same wrk run (a Lua script posting bench.harness.BODY with a numbered title and a reporter's
key) goes first to the bare FastAPI endpoint of bench/run.py (BARE_APP: uvicorn validating the same
body, nothing stored), then to intake in the full system (the four services on a fresh vhost and
database, so downstream work competes for the CPU as in production). The figure is the ratio.
wrk is a Debian package: apt-get install wrk. Result: bench/results/intake-wrk.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BODY, ROOT, cpu_seconds, docstore_pid, running_system, save
from bench.run import BARE_APP
from bench.system import free_port

LUA = """
-- POST a ticket body, each with its own title, and print wrk's summary as one JSON line.
local body = [==[%(body)s]==]
local counter = 0
local made = 0

function setup(thread)
  made = made + 1
  thread:set("thread_no", made)  -- a global of that thread's own Lua state
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  %(auth)s
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, (body:gsub("__N__", tostring(thread_no) .. "-" .. counter)))
end

function done(summary, latency, requests)
  io.write(string.format('WRK_RESULT {"requests": %%d, "duration_us": %%d, "status_errors": %%d, ' ..
    '"connect_errors": %%d, "read_errors": %%d, "write_errors": %%d, "timeouts": %%d, ' ..
    '"p50_ms": %%.1f, "p90_ms": %%.1f, "p99_ms": %%.1f}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000))
end
"""


def lua_script(key: str | None) -> str:
    """Return the wrk script posting BODY with numbered titles (and the bearer key, if any)."""
    body = json.dumps({**BODY, "title": BODY["title"] + " #__N__"})
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    return LUA % {"body": body, "auth": auth}


def wrk(url: str, key: str | None, seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """Run wrk against url/v1/tickets; return its summary with accepted requests per second."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(key))
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                              "--timeout", "60s", "-s", script.name, url + "/v1/tickets"],
                             capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT "))
    result = json.loads(line.removeprefix("WRK_RESULT "))
    seconds_run = result["duration_us"] / 1e6
    failed = result["status_errors"] + result["timeouts"] + result["read_errors"] + result["write_errors"]
    result["accepted"] = result["requests"] - failed
    result["accepted_per_second"] = round(result["accepted"] / seconds_run, 1)
    return result


def bare_fastapi(seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """wrk against the bare endpoint under uvicorn (one process, as every service runs)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
                                    "--log-level", "warning", "--no-access-log"], cwd=tmp,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(url + "/docs", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            wrk(url, None, 3, connections, threads)  # warm-up
            return wrk(url, None, seconds, connections, threads)
        finally:
            process.terminate()
            process.wait(timeout=10)


def full_system(seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """wrk against intake with the four services running; also the CPU each process used meanwhile."""
    with running_system(Path(tempfile.mkdtemp(prefix="bench-wrk-"))) as system:
        key = system.create_key("reporter", "Wrk", "wrk@example.com")
        url = system.url("intake")
        wrk(url, key, 3, connections, threads)  # warm-up
        time.sleep(5)
        pids = {name: p.pid for name, p in system.processes.items()}
        if (pid := docstore_pid()) is not None:
            pids["docstore"] = pid
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        load_before = os.getloadavg()
        result = wrk(url, key, seconds, connections, threads)
        used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        result["cpu_cores_during"] = {name: round(u / (result["duration_us"] / 1e6), 2) for name, u in used.items()}
        result["load_before"], result["load_after"] = [round(x, 2) for x in load_before], [
            round(x, 2) for x in os.getloadavg()]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, help="length of each measured wrk run (default 20, 10 quick)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk); skipping the intake ceiling")
        return 0
    seconds = args.seconds or (10 if args.quick else 20)
    print("wrk against the bare FastAPI endpoint ...", flush=True)
    bare = bare_fastapi(seconds, args.connections, args.threads)
    print("wrk against intake in the full system ...", flush=True)
    full = full_system(seconds, args.connections, args.threads)
    ratio = round(full["accepted_per_second"] / bare["accepted_per_second"], 3)
    path = save("intake-wrk", {"wrk": {"seconds": seconds, "connections": args.connections, "threads": args.threads},
                               "bare_fastapi": bare, "intake_full_system": full, "ratio_to_bare_fastapi": ratio})
    print(f"bare FastAPI endpoint: {bare['accepted_per_second']} req/s (p50 {bare['p50_ms']} ms, p99 {bare['p99_ms']} ms)")
    print(f"intake, full system:   {full['accepted_per_second']} accepted/s (p50 {full['p50_ms']} ms, "
          f"p99 {full['p99_ms']} ms, {full['requests'] - full['accepted']} not accepted)")
    print(f"ratio: {ratio:.1%} of the bare endpoint (goal >= 50 %)")
    print(f"CPU in cores while saturated: {full['cpu_cores_during']}")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
