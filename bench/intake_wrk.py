"""Intake's ceiling with wrk: accepted POST /v1/tickets per second at saturation, against its own baseline.

    python -m bench.intake_wrk [--seconds 20] [--connections 32] [--quick]

The same wrk run (bench/wrk.py: a Lua script posting bench.harness.BODY with a numbered title and
a reporter's key) goes first to the bare FastAPI endpoint (bench.wrk.BARE_APP: uvicorn validating
the same body, nothing stored), then to intake in the full system (the four services on a fresh vhost and
database, so downstream work competes for the CPU as in production). The figure is the ratio.
wrk is a Debian package: apt-get install wrk. Result: bench/results/intake-wrk.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import cpu_seconds, docstore_pid, running_system, save
from bench.wrk import bare_fastapi, require_wrk, wrk


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
    require_wrk()
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
