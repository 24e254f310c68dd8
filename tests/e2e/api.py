"""A small client for e2e tests: one API key, JSON in and out."""

from __future__ import annotations

from typing import Any

import httpx

from bench.system import wait_until


class Api:
    """Calls intake as one user."""

    def __init__(self, base_url: str, key: str) -> None:
        self.client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=15)

    def post(self, path: str, json: Any = None, expect: int | None = None, **kwargs: Any) -> httpx.Response:
        response = self.client.post(path, json=json, **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response

    def get(self, path: str, expect: int | None = 200, **kwargs: Any) -> httpx.Response:
        response = self.client.get(path, **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response

    def report(self, **fields: Any) -> dict:
        body = {"title": "Export fails", "type": "data", "description": "CSV export returns 500", **fields}
        return self.post("/v1/tickets", body, expect=201).json()

    def ticket(self, number: str) -> dict:
        return self.get(f"/v1/tickets/{number}").json()

    def wait_for(self, number: str, predicate, timeout: float = 30.0) -> dict:
        """Poll a ticket until predicate(ticket) holds; return it."""
        seen: dict = {}

        def reached() -> dict | None:
            seen["ticket"] = ticket = self.ticket(number)
            return ticket if predicate(ticket) else None

        return wait_until(reached, lambda: f"{number} in the expected state: {seen.get('ticket')}", timeout)


def wait_all_triaged_once(intake_url: str, headers: dict[str, str], numbers: list[str], timeout: float) -> set[str]:
    """Wait until every ticket shows one `triaged` entry (failing at once on a second); return those never triaged."""
    pending = set(numbers)
    with httpx.Client(base_url=intake_url, headers=headers, timeout=10) as client:

        def all_triaged() -> bool:
            for number in sorted(pending):
                ticket = client.get(f"/v1/tickets/{number}").json()
                triaged = [e for e in ticket["timeline"] if e["action"] == "triaged"]
                assert len(triaged) <= 1, f"{number} was triaged {len(triaged)} times"
                if triaged:
                    pending.discard(number)
            return not pending

        wait_until(all_triaged, lambda: f"every ticket triaged; still pending: {sorted(pending)}", timeout, interval=0.2)
    return pending
