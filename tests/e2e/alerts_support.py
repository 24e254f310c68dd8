"""Helpers the alerts-in e2e tests share: integrations made with the real CLI, and tickets found by source."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from bench.system import System, wait_until

PAGER_SECRET = "e2e-pager-secret-0123456789abcdef"
TEAMS = ("service-desk", "technical-support", "senior-engineering", "vendor-management")


def pager_secrets() -> dict[str, str]:
    """Return each team pager's own signing secret by its path on the receiver (as Receiver takes them)."""
    return {f"/pager/{team}": f"{PAGER_SECRET}-{team}" for team in TEAMS}


def pager_env(receiver_port: int) -> dict[str, str]:
    """Return notifier settings that send every team's pages, signed with its own secret, to /pager/<team>."""
    env = {"WEBHOOK_TIMEOUT_SECONDS": "2", "DELIVERY_POLL_SECONDS": "0.2"}
    for team, secret in zip(TEAMS, pager_secrets().values(), strict=True):
        variable = f"PAGER_{team.upper().replace('-', '_')}"
        env[f"{variable}_URL"] = f"http://127.0.0.1:{receiver_port}/pager/{team}"
        env[f"{variable}_SECRET"] = secret
    return env


def create_integration(system: System, kind: str, name: str, *options: str,
                       team: str = "technical-support") -> dict[str, str]:
    """Create an integration with `incidents integrations create`; return what it printed (id, url, key, ...)."""
    printed = system.cli("integrations", "create", "--kind", kind, "--team", team, "--name", name, *options)
    found: dict[str, str] = {}
    for line in printed.splitlines():
        label, sep, value = line.partition(":")
        if sep and label.strip() in ("id", "url", "key", "events url", "command url"):
            found[label.strip()] = value.strip()
    for label in ("url", "events url", "command url"):  # printed with PORTAL_URL; the test talks to intake itself
        if label in found:
            found["printed " + label] = found[label]
            found[label] = system.url("intake") + "/" + found[label].split("://", 1)[1].split("/", 1)[1]
    return found


def groups(system: System, integration_id: str) -> list[dict[str, Any]]:
    """Return the source records (alert groups, dedup keys) of one integration, read from the database."""
    with MongoClient(system.mongodb_url, tz_aware=True) as client:
        return list(client[system.mongodb_db]["alert_groups"].find({"integration_id": integration_id}))


def wait_for_group(system: System, integration_id: str, predicate=lambda g: True, timeout: float = 60) -> dict:
    """Return the first source record of the integration that satisfies predicate and whose ticket is stored.

    A record claims its ticket's id and number a moment before the ticket is written, so a test that
    reads the ticket by the record's number waits for both.
    """
    def found() -> dict | None:
        return next((g for g in groups(system, integration_id) if predicate(g) and ticket_stored(system, g)), None)

    return wait_until(found, lambda: f"a matching alert group with its ticket; have {groups(system, integration_id)}",
                      timeout, interval=0.3)


def ticket_stored(system: System, group: dict[str, Any]) -> bool:
    """Return True once the ticket the record claimed is in the database."""
    with MongoClient(system.mongodb_url) as client:
        return client[system.mongodb_db]["tickets"].find_one({"_id": group["ticket_id"]}, {"_id": 1}) is not None


def count_tickets(system: System) -> int:
    """Return how many tickets the database holds."""
    with MongoClient(system.mongodb_url) as client:
        return client[system.mongodb_db]["tickets"].count_documents({})


def unauthorized(system: System, kind: str) -> float:
    """Return intake's count of requests of this kind that proved nobody (from /metrics)."""
    text = httpx.get(system.url("intake") + "/metrics", timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "incidents_integration_requests_total"
               and s.labels == {"kind": kind, "outcome": "unauthorized"})
