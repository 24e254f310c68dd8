"""The deployment files parse with the real tools: docker-compose and promtool."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def tool(name: str) -> str:
    """Return the tool's path; missing under CI is a failure, elsewhere a skip with the reason."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make test installs it from Debian)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def test_docker_compose_file_is_valid():
    result = subprocess.run([tool("docker-compose"), "config"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for service in ("rabbitmq", "mongo", "intake", "triage", "escalation", "notifier", "prometheus", "grafana"):
        assert f"\n  {service}:" in result.stdout
    assert "condition: service_healthy" in result.stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.docker.yml"])
def test_prometheus_configs_are_valid(config):
    result = subprocess.run(
        [tool("promtool"), "check", "config", "--syntax-only", str(ROOT / "deploy" / "prometheus" / config)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
