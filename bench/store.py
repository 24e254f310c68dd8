"""Store benchmark (issue 14): the read paths of intake at 10,000 or 100,000 stored tickets.

    python -m bench.store [--tickets 10000] [--open 2000] [--code-root PATH] [--quick]

Starts its own copy of the four services (fresh vhost, fresh database) from this checkout, makes
template tickets through the API (a critical production outage, a high, a medium and a low one,
triaged with their clocks running; some taken up by an agent, some resolved and closed by their
reporter so they have SLA outcomes), stops the services and runs `incidents seed` to reach
--tickets stored, --open of them open, over 500 reporters. Then it starts the four services from
--code-root (default: this checkout; pass the pre-rework checkout for the "before" figures, with
its own .venv) on a second fresh vhost and measures, with sequential requests after a warm-up,
p50 and p95 of each read a person makes, and the docstore's CPU at rest. Responses must be 200
and non-empty where data exists; anything else stops the run.

Every figure is stored with the load averages and the CPU the rest of the machine used while it
was taken (a figure taken while other work ran is taken again once). Results:
bench/results/store-<tickets>-<before|after>.json.

--keep-db keeps the seeded database (its reporter keys go to var/bench/<db>.keys.json) and --db
measures an existing one, so the before and after code can be measured on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bson
import httpx
from pymongo import MongoClient

from bench.harness import (
    AMQP,
    MONGO,
    ROOT,
    cpu_seconds,
    docstore_pid,
    listening_pid,
    machine,
    percentile,
    save,
    vhost,
)
from bench.system import System, free_port, wait_until
from services.intake.adapters.views import unpacked
from services.intake.domain.shelves import Shelf, days_directory_id, reporter_directory_id, shelves_in
from services.intake.domain.views import OPEN_BUCKETS
from services.intake.service_layer.seeding import WORDS
from shared.contracts import format_number
from shared.ids import new_id

TIMEOUT = 120.0
"""Seconds one measured request may take; a slower one is recorded as "> 120 s" and its kind stops there."""
FOREIGN_CPU_LIMIT = 0.3
"""Cores the rest of the machine may use on average while a figure is taken before it is taken again."""
TARGETS_MS = {"my_tickets": 50, "open_work": 100, "history": 200, "by_number": 10, "sla_report": 300, "search": 300}
IDLE_CPU_TARGET = 5.0
DESCRIPTION = "Reported through the API by the store benchmark. "

# What the template tickets are, and what happens to them through the API before they are copied:
# "take": an agent acknowledges it (In Progress); "leave": it stays Open; "close": acknowledged,
# resolved by the agent and confirmed fixed by the reporter (Closed, with SLA outcomes).
TEMPLATES: list[tuple[dict[str, Any], str]] = [
    ({"title": "Checkout platform is down in production", "type": "infrastructure", "severity": "critical",
      "users_affected": 5000, "production": True, "workaround_available": False}, "take"),
    ({"title": "Invoice export broken for the finance team", "type": "data", "severity": "high",
      "users_affected": 30, "production": True, "workaround_available": False}, "leave"),
    ({"title": "Single sign-on rejects new accounts", "type": "access", "severity": "high",
      "users_affected": 25, "production": True, "workaround_available": False}, "take"),
    ({"title": "Dashboard slow to load for the sales department", "type": "performance", "severity": "medium",
      "users_affected": 12, "production": True, "workaround_available": True}, "take"),
    ({"title": "Typo on the billing settings page", "type": "data", "severity": "low",
      "users_affected": 1, "production": True, "workaround_available": True}, "leave"),
    ({"title": "Payment gateway outage for every customer", "type": "infrastructure", "severity": "critical",
      "users_affected": 800, "production": True, "workaround_available": False}, "close"),
    ({"title": "Password reset e-mails broken since Monday", "type": "access", "severity": "high",
      "users_affected": 40, "production": False, "workaround_available": False}, "close"),
    ({"title": "Search results slow after the last release", "type": "performance", "severity": "medium",
      "users_affected": 8, "production": True, "workaround_available": True}, "close"),
    ({"title": "Minor spelling mistake in the invoice footer", "type": "data", "severity": "low",
      "users_affected": 2, "production": False, "workaround_available": True}, "close"),
]


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

def make_templates(system: System) -> dict[str, Any]:
    """Report the template tickets through the API and work them through; return what was made."""
    reporter = Api(system.url("intake"), system.create_key("reporter", "Template Reporter", "templates@example.com"))
    agent = Api(system.url("intake"), system.create_key("agent", "Template Agent", "agent@example.com"))
    made = []
    try:
        for fields, fate in TEMPLATES:
            ticket = reporter.call("POST", "/v1/tickets", {**fields, "description": DESCRIPTION + fields["title"]},
                                   expect=201)
            made.append((ticket["number"], ticket["id"], fate))
        for number, _, _ in made:
            wait_until(lambda n=number: triaged(agent.call("GET", f"/v1/tickets/{n}")),
                       f"{number} triaged with its clocks running", timeout=60, interval=0.25)
        for number, _, fate in made:
            if fate in ("take", "close"):
                agent.call("POST", f"/v1/tickets/{number}/acknowledge")
            if fate == "close":
                agent.call("POST", f"/v1/tickets/{number}/resolve",
                           {"proposed_solution": "Rolled back the release and purged the cache"})
                reporter.call("POST", f"/v1/tickets/{number}/feedback", {"feedback": "confirmed_fixed"})
        with MongoClient(system.mongodb_url, tz_aware=True) as client:
            tickets = client[system.mongodb_db]["tickets"]
            closed = [ticket_id for _, ticket_id, fate in made if fate == "close"]

            def measured() -> bool:
                return all((d := tickets.find_one({"_id": t}, {"sla_response": 1, "sla_resolution": 1}))
                           and d.get("sla_response") and d.get("sla_resolution") for t in closed)
            try:
                wait_until(measured, "SLA outcomes of the closed templates", timeout=60, interval=0.5)
                outcomes = True
            except AssertionError:  # copied as they are; the result file says so
                outcomes = False
            statuses = {number: agent.call("GET", f"/v1/tickets/{number}")["status"] for number, _, _ in made}
    finally:
        reporter.close()
        agent.close()
    return {"tickets": len(made), "statuses": statuses, "closed_have_outcomes": outcomes}


def triaged(ticket: dict[str, Any]) -> bool:
    """Return True once triage decided the ticket and escalation started its clocks."""
    clocks = ((ticket.get("sla") or {}).get("clocks")) or []
    return bool(ticket.get("triage") and ticket.get("severity") and clocks)


def seed(system: System, tickets: int, open_count: int, templates: dict[str, Any], keys_out: Path,
         rabbit: int | None) -> dict[str, Any]:
    """Run `incidents seed` up to `tickets` stored; return how long it took and the CPU it cost."""
    open_templates = sum(1 for status in templates["statuses"].values() if status not in ("resolved", "closed"))
    count, opened = tickets - templates["tickets"], max(0, open_count - open_templates)
    pid = docstore_pid()
    docstore_before = cpu_seconds(pid) if pid else 0.0
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = Cpu(lambda: [p for p in (pid, rabbit) if p])
    mark, load_before = cpu.start(), load()
    started = time.perf_counter()
    printed = system.cli("seed", "--count", str(count), "--open", str(opened), "--reporters", "500",
                         "--keys-out", str(keys_out), timeout=4 * 3600)
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    seeder = children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
    return {"count": count, "open": opened, "seconds": round(seconds, 1), "printed": printed,
            "per_second": round(count / seconds, 1), "seeder_cpu_seconds": round(seeder, 1),
            "docstore_cpu_seconds": round(cpu_seconds(pid) - docstore_before, 1) if pid else None,
            "load_before": load_before, "load_after": load(),
            "foreign_cores": round(max(0.0, cpu.foreign(mark) - seeder / seconds), 2)}


# --- the measured requests -----------------------------------------------------------------------

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


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def requests_for(system: System, agent: Api, busy: Api, idle: Api, total: int, now: datetime,
                 rng: random.Random) -> list[Request]:
    """Return every measured kind of request against this system."""
    months = [(now - timedelta(days=30 * (k + 1)), now - timedelta(days=30 * k)) for k in range(1, 11)]
    numbers = [format_number("INC", rng.randint(1, total)) for _ in range(500)]
    words = [w for w in dict.fromkeys(WORDS)]
    rng.shuffle(words)
    pairs = adjacent_pairs(system.mongodb_db, months, rng)

    def month(i: int) -> tuple[datetime, datetime]:
        return months[i % len(months)]

    def sla_check(body: dict[str, Any], params: dict[str, Any]) -> str | None:
        rows = body.get("rows") or []
        return None if sum(r.get("tickets", 0) for r in rows) else f"an empty report for {params}"

    return [
        Request("my_tickets_many", "my_tickets", busy, lambda i: ("/v1/tickets", {"limit": 20}), non_empty),
        Request("my_tickets_none", "my_tickets", idle, lambda i: ("/v1/tickets", {"limit": 20}), any_page),
        Request("open_high", "open_work", agent,
                lambda i: ("/v1/tickets", {"status": "open", "severity": "high"}), non_empty),
        Request("in_progress", "open_work", agent, lambda i: ("/v1/tickets", {"status": "in_progress"}), non_empty),
        Request("agent_no_filter", "open_work", agent, lambda i: ("/v1/tickets", {}), non_empty),
        Request("history_month", "history", agent,
                lambda i: ("/v1/tickets", {"created_from": iso(month(i)[0]), "created_to": iso(month(i)[1]),
                                           "limit": 50}), non_empty),
        Request("by_number", "by_number", agent, lambda i: (f"/v1/tickets/{numbers[i % len(numbers)]}", {}),
                lambda body, params: None if body.get("number", "").startswith("INC-") else "no ticket"),
        Request("sla_report_month", "sla_report", agent,
                lambda i: ("/v1/reports/sla", {"from": iso(month(i)[0]), "to": iso(month(i)[1])}), sla_check),
        Request("search_one_word", "search", agent, lambda i: ("/v1/tickets", {"q": words[i % len(words)]}),
                non_empty),
        Request("search_two_words", "search", agent, lambda i: ("/v1/tickets", {"q": pairs[i % len(pairs)]}),
                non_empty),
    ]


def adjacent_pairs(mongodb_db: str, months: list[tuple[datetime, datetime]], rng: random.Random) -> list[str]:
    """Return two-word queries taken from stored titles, adjacent and in order (the before code matches a phrase).

    The titles come from the day documents of the seeded views, read by _id (the API of the code
    measured may take minutes to list them).
    """
    start, _ = months[0]
    with MongoClient(MONGO) as client:
        views = client[mongodb_db]["ticket_views"]
        titles = [entry["title"] for shelf in shelves_of(views, days_directory_id(start.strftime("%Y-%m")))
                  for entry in ((unpacked(views.find_one({"_id": f"day:{shelf.key}"})) or {}).get("entries")
                                or {}).values()]
    pairs = []
    for title in titles[:100]:
        words = title.lower().split()
        if len(words) >= 2:
            k = rng.randrange(len(words) - 1)
            pairs.append(f"{words[k]} {words[k + 1]}")
    if not pairs:
        raise RuntimeError("no titles to search for")
    return pairs


def shelves_of(views: Any, directory_id: str) -> list[Shelf]:
    """Return the shelves a directory document lists (read by _id), newest first."""
    return shelves_in(views.find_one({"_id": directory_id}))


def busiest_reporter(mongodb_db: str, keys: dict[str, str], now: datetime) -> str:
    """Return the seeded reporter with the most tickets (the ranks in their shelf directories, by _id)."""
    with MongoClient(MONGO, tz_aware=True) as client:
        views = client[mongodb_db]["ticket_views"]
        counts = {reporter: sum(shelf.rank + 1 for shelf in shelves_of(views, reporter_directory_id(reporter)))
                  for reporter in keys}
    return max(counts, key=counts.get)


def view_sizes(mongodb_db: str, reporter: str, now: datetime) -> dict[str, Any]:
    """Return the BSON sizes of the view documents the after code reads (by _id), for the diagnosis."""
    with MongoClient(MONGO, tz_aware=True) as client:
        views = client[mongodb_db]["ticket_views"]

        def size(doc_id: str) -> dict[str, Any]:
            document = views.find_one({"_id": doc_id})
            if document is None:
                return {"bytes": 0, "entries": 0}
            return {"bytes": len(bson.encode(document)), "entries": len(document.get("entries") or {})}

        def total(doc_ids: list[str]) -> dict[str, Any]:
            sizes = [size(doc_id) for doc_id in doc_ids]
            return {"documents": len(sizes), "bytes": sum(s["bytes"] for s in sizes),
                    "entries": sum(s["entries"] for s in sizes), "largest_bytes": max((s["bytes"] for s in sizes),
                                                                                       default=0)}

        day = (now - timedelta(days=45)).strftime("%Y-%m-%d")
        mine = shelves_of(views, reporter_directory_id(reporter))
        days = [shelf for shelf in shelves_of(views, days_directory_id(day[:7])) if shelf.key.startswith(day)]
        return {
            "mine:<busiest>:* (every shelf)": total([f"mine:{reporter}:{shelf.key}" for shelf in mine]),
            "mine:<busiest>:<newest shelf>": size(f"mine:{reporter}:{mine[0].key}") if mine else {},
            f"open:* ({OPEN_BUCKETS} documents)": total([f"open:{b}" for b in range(OPEN_BUCKETS)]),
            f"day:{day}-* (its shelves)": total([f"day:{shelf.key}" for shelf in days]),
            f"sla:{day}-* (its shelves)": total([f"sla:{shelf.key}" for shelf in days]),
            f"word:{day}:{WORDS[0]}": posting(views, f"word:{day}:{WORDS[0]}", "ids"),
            f"words:{day[:7]}:{WORDS[0]}": posting(views, f"words:{day[:7]}:{WORDS[0]}", "days"),
        }


def posting(views, doc_id: str, field: str) -> dict[str, int]:
    """Return the size of a posting document and how many values its list holds."""
    document = views.find_one({"_id": doc_id}) or {}
    return {"bytes": len(bson.encode(document)), field: len(document.get(field) or [])}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets stored (templates included)")
    parser.add_argument("--open", type=int, default=2_000, help="how many of them open")
    parser.add_argument("--code-root", type=Path, default=ROOT, help="the checkout whose services are measured")
    parser.add_argument("--label", choices=["before", "after"], help="default: after for this checkout, else before")
    parser.add_argument("--quick", action="store_true", help="30 samples a kind, 30 s at rest")
    parser.add_argument("--samples", type=int, help="samples per kind (default 30 quick, 50 otherwise)")
    parser.add_argument("--budget", type=float, help="seconds per kind after which sampling stops (at least 3 samples)")
    parser.add_argument("--idle-seconds", type=float, help="seconds of rest to measure the docstore's CPU over")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per kind (one only if it is slow)")
    parser.add_argument("--retake-above", type=float, default=FOREIGN_CPU_LIMIT,
                        help="take a figure again once if other work used more cores than this meanwhile")
    parser.add_argument("--keep-db", action="store_true", help="keep the seeded database (keys in var/bench/)")
    parser.add_argument("--db", help="measure this database seeded by an earlier --keep-db run (no templates, no seeding)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services and drop the database on kill too
    root = args.code_root.resolve()
    label = args.label or ("after" if root == ROOT else "before")
    samples = args.samples or (30 if args.quick else 50)
    budget = args.budget or (30.0 if args.quick else 90.0)
    idle_seconds = args.idle_seconds or (30.0 if args.quick else 60.0)
    pid = docstore_pid()
    rabbit = listening_pid(urlsplit(AMQP).port or 5672)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-store-"))
    keys_dir = ROOT / "var" / "bench"
    keys_dir.mkdir(parents=True, exist_ok=True)
    from shared.mailsink import start_sink

    sink_port = free_port()
    sink = start_sink(log_dir / "mail", port=sink_port)
    db = args.db or f"bench_store_{new_id().lower()[-10:]}"
    keys_file = keys_dir / f"{db}.keys.json"
    result: dict[str, Any] = {"label": label, "code_root": str(root), "tickets": args.tickets, "open": args.open,
                              "database": db, "mongodb_url": MONGO, "docstore_pid": pid, "load_at_start": load(),
                              "argv": sys.argv[1:]}
    dropped = False
    try:
        if args.db is None:
            with vhost() as amqp_url:
                maker = System(amqp_url, MONGO, db, sink_port, log_dir / "templates")
                (log_dir / "templates").mkdir(parents=True)
                print(f"making templates through the API in {db} ...", flush=True)
                try:
                    maker.start_all()
                    result["templates"] = make_templates(maker)
                    settle_docstore(pid, timeout=120)
                finally:
                    maker.stop_all()
                print(f"seeding {args.tickets} tickets ({args.open} open, 500 reporters) ...", flush=True)
                result["seeding"] = seed(maker, args.tickets, args.open, result["templates"], keys_file, rabbit)
                print(f"  seeded in {result['seeding']['seconds']} s", flush=True)
        keys: dict[str, str] = json.loads(keys_file.read_text())
        with vhost() as amqp_url:
            (log_dir / label).mkdir(parents=True)
            system = System(amqp_url, MONGO, db, sink_port, log_dir / label, root=None if root == ROOT else root,
                            ready_timeout=900)
            cpu = Cpu(lambda: [p for p in (pid, rabbit, os.getpid(), *[q.pid for q in system.processes.values()]) if p])
            print(f"starting the services from {root} ...", flush=True)
            started = time.perf_counter()
            try:
                system.start_all()
                result["start_seconds"] = round(time.perf_counter() - started, 1)
                # intake answers at once and scans for what a crash left in the background: wait that out too
                result["settled_seconds_after_start"] = settle_docstore(pid, timeout=900, quiet_windows=5)
                now = datetime.now(UTC)
                rng = random.Random(14)
                reporter = busiest_reporter(db, keys, now)
                agent = Api(system.url("intake"), system.create_key("agent", "Bench Agent", "bench-agent@example.com"))
                busy = Api(system.url("intake"), keys[reporter])
                idle = Api(system.url("intake"), system.create_key("reporter", "No Tickets", "none@example.com"))
                figures = []
                for request in requests_for(system, agent, busy, idle, args.tickets, now, rng):
                    print(f"measuring {request.kind} ...", flush=True)
                    figures.append(measure(request, samples, budget, cpu, args.warmup, args.retake_above))
                    settle_docstore(pid, timeout=180)  # what a timed-out request left running
                print(f"docstore CPU at rest over {idle_seconds:g} s ...", flush=True)
                result["idle"] = idle_cpu(idle_seconds, pid, system, cpu)
                result["requests"] = {f.kind: f.as_dict() for f in figures}
                result["view_documents"] = view_sizes(db, reporter, now)
                for api in (agent, busy, idle):
                    api.close()
            finally:
                system.stop_all()
        result["load_at_end"] = load()
        path = save(f"store-{args.tickets}-{label}", result)
        print(f"\n{label} code, {args.tickets} tickets ({args.open} open):")
        print(table(figures, result["idle"]))
        if "seeding" in result:
            print(f"seeding {result['seeding']['count']} tickets: {result['seeding']['seconds']} s")
        print(f"\nwritten to {path}  ({machine()['cpus']} cpus)")
    finally:
        sink.stop()
        if not args.keep_db and args.db is None:  # a database named with --db is the caller's: never dropped
            with MongoClient(MONGO) as client:
                client.drop_database(db)
            keys_file.unlink(missing_ok=True)
            dropped = True
    if not dropped:
        print(f"kept database {db}; measure it again with --db {db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
