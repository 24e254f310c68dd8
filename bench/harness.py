"""Shared pieces of the benchmarks and the fault harness: an isolated system, load, percentiles."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import statistics
import time
import urllib.request
from base64 import b64encode
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.system import System, free_port
from shared.ids import new_id

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AMQP = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MONGO = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/")
MANAGEMENT = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BODY = {"title": "Checkout is slow", "type": "performance", "severity": "medium",
        "description": "Pages take 20 s to load since this morning. " * 4, "users_affected": 12, "production": True}


def _management(method: str, path: str, body: str | None = None) -> None:
    request = urllib.request.Request(MANAGEMENT + path, method=method, data=body.encode() if body else None,
                                     headers={"content-type": "application/json",
                                              "Authorization": "Basic " + b64encode(b"guest:guest").decode()})
    urllib.request.urlopen(request, timeout=10).close()


@contextmanager
def vhost():
    """Yield an AMQP URL on a fresh vhost, deleted afterwards."""
    name = f"bench-{new_id().lower()}"
    _management("PUT", f"/api/vhosts/{name}", "{}")
    _management("PUT", f"/api/permissions/{name}/guest", '{"configure":".*","write":".*","read":".*"}')
    try:
        yield AMQP.rstrip("/") + "/" + name
    finally:
        _management("DELETE", f"/api/vhosts/{name}")


@contextmanager
def running_system(log_dir: Path, replicas: int = 1, amqp_url: str | None = None, **extra_env: str):
    """Yield the four services on free ports (`replicas` processes of each), on their own vhost and database.

    With amqp_url (a broker of its own, such as a private cluster's nodes) they use it as it is.
    """
    from pymongo import MongoClient

    from shared.mailsink import start_sink

    log_dir.mkdir(parents=True, exist_ok=True)
    sink_port = free_port()
    sink = start_sink(log_dir / "mail", port=sink_port)
    with nullcontext(amqp_url) if amqp_url else vhost() as url:
        db = f"bench_{new_id().lower()[-10:]}"
        system = System(url, MONGO, db, sink_port, log_dir, extra_env=dict(extra_env), replicas=replicas)
        try:
            system.start_all()
            yield system
        finally:
            system.stop_all()
            sink.stop()
            with MongoClient(MONGO) as client:
                client.drop_database(db)


def percentile(values: list[float], fraction: float) -> float:
    """Return the value below which `fraction` of values fall (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def distinct(body: dict, n: int) -> dict:
    """Return the body with a numbered title, so reports are distinct problems, not one storm of duplicates."""
    return {**body, "title": f"{body['title']} #{n} {new_id()[-6:]}"} if "title" in body else body


async def closed_loop(client: httpx.AsyncClient, path: str, body: dict, total: int, concurrency: int) -> dict:
    """Send total requests with `concurrency` in flight; return throughput, status counts and created ids."""
    statuses: dict[int, int] = {}
    counter = iter(range(total))
    ids: list[str] = []

    async def worker() -> None:
        for n in counter:
            response = await client.post(path, json=distinct(body, n))
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 201 and "id" in (created := response.json()):
                ids.append(created["id"])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ok = sum(n for code, n in statuses.items() if code < 300)
    return {"requests": total, "accepted": ok, "seconds": round(elapsed, 3), "per_second": round(ok / elapsed, 1),
            "statuses": statuses, "ids": ids}


async def open_loop(client: httpx.AsyncClient, path: str, body: dict, rate: float, seconds: float) -> dict:
    """Offer `rate` requests per second for `seconds` regardless of responses; return latency percentiles."""
    latencies: list[float] = []
    failures = 0
    ids: list[str] = []
    numbers = itertools.count()
    interval = 1.0 / rate
    start = time.perf_counter()
    tasks = []

    async def one(scheduled: float) -> None:
        nonlocal failures
        response = await client.post(path, json=distinct(body, next(numbers)))
        if response.status_code >= 300:
            failures += 1
        elif response.status_code == 201 and "id" in (created := response.json()):
            ids.append(created["id"])
        latencies.append(time.perf_counter() - scheduled)  # from when it should have been sent

    n = 0
    while (now := time.perf_counter()) - start < seconds:
        scheduled = start + n * interval
        if now < scheduled:
            await asyncio.sleep(scheduled - now)
        tasks.append(asyncio.create_task(one(scheduled)))
        n += 1
    await asyncio.gather(*tasks)
    return {"offered_per_second": rate, "sent": n, "failures": failures,
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None, "ids": ids}


async def settle(pid: int | None, idle_fraction: float = 0.2, timeout: float = 120) -> float:
    """Wait until the process uses less than idle_fraction of a core over a second; return seconds waited.

    Without a pid (a database this harness did not start) it waits ten seconds.
    """
    started = time.perf_counter()
    if pid is None:
        await asyncio.sleep(10)
        return 10.0
    while time.perf_counter() - started < timeout:
        before = cpu_seconds(pid)
        await asyncio.sleep(1)
        if cpu_seconds(pid) - before < idle_fraction:
            break
    return round(time.perf_counter() - started, 1)


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def docstore_pid() -> int | None:
    """Return the pid of the process listening on MONGO's port (the docstore the benchmark uses), else of the one
    `make up` started, if it runs.

    MONGO's port comes first: a benchmark pointed at a second docstore must not count the first one's work.
    """
    listening = listening_pid(urlsplit(MONGO).port or 27017)
    if listening is not None:
        return listening
    try:
        pid = int(Path("var/run/docstore.pid").read_text())
        Path(f"/proc/{pid}/stat").stat()
        return pid
    except (OSError, ValueError):
        return None


def listening_pid(port: int) -> int | None:
    """Return the pid of the process with a TCP socket listening on this port, if this user can see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def rss_mb(pid: int) -> float:
    """Return a process's resident memory in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def machine() -> dict[str, Any]:
    """Return what the figures were measured on."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}


def save(name: str, result: dict[str, Any]) -> Path:
    """Write a result file under bench/results and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2, default=str) + "\n")
    return path
