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
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo import MongoClient

from bench.harness import (
    AMQP,
    MONGO,
    ROOT,
    docstore_pid,
    listening_pid,
    machine,
    save,
    vhost,
)
from bench.store_data import adjacent_pairs, busiest_reporter, make_templates, seed, view_sizes
from bench.store_measure import (
    FOREIGN_CPU_LIMIT,
    Api,
    Cpu,
    Request,
    any_page,
    idle_cpu,
    load,
    measure,
    non_empty,
    settle_docstore,
    table,
)
from bench.system import System, free_port
from services.intake.service_layer.seeding import WORDS
from shared.contracts import format_number
from shared.ids import new_id


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
