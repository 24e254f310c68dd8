"""The benchmarks' wrk script: distinct titles, the bearer key, and exactly the ids of the tickets it created.

The pipeline benchmark waits for the tickets wrk created by their ids, so an id missed or invented
would make its figure wrong. A real wrk process posts to a small HTTP server that answers like
intake: 201 with the ticket (id first), and now and then a refusal whose body also holds an id.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.harness import IN_CI
from bench.wrk import wrk

pytestmark = pytest.mark.integration


class Intake(BaseHTTPRequestHandler):
    """Answers POST /v1/tickets: every third request refused (422), the others created (201)."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    created: list[str] = []
    titles: list[str] = []
    keys: set[str] = set()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            n = len(self.titles)
            self.titles.append(body["title"])
            self.keys.add(self.headers.get("Authorization", ""))
            refused = n % 3 == 2
            if not refused:
                self.created.append(f"T{n:05d}")
        if refused:
            self._answer(422, {"id": f"R{n:05d}", "detail": "refused"})
        else:
            self._answer(201, {"id": f"T{n:05d}", "number": f"INC-{n}", "reporter": {"id": "someone-else"}})

    def _answer(self, status: int, document: dict) -> None:
        payload = json.dumps(document, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def intake_url():
    if shutil.which("wrk") is None:
        message = "wrk is not installed (apt-get install -y wrk; scripts/stack.sh infra installs it)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Intake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_wrk_reports_exactly_the_created_ids_with_distinct_titles_and_the_key(intake_url):
    ids: list[str] = []
    result = wrk(intake_url, "ik_secret", 1, 4, 2, ids)

    assert result["requests"] > 10
    assert len(ids) == len(set(ids)) == result["accepted"]
    assert set(ids) <= set(Intake.created)  # a refusal's id is never taken
    # wrk stops with up to one request per connection unanswered: the server created those, wrk never saw them
    assert 0 <= len(Intake.created) - len(ids) <= 4
    assert result["requests"] - result["accepted"] == result["status_errors"] > 0
    assert len(set(Intake.titles)) == len(Intake.titles)
    assert Intake.keys == {"Bearer ik_secret"}

    # a second run numbers its titles afresh: none repeats the first run's (triage would group repeats)
    first = set(Intake.titles)
    wrk(intake_url, "ik_secret", 1, 4, 2)
    assert first.isdisjoint(Intake.titles[len(first):])
