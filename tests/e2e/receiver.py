"""A tiny threaded HTTP receiver for webhook tests: verifies each endpoint's signature with that endpoint's
own secret, dedupes by Idempotency-Key, and misbehaves on purpose (500s, 429 with Retry-After, slow
answers, 404, holding a request open)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.system import wait_until
from services.notifier.domain.signing import KEY_ID_HEADER, verify


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    key: str | None
    body: dict[str, Any]
    signature_ok: bool | None
    key_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""


@dataclass
class Receiver:
    """Serves on 127.0.0.1:<port>; `accepted` holds each idempotency key's first successful request only.

    `secrets` maps a path prefix (one per endpoint) to the secret that endpoint's requests must be
    signed with; the longest matching prefix wins, and a path with none fails verification.
    """

    secrets: dict[str, str]
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, Received] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    slow_seconds: float = 2.5
    _seen: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        """Start serving in a thread; return the port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, headers = receiver.handle(self.path, dict(self.headers.items()), raw)
                answer = b'{"ok":true}' if self.path.startswith("/slack-api/") else b"ok"  # Slack's Web API answers
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender went away (timeout or killed)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.server_address[1]

    def stop(self) -> None:
        """Stop serving."""
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str]]:
        """Return (status, headers) for one request after recording it."""
        lower = {k.lower(): v for k, v in headers.items()}
        key = lower.get("idempotency-key")
        signature_ok = None
        if not path.startswith("/slack"):
            secret = self.secret_for(path)
            signature_ok = secret is not None and verify(secret, lower.get("x-incidents-timestamp"),
                                                         lower.get("x-incidents-signature"), raw, now=time.time())
        received = Received(path, key, json.loads(raw or b"{}"), signature_ok, lower.get(KEY_ID_HEADER.lower()),
                            lower, raw)
        with self._lock:
            self.requests.append(received)
            self._seen[(path, key or "")] += 1
            seen = self._seen[(path, key or "")]
        if signature_ok is False:
            return 401, {}
        if path.startswith("/flaky") and seen <= 2:
            return 500, {}
        if path.startswith("/throttle") and seen == 1:
            return 429, {"Retry-After": "1"}
        if path.startswith("/slow") and seen == 1:
            time.sleep(self.slow_seconds)
        if path.startswith("/gone"):
            return 404, {}
        if path.startswith("/down"):
            return 503, {}
        with self._lock:
            first = key not in self.accepted
            if first and key is not None:
                self.accepted[key] = received
        if path.startswith("/hold") and first:
            self.release.wait(30)
        return 200, {}

    def secret_for(self, path: str) -> str | None:
        """Return the secret of the endpoint a path belongs to (longest matching prefix), or None."""
        matching = [prefix for prefix in self.secrets if path.startswith(prefix)]
        return self.secrets[max(matching, key=len)] if matching else None

    def wait_for(self, predicate, timeout: float = 30) -> list[Received]:
        """Return the requests once predicate(requests) is true, polling until timeout."""

        def seen() -> list[Received] | None:
            with self._lock:
                snapshot = list(self.requests)
            return snapshot if predicate(snapshot) else None

        return wait_until(seen, lambda: f"the expected requests; got {[(r.path, r.key) for r in self.requests]}",
                          timeout)
