"""Real monitoring for the e2e tests: Debian's Prometheus and Alertmanager (0.25, with amtool) as processes.

Clustering is off, each gets its own storage directory and port, and Alertmanager's only receiver is
a webhook to the running intake with the integration key as its bearer credentials. Under CI=true a
missing binary fails the test; elsewhere it is skipped with the package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from bench.system import free_port, wait_until


def binary(*names: str, package: str) -> str:
    """Return the path of the first of names on PATH; fail under CI=true, else skip, if none is installed."""
    for name in names:
        if found := shutil.which(name):
            return found
    message = f"{names[0]} is not installed (apt-get install -y {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def rfc3339(moment: datetime) -> str:
    """Return a moment as amtool's flags want it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LoggedProcess:
    """A server process of a test, its output in <directory>/<LOG>; mixed into the dataclasses below."""

    LOG = ""
    directory: Path
    process: subprocess.Popen | None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the process's log ("" before it exists)."""
        path = self.directory / self.LOG
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """Terminate the process (kill it if it does not end within 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Alertmanager(LoggedProcess):
    """An Alertmanager whose one receiver posts to intake's Alertmanager integration."""

    LOG = "alertmanager.log"

    directory: Path
    webhook_url: str
    key: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    pagerduty: bool = False
    """Send with Alertmanager's own PagerDuty (Events API v2) notifier to webhook_url instead of its webhook."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        """Write the configuration, start the process and wait until it is ready."""
        executable = binary("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")
        receiver = ({"pagerduty_configs": [{"routing_key": self.key, "url": self.webhook_url, "send_resolved": True,
                                            "severity": "{{ .CommonLabels.severity }}"}]} if self.pagerduty else
                    {"webhook_configs": [{"url": self.webhook_url, "send_resolved": True,
                                          "http_config": {"authorization": {"type": "Bearer",
                                                                            "credentials": self.key}}}]})
        config = {
            "route": {"receiver": "incidents", "group_by": ["alertname"], "group_wait": "1s",
                      "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "incidents", **receiver}],
        }
        (self.directory / "alertmanager.yml").write_text(yaml.safe_dump(config))
        (self.directory / "data").mkdir(exist_ok=True)
        log = open(self.directory / "alertmanager.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [executable, f"--config.file={self.directory / 'alertmanager.yml'}",
             f"--storage.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address=", "--log.level=debug"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, lambda: f"Alertmanager ready:\n{self.log_tail()}", timeout=30, interval=0.2)
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"Alertmanager exited:\n{self.log_tail()}")
        try:
            return httpx.get(self.url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def amtool(self, *args: str) -> str:
        """Run amtool against this Alertmanager; return what it printed."""
        executable = binary("amtool", package="prometheus-alertmanager")
        result = subprocess.run([executable, f"--alertmanager.url={self.url}", *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@dataclass
class Prometheus(LoggedProcess):
    """A Prometheus that evaluates alert rules every second and sends what fires to one Alertmanager."""

    LOG = "prometheus.log"

    directory: Path
    alertmanager_port: int
    rules: list[dict]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> Prometheus:
        executable = binary("prometheus", package="prometheus")
        (self.directory / "rules.yml").write_text(yaml.safe_dump({"groups": [
            {"name": "e2e", "interval": "1s", "rules": self.rules}]}))
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "15s", "evaluation_interval": "1s"},
            "rule_files": [str(self.directory / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.alertmanager_port}"]}]}]},
        }))
        (self.directory / "data").mkdir(exist_ok=True)
        log = open(self.directory / "prometheus.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [executable, f"--config.file={self.directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, lambda: f"Prometheus ready:\n{self.log_tail()}", timeout=60, interval=0.2)
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"Prometheus exited:\n{self.log_tail()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
