"""Alert storm: 5,000 Events API v2 triggers in 60 seconds across 50 dedup keys, against the whole platform.

    python -m bench.alert_storm [--alerts 5000 --seconds 60 --groups 50]

Checks what a storm must not break: every request is answered (2xx, or 429 with Retry-After; never
a timeout or a 5xx), the client retries each 429 after Retry-After as PagerDuty's clients do, exactly
one ticket opens per dedup key, on-call is paged at most once per ticket per escalation step (the
pager webhook is a local receiver counting pages and digest items per ticket), and intake's p99
while the storm lasts. The same run first measures a baseline: the same endpoint at a quiet 5
requests per second. Load averages are recorded with the figures (the machine may be shared).
Writes bench/results/alert-storm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.harness import MONGO, percentile, running_system, save
from bench.system import wait_until

CLIENT_TIMEOUT = 10.0
"""A request not answered within this many seconds counts as a timeout (never acceptable)."""


class PageReceiver:
    """A local pager endpoint: records every page (and digest) the notifier delivers."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.bodies.append({"path": self.path, **json.loads(raw or b"{}")})
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def pages_per_ticket_and_step(self) -> Counter:
        """Return how many pages named each (ticket number, message), counting digest items too."""
        counts: Counter = Counter()
        with self._lock:
            bodies = list(self.bodies)
        for body in bodies:
            if body.get("ticket"):
                counts[(body["ticket"]["number"], body["message"])] += 1
            for item in body.get("items") or []:
                counts[(item["number"], item["message"])] += 1
        return counts

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def trigger(key: str, dedup_key: str, n: int) -> dict[str, Any]:
    """Return one Events API trigger of the storm."""
    return {"routing_key": key, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": f"Storm: service {dedup_key} is failing", "source": f"host-{n % 200}",
                        "severity": "critical", "component": "storm",
                        "custom_details": {"sample": n, "value": n * 0.5}}}


class Connection:
    """One persistent HTTP/1.1 connection with a minimal client: the load generator must cost far less than
    the server it measures (httpx costs milliseconds of CPU per request on a loaded machine)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        """Send one POST and return (status, headers); reconnects once if the server closed the connection."""
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: intake\r\nContent-Type: "
                                  b"application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
                headers = {}
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                await self.reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return int(status_line.split()[1]), headers
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def offer(base_url: str, key: str, alerts: int, seconds: float, groups: int, record: dict[str, Any],
                connections: int = 64) -> None:
    """Offer `alerts` triggers evenly over `seconds` (open loop); retry each 429 after its Retry-After.

    Intake's latency is measured from sending a request to its answer; the client's own lag (a request
    waiting for a free connection) is recorded apart, so a slow client cannot pass for a slow server.
    """
    host, port = base_url.split("://", 1)[1].split(":")
    queue: asyncio.Queue = asyncio.Queue()
    interval = seconds / alerts
    start = time.perf_counter()
    pending = alerts

    async def worker() -> None:
        nonlocal pending
        connection = Connection(host, int(port))
        while True:
            n, due = await queue.get()
            if n is None:
                connection.close()
                return
            record["client_lag"].append(max(0.0, time.perf_counter() - due))
            body = json.dumps(trigger(key, f"group-{n % groups:02d}", n)).encode()
            sent = time.perf_counter()
            try:
                status, headers = await asyncio.wait_for(connection.post("/v2/enqueue", body), CLIENT_TIMEOUT)
            except TimeoutError:
                record["timeouts"] += 1
                connection.close()
                pending -= 1
                continue
            except OSError as exc:
                record["errors"].append(repr(exc))
                pending -= 1
                continue
            record["latencies"].append(time.perf_counter() - sent)
            record["sent_at"].append(sent - start)
            record["by_status"].setdefault(status, []).append(record["latencies"][-1])
            record["statuses"][status] += 1
            if status == 429:
                retry_after = headers.get("retry-after", "")
                if not retry_after.isdigit():
                    record["429_without_retry_after"] += 1
                    pending -= 1
                    continue
                asyncio.get_running_loop().call_later(int(retry_after), queue.put_nowait,
                                                      (n, time.perf_counter() + int(retry_after)))
                continue
            if status == 202:
                record["accepted"] += 1
            pending -= 1

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    for n in range(alerts):
        due = start + n * interval
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((n, due))
    record["offered_seconds"] = round(time.perf_counter() - start, 2)
    while pending > 0:
        await asyncio.sleep(0.05)
    for _ in workers:
        queue.put_nowait((None, 0.0))
    await asyncio.gather(*workers)
    record["done_seconds"] = round(time.perf_counter() - start, 2)


def new_record() -> dict[str, Any]:
    return {"latencies": [], "sent_at": [], "by_status": {}, "client_lag": [], "statuses": Counter(), "accepted": 0, "timeouts": 0,
            "errors": [],
            "429_without_retry_after": 0}


WINDOW_SECONDS = 10


def by_window(latencies: list[float], sent_at: list[float]) -> dict[str, dict[str, float]]:
    """Return p50/p99/count of the answers per WINDOW_SECONDS of the storm, by when they were sent: where a tail is."""
    windows: dict[int, list[float]] = {}
    for latency, moment in zip(latencies, sent_at, strict=True):
        windows.setdefault(int(moment // WINDOW_SECONDS), []).append(latency)
    return {f"{w * WINDOW_SECONDS}-{(w + 1) * WINDOW_SECONDS}s": {
        "requests": len(values), "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1)} for w, values in sorted(windows.items())}


def summary(record: dict[str, Any]) -> dict[str, Any]:
    latencies, lag, by_status = record.pop("latencies"), record.pop("client_lag"), record.pop("by_status")
    sent_at = record.pop("sent_at")
    return {**record, "statuses": dict(record["statuses"]), "requests": len(latencies),
            "by_window": by_window(latencies, sent_at),
            "p99_ms_by_status": {status: round(percentile(values, 0.99) * 1000, 1)
                                 for status, values in by_status.items()},
            "client_lag_p99_ms": round(percentile(lag, 0.99) * 1000, 1),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1), "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None}


async def sample_load(samples: list[float], stop: asyncio.Event) -> None:
    """Record the 1-minute load average every second until stopped."""
    while not stop.is_set():
        samples.append(os.getloadavg()[0])
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


def stored(system, integration_id: str) -> tuple[int, int, int]:
    """Return (dedup-key records of the integration, tickets, tickets triaged)."""
    with MongoClient(MONGO) as client:
        db = client[system.mongodb_db]
        return (db["alert_groups"].count_documents({"integration_id": integration_id}),
                db["tickets"].count_documents({}), db["tickets"].count_documents({"triage": {"$ne": None}}))


async def main(alerts: int, seconds: float, groups: int, page_wait: float) -> int:
    pager = PageReceiver()
    env = {"WEBHOOK_SIGNING_SECRET": "bench-pager-secret-0123456789abcdef", "DELIVERY_POLL_SECONDS": "0.2"}
    for team in ("SERVICE_DESK", "TECHNICAL_SUPPORT", "SENIOR_ENGINEERING", "VENDOR_MANAGEMENT"):
        env[f"PAGER_{team}_URL"] = f"http://127.0.0.1:{pager.port}/pager/{team.lower()}"
    load_before = os.getloadavg()
    try:
        with running_system(Path(tempfile.mkdtemp(prefix="bench-storm-")), **env) as system:
            printed = system.cli("integrations", "create", "--kind", "events-v2", "--team", "senior-engineering",
                                 "--name", "storm-tool", "--rate-per-minute", "12000", "--burst", "2000")
            key = next(line.split(":", 1)[1].strip() for line in printed.splitlines() if line.startswith("key:"))
            integration_id = next(line.split(":", 1)[1].strip() for line in printed.splitlines()
                                  if line.startswith("id:"))
            print("baseline: 100 triggers at 5/s on one quiet dedup key ...", flush=True)
            baseline = new_record()
            quiet_key = next(line.split(":", 1)[1].strip() for line in system.cli(
                "integrations", "create", "--kind", "events-v2", "--team", "technical-support", "--name",
                "quiet-tool").splitlines() if line.startswith("key:"))
            await offer(system.url("intake"), quiet_key, 100, 20, 1, baseline)
            print(f"storm: {alerts} triggers in {seconds:g} s across {groups} dedup keys ...", flush=True)
            storm, load_samples, stop = new_record(), [], asyncio.Event()
            sampler = asyncio.create_task(sample_load(load_samples, stop))
            await offer(system.url("intake"), key, alerts, seconds, groups, storm)
            stop.set()
            await sampler
            print("waiting for every ticket to be triaged and paged ...", flush=True)
            wait_until(lambda: stored(system, integration_id)[0] >= groups and stored(system, integration_id)[2]
                       >= groups + 1, "every storm ticket triaged", timeout=300, interval=1)
            await asyncio.sleep(page_wait)  # pages past the pager's rate limit arrive as a digest after its interval
            records, tickets, triaged = stored(system, integration_id)
            pages = pager.pages_per_ticket_and_step()
    finally:
        pager.stop()
    storm_figures, baseline_figures = summary(storm), summary(baseline)
    answered_ok = all(code in (202, 429) for code in storm_figures["statuses"])
    result = {
        "alerts": alerts, "seconds": seconds, "groups": groups,
        "baseline_quiet_5_per_second": baseline_figures, "storm": storm_figures,
        "dedup_records": records, "tickets": tickets - 1, "tickets_triaged": triaged - 1,
        "pages": {"per_ticket_and_step_max": max(pages.values(), default=0), "tickets_paged": len({n for n, _ in pages}),
                  "pages_and_digest_items": sum(pages.values())},
        "load_average": {"before": load_before, "during_max": max(load_samples, default=None),
                         "during_mean": round(sum(load_samples) / len(load_samples), 2) if load_samples else None,
                         "after": os.getloadavg()},
        "checks": {
            "every_request_answered_2xx_or_429_with_retry_after": answered_ok and not storm_figures["timeouts"]
            and not storm_figures["errors"] and not storm_figures["429_without_retry_after"],
            "every_alert_accepted": storm_figures["accepted"] == alerts,
            "one_ticket_per_group": records == groups and tickets - 1 == groups,
            "at_most_one_page_per_ticket_per_step": max(pages.values(), default=0) <= 1,
            "intake_p99_within_200_ms": storm_figures["p99_ms"] <= 200,
        },
    }
    path = save("alert-storm", result)
    print(json.dumps(result, indent=2, default=str))
    print(f"written to {path}")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--page-wait", type=float, default=75.0, help="seconds to wait for digests after triage")
    arguments = parser.parse_args()
    raise SystemExit(asyncio.run(main(arguments.alerts, arguments.seconds, arguments.groups, arguments.page_wait)))
