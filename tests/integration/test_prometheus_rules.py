"""The rules, their promtool unit tests, the Grafana dashboard and their wiring into both deployments."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.escalation.adapters.metrics import EscalationMetrics
from services.escalation.adapters.oncall_metrics import CoverageGauge
from services.notifier.adapters.metrics import NotifierMetrics
from shared.metrics import pipeline_metrics
from shared.sla_metrics import SlaMetrics
from tests.integration.test_deploy_files import ROOT, compose_config, tool

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.rules.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))


def exported_names() -> set[str]:
    """Return every sample name our metric sets export (counters with _total, histograms with _bucket...)."""
    registry = CollectorRegistry()
    pipeline_metrics(registry)
    SlaMetrics.register(registry)
    NotifierMetrics.register(registry)
    EscalationMetrics.register(registry)  # registers timer_lateness_histogram too
    CoverageGauge(registry)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def alerts_and_records() -> tuple[set[str], set[str], list[str]]:
    alerts, records, exprs = set(), set(), []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                (alerts.add(rule["alert"]) if "alert" in rule else records.add(rule["record"]))
                exprs.append(rule["expr"])
    return alerts, records, exprs


def test_rule_files_pass_promtool_check():
    assert RULES, "no rule files under deploy/prometheus/rules"
    result = subprocess.run([tool("promtool"), "check", "rules", *map(str, RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_rule_unit_tests_pass(test_file):
    result = subprocess.run([tool("promtool"), "test", "rules", test_file.name], cwd=test_file.parent,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_promtool_unit_test_that_expects_it_firing():
    alerts, _, _ = alerts_and_records()
    tested = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested.update(t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts"))
    assert alerts - tested == set(), "alerts without a firing unit test"


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.docker.yml"])
def test_both_prometheus_configs_load_the_rules(config):
    result = subprocess.run([tool("promtool"), "check", "config", str(PROMETHEUS / config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert "rules found" in result.stdout


def test_compose_mounts_the_rules_and_provisions_the_dashboards():
    rendered = yaml.safe_load(compose_config().stdout)
    def targets(service):
        return {v["target"] if isinstance(v, dict) else v.split(":")[1] for v in rendered["services"][service]["volumes"]}
    assert "/etc/prometheus/rules" in targets("prometheus")
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= targets("grafana")
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/incidents.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_rules_and_dashboards_only_use_metrics_that_exist():
    _, records, exprs = alerts_and_records()
    assert DASHBOARDS
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for expr in exprs for m in re.findall(r"\b(incidents_[a-z_]+)\b", expr)}
    unknown = used - exported_names() - {r.split(":")[1] for r in records}
    assert unknown == set()
    used_records = {m for expr in exprs for m in re.findall(r"\b(severity:[a-z_]+:[a-z0-9_$]+)", expr)}
    windows = ("1h", "24h", "7d", "30d")
    expanded = {r.replace("$window", w) for r in used_records for w in windows}
    assert expanded - records == set()


def test_dashboard_covers_what_issue_7_asks_for():
    text = DASHBOARDS[0].read_text()
    for needle in ("incidents_sla_response_compliance", "incidents_sla_resolution_compliance",
                   "incidents_time_to_first_response_seconds", "incidents_time_to_resolution_seconds",
                   "incidents_open_tickets", "incidents_tickets_at_risk", "incidents_escalations_total",
                   "incidents_notifications_total", "incidents_messages_dead_lettered_total", "incidents_outbox_backlog"):
        assert needle in text
