"""The deployment files parse with the real tools: docker-compose and promtool."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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


COMPOSE_SECRETS = {"RABBITMQ_ADMIN_PASSWORD": "admin-password-of-this-test", "RABBITMQ_PASSWORD": "services-password"}
"""What an operator's .env gives docker compose (see .env.example); compose refuses to start without it."""


def compose_config(secrets: dict[str, str] = COMPOSE_SECRETS) -> subprocess.CompletedProcess:
    """Return `docker-compose config` with the documented .env.example (whose passwords are empty) plus secrets."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("RABBITMQ_", "VENDOR_"))}
    return subprocess.run([tool("docker-compose"), "--env-file", str(ROOT / ".env.example"), "config"], cwd=ROOT,
                          capture_output=True, text=True, env={**env, **secrets})


def test_docker_compose_file_is_valid():
    result = compose_config()
    assert result.returncode == 0, result.stderr
    for service in ("rabbitmq", "broker-setup", "mongo", "intake", "triage", "escalation", "notifier", "prometheus",
                    "grafana"):
        assert f"\n  {service}:" in result.stdout
    assert "condition: service_healthy" in result.stdout


def test_docker_compose_needs_broker_passwords_and_gives_the_services_their_own_user():
    for missing in COMPOSE_SECRETS:
        result = compose_config({name: value for name, value in COMPOSE_SECRETS.items() if name != missing})
        assert result.returncode != 0 and f"set {missing} in .env" in result.stderr, result.stderr
    rendered = yaml.safe_load(compose_config().stdout)["services"]
    assert rendered["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"] == "admin"
    for service in ("intake", "triage", "escalation", "notifier"):
        assert rendered[service]["environment"]["AMQP_URL"] == "amqp://incidents:services-password@rabbitmq:5672/"
        assert "RABBITMQ_ADMIN_PASSWORD" not in rendered[service]["environment"]
        assert rendered[service]["depends_on"]["broker-setup"] == {"condition": "service_completed_successfully"}
    assert rendered["broker-setup"]["command"][:3] == ["incidents", "broker", "provision"]
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.docker.yml"])
def test_prometheus_configs_are_valid(config):
    result = subprocess.run(
        [tool("promtool"), "check", "config", "--syntax-only", str(ROOT / "deploy" / "prometheus" / config)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
