"""Console benchmark (issue 17): the queue and the ticket workbench, rendered for a signed-in agent, on a seeded store.

    python -m bench.console [--tickets 100000] [--open 2000] [--requests 200]

Starts its own copy of the four services (fresh vhost, fresh database), reports a few template
tickets through the API and works them like people do (taken, resolved and confirmed, left open),
stops the services and stores copies with `incidents seed` (services/intake/service_layer/seeding.py)
until --tickets are stored, --open of them open. Then it starts the services again, gives an agent a
portal session (the sessions adapter, as sign-in would), and times sequential requests after a
warm-up: the queue page (`/console`, its default rows), the queue's self-refresh (the htmx part),
a filtered queue, and the workbench of open tickets picked at random. The figures are round trips
on the loopback interface, an upper bound of the server time. Every response must be 200 with the
page's content, else the run stops. Results: bench/results/console-<tickets>.json.

Before measuring it waits until the docstore is idle: intake's start-up recovery scan reads every
ticket (minutes of docstore CPU at 100,000, bootstrap.recover_in_background), and the docstore goes
on with a scan after the process that asked has stopped. With each kind it records the load
average and the CPU seconds the docstore and intake used, so a disturbed run shows as such.

Issue 17's target: ≤ 200 ms p95 for the queue and the ticket page at 100,000 tickets, 2,000 open. Run it
at that size on a quiet machine; `--tickets 500` is a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.harness import MONGO, cpu_seconds, listening_pid, percentile, running_system, save, settle, vhost
from bench.system import System, free_port
from services.intake.entrypoints.portal_web import SESSION_COOKIE
from tests.e2e.api import Api

TARGET_P95_MS = 200
SETTLE_SECONDS = 900
"""How long to wait for the docstore to finish intake's start-up scan before measuring anyway."""
AGENT_EMAIL = "bench.agent@support.example.com"
TEMPLATES: list[tuple[dict[str, Any], str]] = [
    ({"title": "Checkout down in production", "type": "infrastructure", "severity": "critical",
      "users_affected": 900, "production": True}, "take"),
    ({"title": "Invoice export fails", "type": "data", "severity": "high", "users_affected": 30}, "leave"),
    ({"title": "Dashboard slow for the sales team", "type": "performance", "severity": "medium",
      "users_affected": 12}, "take"),
    ({"title": "Spelling mistake on the billing page", "type": "data", "severity": "low"}, "leave"),
    ({"title": "Password reset mails missing", "type": "access", "severity": "high"}, "close"),
    ({"title": "Search slow after the release", "type": "performance", "severity": "medium"}, "close"),
]
"""What the template tickets are, and what happens to them before they are copied."""


def make_templates(agent: Api, reporter: Api) -> None:
    """Report the template tickets and work them through the API until triage and the people are done."""
    for body, fate in TEMPLATES:
        number = reporter.report(description=f"{body['title']}: reported by the console benchmark.", **body)["number"]
        reporter.wait_for(number, lambda t: t.get("tier") is not None, 60)
        if fate in ("take", "close"):
            agent.post(f"/v1/tickets/{number}/acknowledge", expect=200)
        if fate == "close":
            agent.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "Fixed in the last deploy."}, expect=200)
            reporter.post(f"/v1/tickets/{number}/feedback", {"feedback": "confirmed_fixed"}, expect=200)
            reporter.wait_for(number, lambda t: t["status"] == "closed", 60)


async def agent_session(system: System, agent_key: str) -> str:
    """Return a portal session id for the agent holding agent_key, stored as sign-in stores one."""
    from services.intake.adapters.api_keys import MongoApiKeys
    from services.intake.adapters.web_sessions import MongoWebSessions
    from shared.clock import SystemClock
    from shared.persistence import make_client

    client = make_client(system.mongodb_url)
    try:
        db = client[system.mongodb_db]
        principal = await MongoApiKeys(db).authenticate(agent_key)
        if principal is None:
            raise SystemExit("the benchmark's agent key does not authenticate")
        now = SystemClock().now()
        return await MongoWebSessions(db).create(principal, now, now + timedelta(hours=2), "bench")
    finally:
        await client.close()


def timed(client: httpx.Client, path: str, must_contain: str, headers: dict[str, str] | None = None) -> float:
    """Return the seconds one GET took; stop the run on anything but a 200 showing must_contain."""
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or must_contain not in response.text:
        raise SystemExit(f"GET {path}: {response.status_code}, expected 200 with {must_contain!r}: "
                         f"{response.text[:300]}")
    return elapsed


def figure(samples: list[float]) -> dict[str, Any]:
    """Return the latencies in milliseconds for the result file."""
    ms = [s * 1000 for s in samples]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 0.5), 1), "p95_ms": round(percentile(ms, 0.95), 1),
            "mean_ms": round(statistics.fmean(ms), 1), "max_ms": round(max(ms), 1), "target_p95_ms": TARGET_P95_MS}


def settled_docstore(system: System) -> tuple[int | None, float]:
    """Wait until the docstore of this system is idle; return its pid and the seconds waited."""
    pid = listening_pid(urlsplit(system.mongodb_url).port or 27017)
    return pid, asyncio.run(settle(pid, timeout=SETTLE_SECONDS))


def cpu_of(pid: int | None) -> float | None:
    """Return a process's CPU seconds so far, None if unknown."""
    try:
        return cpu_seconds(pid) if pid is not None else None
    except OSError:
        return None


def measure(system: System, session: str, requests: int, rng: random.Random) -> dict[str, Any]:
    """Time the console's pages once the docstore is idle; return the figures per kind of request."""
    docstore, waited = settled_docstore(system)
    print(f"docstore idle after {waited} s", flush=True)
    intake = system.processes["intake"].pid
    with httpx.Client(base_url=system.url("intake"), cookies={SESSION_COOKIE: session}, timeout=120,
                      follow_redirects=False) as client:
        everything = client.get("/console?show=2000")
        numbers = sorted(set(re.findall(r'href="/console/tickets/([A-Z]+-\d+)"', everything.text)))
        if not numbers:
            raise SystemExit(f"the queue lists no ticket: {everything.status_code} {everything.text[:300]}")
        kinds = {
            "queue": lambda: timed(client, "/console", "Tickets by urgency"),
            "queue_refresh": lambda: timed(client, "/console?since=", "Tickets by urgency",
                                           {"HX-Request": "true", "HX-Target": "queue"}),
            "queue_filtered": lambda: timed(client, "/console?severity=high&assignee=nobody", "Filter the queue"),
            "ticket": lambda: timed(client, f"/console/tickets/{rng.choice(numbers)}", "SLA clocks"),
        }
        figures = {}
        for kind, once in kinds.items():
            for _ in range(max(5, requests // 10)):  # warm-up: caches, connections, the interpreter
                once()
            load_before, cpu_before = os.getloadavg(), (cpu_of(docstore), cpu_of(intake))
            started = time.perf_counter()
            samples = [once() for _ in range(requests)]
            seconds = time.perf_counter() - started
            used = [None if a is None or b is None else round(b - a, 2)
                    for a, b in zip(cpu_before, (cpu_of(docstore), cpu_of(intake)), strict=True)]
            figures[kind] = {**figure(samples), "load_before": load_before, "load_after": os.getloadavg(),
                             "seconds": round(seconds, 1), "docstore_cpu_seconds": used[0], "intake_cpu_seconds": used[1]}
            print(f"{kind}: p50 {figures[kind]['p50_ms']} ms, p95 {figures[kind]['p95_ms']} ms; load "
                  f"{load_before[0]:.2f} -> {figures[kind]['load_after'][0]:.2f}; CPU s in {seconds:.1f} s: "
                  f"docstore {used[0]}, intake {used[1]}", flush=True)
        return {"open_listed": len(numbers), "docstore_idle_after_seconds": waited, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets stored")
    parser.add_argument("--open", type=int, default=2000, help="how many of them open")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="measure this already seeded database (e.g. bench.store --keep-db's) instead")
    args = parser.parse_args(argv)
    if not 0 < args.open <= args.tickets or args.requests < 20:
        parser.error("need 0 < --open <= --tickets and --requests >= 20")
    rng = random.Random(args.seed)
    if args.db:
        return measure_existing(args, rng)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as logs, running_system(Path(logs)) as system:
        agent_key = system.create_key("agent", "Bench Agent", AGENT_EMAIL)
        reporter_key = system.create_key("reporter", "Bench Reporter", "bench.reporter@example.com")
        url = system.url("intake")
        make_templates(Api(url, agent_key), Api(url, reporter_key))
        system.stop_all()
        started = time.perf_counter()
        print(system.cli("seed", "--count", str(args.tickets), "--open", str(args.open), "--seed", str(args.seed)),
              flush=True)
        seeding_seconds = round(time.perf_counter() - started, 1)
        system.start_all()
        session = asyncio.run(agent_session(system, agent_key))
        result = {"tickets": args.tickets, "open": args.open, "requests": args.requests,
                  "seeding_seconds": seeding_seconds, **measure(system, session, args.requests, rng)}
    path = save(f"console-{args.tickets}", result)
    print(f"results: {path}")
    return 0


def measure_existing(args: argparse.Namespace, rng: random.Random) -> int:
    """Measure the console on a database seeded earlier (kept, not dropped), on a fresh vhost."""
    from shared.mailsink import start_sink

    with tempfile.TemporaryDirectory(prefix="bench-console-") as logs, vhost() as amqp_url:
        sink_port = free_port()
        sink = start_sink(Path(logs) / "mail", port=sink_port)
        system = System(amqp_url, MONGO, args.db, sink_port, Path(logs), ready_timeout=900)
        try:
            system.start_all()
            agent_key = system.create_key("agent", "Bench Agent", AGENT_EMAIL)
            session = asyncio.run(agent_session(system, agent_key))
            result = {"tickets": args.tickets, "open": args.open, "requests": args.requests, "database": args.db,
                      **measure(system, session, args.requests, rng)}
        finally:
            system.stop_all()
            sink.stop()
    path = save(f"console-{args.tickets}", result)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
