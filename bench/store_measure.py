"""How the store benchmark takes a figure: timed requests, p50/p95, the CPU the rest of the machine used, idle CPU."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    cpu_seconds,
    percentile,
)
from bench.system import System

TIMEOUT = 120.0
"""Seconds one measured request may take; a slower one is recorded as "> 120 s" and its kind stops there."""
FOREIGN_CPU_LIMIT = 0.3
"""Cores the rest of the machine may use on average while a figure is taken before it is taken again."""
TARGETS_MS = {"my_tickets": 50, "open_work": 100, "history": 200, "by_number": 10, "sla_report": 300, "search": 300}
IDLE_CPU_TARGET = 5.0


@dataclass
class Figure:
    """The latencies of one kind of request, with the load they were measured under."""

    kind: str
    target: str
    samples: list[float] = field(default_factory=list)
    timed_out: bool = False
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    foreign_cores: float = 0.0
    attempts: int = 1
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the figure in milliseconds for the result file."""
        ms = [round(s * 1000, 2) for s in self.samples]
        return {"n": len(ms), "p50_ms": round(percentile(ms, 0.5), 2) if ms else None,
                "p95_ms": round(percentile(ms, 0.95), 2) if ms else None,
                "mean_ms": round(statistics.fmean(ms), 2) if ms else None, "max_ms": max(ms) if ms else None,
                "timed_out": f"> {TIMEOUT:g} s" if self.timed_out else None,
                "target_p95_ms": TARGETS_MS.get(self.target), "load_before": self.load_before,
                "load_after": self.load_after, "foreign_cores": round(self.foreign_cores, 2),
                "attempts": self.attempts, "note": self.note or None}


class Cpu:
    """CPU the machine used outside the processes of the system under test (and this one), in cores."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK")

    def _busy(self) -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / self.tick  # all but idle and iowait

    def _ours(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass
        return total

    def start(self) -> tuple[float, float, float]:
        """Return a mark to pass to foreign()."""
        return time.perf_counter(), self._busy(), self._ours()

    def foreign(self, mark: tuple[float, float, float]) -> float:
        """Return the cores used since mark by processes that are not ours."""
        started, busy, ours = mark
        elapsed = max(time.perf_counter() - started, 1e-6)
        return max(0.0, (self._busy() - busy) - (self._ours() - ours)) / elapsed


def load() -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages, rounded."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def wait_calm(cpu: Cpu, limit: float = FOREIGN_CPU_LIMIT, timeout: float = 120) -> None:
    """Wait until the rest of the machine used less than `limit` cores over two seconds (or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mark = cpu.start()
        time.sleep(2)
        if cpu.foreign(mark) < limit:
            return


def settle_docstore(pid: int | None, timeout: float = 300, idle_fraction: float = 0.15, quiet_windows: int = 1) -> float:
    """Wait until the docstore uses less than idle_fraction of a core over quiet_windows two-second windows in a row;
    return seconds waited."""
    started = time.perf_counter()
    quiet = 0
    while pid is not None and time.perf_counter() - started < timeout and quiet < quiet_windows:
        before = cpu_seconds(pid)
        time.sleep(2)
        quiet = quiet + 1 if cpu_seconds(pid) - before < 2 * idle_fraction else 0
    return round(time.perf_counter() - started, 1)


class Api:
    """Calls intake as one user; every call is checked."""

    def __init__(self, base_url: str, key: str, timeout: float = TIMEOUT) -> None:
        self.client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)

    def call(self, method: str, path: str, json_body: Any = None, expect: int = 200, **params: Any) -> Any:
        response = self.client.request(method, path, json=json_body, params=params or None)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} {params}: {response.status_code} {response.text[:500]}")
        return response.json()

    def close(self) -> None:
        self.client.close()


# --- templates -------------------------------------------------------------------------------


@dataclass
class Request:
    """One kind of request: who sends it, and for sample i the path, parameters and check."""

    kind: str
    target: str
    api: Api
    make: Callable[[int], tuple[str, dict[str, Any]]]
    check: Callable[[dict[str, Any], dict[str, Any]], str | None]
    """(response body, params) -> what is wrong with it, or None."""


def non_empty(body: dict[str, Any], params: dict[str, Any]) -> str | None:
    return None if body.get("items") else f"no items for {params}"


def any_page(body: dict[str, Any], params: dict[str, Any]) -> str | None:
    return None if isinstance(body.get("items"), list) else f"not a page: {str(body)[:200]}"


def measure(request: Request, samples: int, budget: float, cpu: Cpu, warmup: int = 3,
            retake_above: float = FOREIGN_CPU_LIMIT) -> Figure:
    """Warm up, then time sequential requests until `samples` or `budget` seconds (at least min(3, samples)).

    The figure is taken again once if other work used more than retake_above cores meanwhile.
    """
    figure = Figure(request.kind, request.target)
    for attempt in (1, 2):
        wait_calm(cpu, timeout=15)
        figure.samples, figure.timed_out, figure.attempts = [], False, attempt
        figure.load_before = load()
        warm, elapsed = 0, 0.0
        while warm < warmup:
            elapsed = one(request, warm)
            warm += 1
            if elapsed is None or elapsed > 2.0:  # slow: one warm-up request is enough
                break
        if elapsed is None:
            figure.timed_out = True
            figure.load_after = load()
            return figure
        mark = cpu.start()
        started = time.perf_counter()
        i = 0
        while len(figure.samples) < samples and (len(figure.samples) < min(3, samples)
                                                 or time.perf_counter() - started < budget):
            elapsed = one(request, 100 + i)
            i += 1
            if elapsed is None:
                figure.timed_out = True
                break
            figure.samples.append(elapsed)
        figure.foreign_cores = cpu.foreign(mark)
        figure.load_after = load()
        slow = time.perf_counter() - started > 60  # taking it again would cost more than it tells
        if figure.foreign_cores < retake_above or figure.timed_out or slow or attempt == 2:
            break
        print(f"  {request.kind}: other work used {figure.foreign_cores:.2f} cores meanwhile; measuring again",
              flush=True)
    if figure.foreign_cores >= min(retake_above, FOREIGN_CPU_LIMIT):
        figure.note = f"other work used {figure.foreign_cores:.2f} cores while measuring"
    return figure


def one(request: Request, i: int) -> float | None:
    """Send sample i; return its seconds, None if it timed out; raise if the answer is not a good one."""
    path, params = request.make(i)
    started = time.perf_counter()
    try:
        response = request.api.client.get(path, params=params or None, timeout=TIMEOUT)
    except httpx.TimeoutException:
        return None
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{request.kind}: GET {path} {params} answered {response.status_code}: {response.text[:300]}")
    problem = request.check(response.json(), params)
    if problem:
        raise RuntimeError(f"{request.kind}: GET {path}: {problem}")
    return elapsed


def idle_cpu(seconds: float, pid: int | None, system: System, cpu: Cpu) -> dict[str, Any]:
    """Return the docstore's (and each service's) CPU in % of a core over `seconds` with no traffic."""
    settled = settle_docstore(pid, timeout=60)
    load_before, mark = load(), cpu.start()
    services = {name: cpu_seconds(p.pid) for name, p in system.processes.items()}
    before = cpu_seconds(pid) if pid else None
    time.sleep(seconds)
    used = (cpu_seconds(pid) - before) if pid else None
    return {"seconds": seconds, "settled_seconds_before": settled,
            "docstore_percent": round(100 * used / seconds, 2) if used is not None else None,
            "services_percent": {name: round(100 * (cpu_seconds(p.pid) - services[name]) / seconds, 2)
                                 for name, p in system.processes.items()},
            "load_before": load_before, "load_after": load(), "foreign_cores": round(cpu.foreign(mark), 2)}


# --- the run -------------------------------------------------------------------------------------

def table(figures: list[Figure], idle: dict[str, Any]) -> str:
    rows = [("request", "p50 ms", "p95 ms", "n", "target p95", "load 1m", "other cores")]
    for f in figures:
        d = f.as_dict()
        p50 = "-" if d["p50_ms"] is None else f"{d['p50_ms']:.1f}"
        p95 = "-" if d["p95_ms"] is None else f"{d['p95_ms']:.1f}"
        if f.timed_out:
            p95 = f"> {TIMEOUT:g} s" if not f.samples else f"{p95} (then > {TIMEOUT:g} s)"
        target = TARGETS_MS.get(f.target)
        rows.append((f.kind, p50, p95, str(d["n"]), f"<= {target} ms" if target else "",
                     f"{f.load_before[0]:.2f}→{f.load_after[0]:.2f}", f"{f.foreign_cores:.2f}"))
    rows.append(("docstore CPU at rest", f"{idle['docstore_percent']} % of a core", "", f"{idle['seconds']:g} s",
                 f"< {IDLE_CPU_TARGET:g} %", f"{idle['load_before'][0]:.2f}→{idle['load_after'][0]:.2f}",
                 f"{idle['foreign_cores']:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
