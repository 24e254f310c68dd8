"""A small client for e2e tests: one API key, JSON in and out."""

from __future__ import annotations

import time
from typing import Any

import httpx


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
        deadline = time.monotonic() + timeout
        ticket = self.ticket(number)
        while not predicate(ticket):
            assert time.monotonic() < deadline, f"{number} never reached the expected state: {ticket}"
            time.sleep(0.1)
            ticket = self.ticket(number)
        return ticket
