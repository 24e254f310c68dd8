"""What the docstore's write gate costs and saves: single-document operations per second.

    python -m bench.docstore_writes [--binary PATH] [--direct-binary PATH] [--seconds 1] [--rounds 7]
                                    [--conditional-only]

Starts two docstores from the same binary on free ports with temporary data directories, one with
-serialize-writes=false (the gate forwards but lets writes overlap, as FerretDB alone does, losing
concurrent updates to one document), and runs each operation against both with 1 and 20 concurrent
tasks. `--direct-binary` adds a docstore without the gate (built from before it) to show the cost of
the extra hop.

Then conditional writes by `_id` in a collection of CONDITIONAL_DOCUMENTS: a third docstore runs with
-conditional-pushdown=false (FerretDB decodes the whole collection for a filter of more than `_id`)
against the default one (the gate finds the document by `_id`, checks the condition and writes by
`_id`). `find_one_and_update by _id` there is the control: the flag must not change it.

Rounds alternate which server goes first; each cell is the median of the rounds. Without --binary it
builds tools/docstore. Results: bench/results/docstore-writes.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pymongo import AsyncMongoClient, MongoClient

from bench.harness import ROOT, cpu_seconds, save
from tests.e2e.system import free_port

DOCUMENTS = 1000  # updated and read at random by _id, so tasks rarely meet on one document
CONDITIONAL_DOCUMENTS = 20_000  # where a full scan costs a FerretDB write about 0.2 s
TASKS = (1, 20)


@dataclass(frozen=True)
class Server:
    """A docstore this benchmark started."""

    url: str
    pid: int


@contextmanager
def docstore(binary: Path, *flags: str) -> Iterator[Server]:
    """Yield a docstore started from binary on a free port with a temporary data directory."""
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as data:
        port = free_port()
        process = subprocess.Popen([str(binary), "-listen", f"127.0.0.1:{port}", "-data", data, *flags],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"mongodb://127.0.0.1:{port}/"
        try:
            with MongoClient(url, serverSelectionTimeoutMS=15000) as client:
                client.admin.command("ping")
            yield Server(url, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def build(into: Path) -> Path:
    """Build tools/docstore into the directory and return the binary."""
    binary = into / "docstore"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=ROOT / "tools" / "docstore", check=True)
    return binary


async def prepare(url: str) -> None:
    """Store the documents the updates and reads use, and wait for the docstore's _id index on them."""
    client = AsyncMongoClient(url)
    db = client["bench_writes"]
    await db.drop_collection("docs")
    await db.drop_collection("inserted")
    await db["docs"].insert_many([{"_id": f"doc-{n}", "n": 0, "note": "x" * 200} for n in range(DOCUMENTS)])
    await db["inserted"].insert_one({"_id": "first"})
    await asyncio.sleep(2.5)  # the docstore indexes new collections within a second (idindex.go)
    await client.close()


async def prepare_conditional(url: str) -> None:
    """Store the documents the conditional writes use, and wait for the docstore's _id index on them."""
    client = AsyncMongoClient(url)
    big = client["bench_writes"]["big"]
    await big.drop()
    for start in range(0, CONDITIONAL_DOCUMENTS, 1000):
        await big.insert_many([{"_id": f"big-{n}", "rev": 0, "n": 0, "note": "x" * 200}
                               for n in range(start, start + 1000)])
    await asyncio.sleep(2.5)
    await client.close()


def conditional_operations(db) -> dict[str, Callable[[], Awaitable[object]]]:
    """Return the measured writes on the large collection: by `_id` alone, and by `_id` and `rev` (compare-and-set)."""
    big = db["big"]
    revs = [0] * CONDITIONAL_DOCUMENTS  # what this benchmark last wrote; it is the only writer

    async def compare_and_set(write: Callable[..., Awaitable[object]], hit: Callable[[object], bool]) -> None:
        n = random.randrange(CONDITIONAL_DOCUMENTS)
        rev = revs[n]
        if hit(await write({"_id": f"big-{n}", "rev": rev}, {"$inc": {"rev": 1}})):
            revs[n] = rev + 1

    return {
        "find_one_and_update by _id": lambda: big.find_one_and_update(
            {"_id": f"big-{random.randrange(CONDITIONAL_DOCUMENTS)}"}, {"$inc": {"n": 1}}),
        "find_one_and_update by _id, rev": lambda: compare_and_set(big.find_one_and_update, lambda r: r is not None),
        "update_one by _id, rev": lambda: compare_and_set(big.update_one, lambda r: r.matched_count == 1),
    }


def operations(db) -> dict[str, Callable[[], Awaitable[object]]]:
    """Return the measured operations: each call is one single-document command."""
    ids = itertools.count()
    docs, inserted = db["docs"], db["inserted"]

    def some_id() -> str:
        return f"doc-{random.randrange(DOCUMENTS)}"

    return {
        "insert_one": lambda: inserted.insert_one({"_id": f"new-{next(ids)}", "note": "x" * 200}),
        "update_one by _id": lambda: docs.update_one({"_id": some_id()}, {"$inc": {"n": 1}}),
        "find_one_and_update by _id": lambda: docs.find_one_and_update({"_id": some_id()}, {"$inc": {"n": 1}}),
        "find_one by _id": lambda: docs.find_one({"_id": some_id()}),
    }


async def throughput(call: Callable[[], Awaitable[object]], tasks: int, seconds: float,
                     pid: int | None = None) -> tuple[float, float]:
    """Return calls completed per second with `tasks` calling in a closed loop, and the server's CPU µs per call."""
    done = 0
    cpu_before = cpu_seconds(pid) if pid else 0.0
    deadline = time.perf_counter() + seconds

    async def task() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(tasks)))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    return done / elapsed, cpu / max(done, 1) * 1e6


async def measure(servers: dict[str, Server], seconds: float, rounds: int) -> list[dict]:
    """Return per operation and task count the median operations per second and CPU per operation on each server."""
    clients = {name: AsyncMongoClient(server.url, maxPoolSize=50) for name, server in servers.items()}
    ops = {name: operations(client["bench_writes"]) for name, client in clients.items()}
    try:
        for name in servers:  # open the pools and warm up
            for call in ops[name].values():
                await throughput(call, 20, 0.3)
        rows = []
        for op, tasks in itertools.product(next(iter(ops.values())), TASKS):
            rates: dict[str, list[float]] = {name: [] for name in servers}
            cpu: dict[str, list[float]] = {name: [] for name in servers}
            for round_ in range(rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in order:
                    rate, cpu_us = await throughput(ops[name][op], tasks, seconds, servers[name].pid)
                    rates[name].append(rate)
                    cpu[name].append(cpu_us)
            row = {"operation": op, "tasks": tasks,
                   **{f"{name}_per_second": round(statistics.median(r), 1) for name, r in rates.items()},
                   **{f"{name}_server_cpu_us_per_op": round(statistics.median(c)) for name, c in cpu.items()}}
            row["on_vs_off"] = round(row["on_per_second"] / row["off_per_second"], 3)
            if "direct_per_second" in row:
                row["off_vs_direct"] = round(row["off_per_second"] / row["direct_per_second"], 3)
            rows.append(row)
            print(format_row(row), flush=True)
        return rows
    finally:
        for client in clients.values():
            await client.close()


async def measure_conditional(servers: dict[str, Server], seconds: float, rounds: int) -> list[dict]:
    """Return per conditional operation and task count the median operations per second with pushdown on and off."""
    clients = {name: AsyncMongoClient(server.url, maxPoolSize=50) for name, server in servers.items()}
    ops = {name: conditional_operations(client["bench_writes"]) for name, client in clients.items()}
    try:
        for name in servers:
            for call in ops[name].values():
                await throughput(call, 1, 0.3)
        rows = []
        for op, tasks in itertools.product(next(iter(ops.values())), TASKS):
            rates: dict[str, list[float]] = {name: [] for name in servers}
            cpu: dict[str, list[float]] = {name: [] for name in servers}
            for round_ in range(rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in order:
                    rate, cpu_us = await throughput(ops[name][op], tasks, seconds, servers[name].pid)
                    rates[name].append(rate)
                    cpu[name].append(cpu_us)
            row = {"operation": op, "tasks": tasks, "documents": CONDITIONAL_DOCUMENTS,
                   **{f"{name}_per_second": round(statistics.median(r), 1) for name, r in rates.items()},
                   **{f"{name}_server_cpu_us_per_op": round(statistics.median(c)) for name, c in cpu.items()}}
            row["pushdown_vs_scan"] = round(row["pushdown_per_second"] / row["scan_per_second"], 1)
            rows.append(row)
            print(f"{op:<32} {tasks:>3} tasks  pushdown {row['pushdown_per_second']:>7.1f}/s  "
                  f"scan {row['scan_per_second']:>7.1f}/s  pushdown/scan {row['pushdown_vs_scan']:.1f}  server CPU/op "
                  f"pushdown {row['pushdown_server_cpu_us_per_op']} µs scan {row['scan_server_cpu_us_per_op']} µs",
                  flush=True)
        return rows
    finally:
        for client in clients.values():
            await client.close()


def format_row(row: dict) -> str:
    """Return one printed line of results."""
    line = (f"{row['operation']:<28} {row['tasks']:>3} tasks  on {row['on_per_second']:>7.0f}/s  "
            f"off {row['off_per_second']:>7.0f}/s  on/off {row['on_vs_off']:.2f}  server CPU/op "
            f"on {row['on_server_cpu_us_per_op']} µs off {row['off_server_cpu_us_per_op']} µs")
    if "direct_per_second" in row:
        line += f"  no gate {row['direct_per_second']:>7.0f}/s  off/no gate {row['off_vs_direct']:.2f}"
    return line


def main(binary: Path | None, direct: Path | None, seconds: float, rounds: int, conditional_only: bool) -> None:
    """Start the docstores, measure, print and save the figures."""
    rows: list[dict] = []
    with ExitStack() as stack:
        if binary is None:
            binary = build(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="docstore-build-"))))
        servers = {"on": stack.enter_context(docstore(binary))}
        if not conditional_only:
            servers["off"] = stack.enter_context(docstore(binary, "-serialize-writes=false"))
            if direct is not None:
                servers["direct"] = stack.enter_context(docstore(direct))
        conditional = {"pushdown": servers["on"],
                       "scan": stack.enter_context(docstore(binary, "-conditional-pushdown=false"))}
        load_before = os.getloadavg()[0]
        if not conditional_only:
            for server in servers.values():
                asyncio.run(prepare(server.url))
            print(f"{seconds:g} s per sample, median of {rounds} rounds; on = writes one at a time (default), "
                  "off = -serialize-writes=false", flush=True)
            rows = asyncio.run(measure(servers, seconds, rounds))
        for server in conditional.values():
            asyncio.run(prepare_conditional(server.url))
        print(f"conditional writes among {CONDITIONAL_DOCUMENTS:,} documents; pushdown = the gate checks the condition "
              "(default), scan = -conditional-pushdown=false", flush=True)
        conditional_rows = asyncio.run(measure_conditional(conditional, seconds, rounds))
        load_after = os.getloadavg()[0]
    # the gate holds each write for its whole time in FerretDB, so other load on the machine (which
    # preempts the holder) costs serialised writes more than overlapping ones: keep it with the figures
    path = save("docstore-writes", {"server": "docstore (FerretDB v1.24.2/SQLite)", "seconds_per_sample": seconds,
                                    "rounds": rounds, "documents": DOCUMENTS, "direct_baseline": direct is not None,
                                    "load_average_1m": {"before": load_before, "after": load_after},
                                    "results": rows, "conditional": conditional_rows})
    print(f"1-minute load average {load_before:.1f} before, {load_after:.1f} after (on {os.cpu_count()} CPUs)")
    print(f"written to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, help="docstore binary to measure (default: build tools/docstore)")
    parser.add_argument("--direct-binary", type=Path, help="a docstore without the write gate, for the cost of the hop")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each sample")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--conditional-only", action="store_true", help="measure only the conditional writes")
    args = parser.parse_args()
    main(args.binary, args.direct_binary, args.seconds, args.rounds, args.conditional_only)
