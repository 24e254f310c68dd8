"""The system under test, shared by the e2e tests and the benchmarks: the four services as real processes.

Also the one polling helper (`wait_until`) both use. The benchmarks never import tests; the e2e
tests import this module.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import httpx

SERVICES = ("intake", "triage", "escalation", "notifier")
T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str | Callable[[], str], timeout: float = 30.0,
               interval: float = 0.1) -> T:
    """Return check()'s first true result, polling every interval; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"never within {timeout:g}s: {what() if callable(what) else what}")
        time.sleep(interval)
    return result


def free_port() -> int:
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_of(name: str) -> str:
    """Return the service a process name runs: `intake` and its replicas `intake-2`, `intake-3`, ..."""
    return name.split("-", 1)[0]


@dataclass
class System:
    """The four services on free ports, sharing one vhost and database; logs under log_dir.

    With replicas > 1 each service runs that many processes (`intake`, `intake-2`, ...) sharing its
    ports through SO_REUSEPORT, as `make up REPLICAS=n` runs them.
    """

    amqp_url: str
    mongodb_url: str
    mongodb_db: str
    smtp_port: int
    log_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in SERVICES})
    mail_intake_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    """The code to run (a checkout with its own .venv); None: this one, with this interpreter."""
    ready_timeout: float = 60
    """Seconds a service may take to answer /readyz (its start-up scans grow with the data)."""
    replicas: int = 1

    @property
    def python(self) -> str:
        """Return the interpreter of the code root: its .venv's python, or this one."""
        venv = self.root / ".venv" / "bin" / "python" if self.root is not None else None
        return str(venv) if venv is not None and venv.exists() else sys.executable

    def names(self, service: str) -> list[str]:
        """Return the process names of a service's replicas."""
        return [service, *(f"{service}-{n}" for n in range(2, self.replicas + 1))]

    def env(self, service: str) -> dict[str, str]:
        """Return the environment a service process runs with."""
        service = service_of(service)
        return {
            "REUSE_PORT": "1" if self.replicas > 1 else "0",
            "REPLICAS": str(self.replicas),
            **os.environ,
            "AMQP_URL": self.amqp_url,
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DB": self.mongodb_db,
            "HTTP_PORT": str(self.ports[service]),
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_INTAKE_PORT": str(self.mail_intake_port),
            "OUTBOX_POLL_SECONDS": "0.5",
            "ENVIRONMENT": "test",
            "RATE_LIMIT_PER_MINUTE": "100000",
            "RATE_LIMIT_BURST": "10000",
            "AUTH_FAILURES_PER_MINUTE": "100000",
            "INTAKE_URL": self.url("intake"),
            "TRIAGE_URL": self.url("triage"),
            "ESCALATION_URL": self.url("escalation"),
            "NOTIFIER_URL": self.url("notifier"),
            "PORTAL_URL": self.url("intake"),
            **self.extra_env,
        }

    def url(self, service: str) -> str:
        """Return the base URL of a service (any of its replicas)."""
        return f"http://127.0.0.1:{self.ports[service_of(service)]}"

    def start(self, name: str) -> None:
        """Start one service process (a service's name, or a replica's such as `intake-2`) and wait until it is ready."""
        path = self.log_dir / f"{name}.log"
        started_at = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")  # noqa: SIM115 - owned by the process
        self.processes[name] = subprocess.Popen(
            [self.python, "-m", "services.cli", "run", service_of(name)],
            env=self.env(name),
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready(name, self.ready_timeout, since=started_at)

    def start_all(self) -> None:
        """Start every service (each of its replicas)."""
        for service in SERVICES:
            for name in self.names(service):
                self.start(name)

    def wait_ready(self, name: str, timeout: float = 60, since: int = 0) -> None:
        """Block until the process has started (its log says so after offset `since`) and /readyz answers 200."""
        path = self.log_dir / f"{name}.log"

        def ready() -> bool:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
            if self.replicas > 1:  # the port answers from any replica: ask this one's log
                with open(path, "rb") as log:
                    log.seek(since)
                    if b"service started" not in log.read():
                        return False
            try:
                return httpx.get(self.url(name) + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, lambda: f"{name} ready:\n{self.log_tail(name)}", timeout, interval=0.2)

    def kill(self, service: str) -> None:
        """SIGKILL a service: no shutdown code runs, as in a crash."""
        process = self.processes.pop(service)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """Terminate every service still running."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def log_tail(self, service: str, lines: int = 30) -> str:
        """Return the end of a service's log."""
        path = self.log_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run the real `incidents` CLI against this system's database and return what it printed."""
        result = subprocess.run([self.python, "-m", "services.cli", *args], env=self.env("intake"), cwd=self.root,
                                capture_output=True, text=True, check=True, timeout=timeout)
        return result.stdout.strip()

    def create_key(self, role: str, name: str, email: str | None = None) -> str:
        """Mint an API key through the real CLI and return it."""
        return self.cli("keys", "create", "--role", role, "--name", name, *(["--email", email] if email else []))


class Mailbox:
    """The messages an SMTP sink stored in a directory, read back as parsed e-mails."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[Message]:
        """Return every stored message, oldest file name first."""
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(self.directory.glob("*.eml"))]

    def wait_for(self, predicate: Callable[[Message], Any], timeout: float = 30) -> Message:
        """Return the first message matching predicate, polling until timeout."""
        return wait_until(lambda: next((m for m in self.messages() if predicate(m)), None),
                          lambda: f"a matching e-mail; have {[m['Subject'] for m in self.messages()]}", timeout)
