"""kill -9 triage while tickets are being posted: every accepted ticket is triaged exactly once."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.e2e.api import wait_all_triaged_once

pytestmark = pytest.mark.e2e

TICKETS = 60


def test_every_accepted_ticket_is_triaged_exactly_once_across_a_triage_crash(system):
    key = system.create_key("reporter", "Load", "load@example.com")
    headers = {"Authorization": f"Bearer {key}"}
    numbers: list[str] = []

    def post_tickets() -> None:
        with httpx.Client(base_url=system.url("intake"), headers=headers, timeout=10) as client:
            for i in range(TICKETS):
                response = client.post(
                    "/v1/tickets",
                    json={"title": f"Report {i}", "type": "data", "description": "sync failures"},
                )
                if response.status_code == 201:
                    numbers.append(response.json()["number"])
                time.sleep(0.02)

    poster = threading.Thread(target=post_tickets)
    poster.start()
    while len(numbers) < TICKETS // 3:
        time.sleep(0.01)
    system.kill("triage")
    while len(numbers) < 2 * TICKETS // 3 and poster.is_alive():
        time.sleep(0.01)
    system.start("triage")
    poster.join()
    assert len(numbers) == TICKETS

    pending = wait_all_triaged_once(system.url("intake"), headers, numbers, 60)
    assert not pending, f"never triaged: {sorted(pending)}"
