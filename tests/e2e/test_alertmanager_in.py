"""Real Alertmanager (Debian's 0.25, amtool) and Prometheus against the running platform.

amtool fires alerts, Alertmanager sends them to intake's webhook, they become one ticket per group;
resolving them resolves the ticket, firing again reopens it. And the whole loop: a Prometheus rule
fires, Alertmanager sends it, a ticket opens and the owning tier's on-call is paged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.alerts_support import (
    count_tickets,
    create_integration,
    groups,
    pager_env,
    pager_secrets,
    unauthorized,
    wait_for_group,
)
from tests.e2e.api import Api
from tests.e2e.monitoring import Alertmanager, Prometheus, rfc3339
from tests.e2e.receiver import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(pager_secrets())
    server.port = server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system_env(receiver) -> dict[str, str]:
    return pager_env(receiver.port)


@pytest.fixture(scope="module")
def agent(system) -> Api:
    return Api(system.url("intake"), system.create_key("agent", "Ann Agent", "ann@example.com"))


@pytest.fixture(scope="module")
def alertmanager(system, tmp_path_factory) -> Iterator[tuple[Alertmanager, dict]]:
    integration = create_integration(system, "alertmanager", "checkout-prometheus", "--reopen-minutes", "30")
    assert integration["url"].endswith("/integrations/alertmanager") and integration["key"].startswith("ik_")
    manager = Alertmanager(tmp_path_factory.mktemp("alertmanager"), system.url("intake") + "/integrations/alertmanager",
                           integration["key"]).start()
    yield manager, integration
    manager.stop()


def test_amtool_alerts_open_one_ticket_per_group_and_resolving_resolves_it(system, agent, alertmanager):
    manager, integration = alertmanager
    started = datetime.now(UTC) - timedelta(seconds=5)
    for instance in ("db1", "db2"):
        manager.amtool("alert", "add", "alertname=DiskFull", "severity=warning", f"instance={instance}",
                       "component=storage", "--annotation=summary=Disk almost full", f"--start={rfc3339(started)}")
    group = wait_for_group(system, integration["id"], lambda g: len(g["alerts"]) == 2)
    ticket = agent.wait_for(group["number"], lambda t: t.get("triage") and t["source"]["alerts_total"] == 2, timeout=60)
    assert ticket["title"] == "Disk almost full" and ticket["component"] == "storage"
    assert ticket["reported_severity"] == "medium" and ticket["severity"] == "medium", "warning maps to medium"
    assert ticket["triage"]["rule"] == "source", "the integration's mapping is kept"
    assert ticket["reporter"]["name"] == "checkout-prometheus (alertmanager)"
    labels = [{pair["name"]: pair["value"] for pair in alert["labels"]} for alert in ticket["source"]["alerts"]]
    assert {lab["instance"] for lab in labels} == {"db1", "db2"} and all(lab["alertname"] == "DiskFull" for lab in labels)
    assert ticket["source"]["integration"] == "checkout-prometheus" and ticket["source"]["state"] == "firing"

    ended = datetime.now(UTC)
    manager.amtool("alert", "add", "alertname=DiskFull", "severity=warning", "instance=db1", "component=storage",
                   "--annotation=summary=Disk almost full", f"--start={rfc3339(started)}", f"--end={rfc3339(ended)}")
    agent.wait_for(group["number"], lambda t: t["source"]["alerts_firing"] == 1, timeout=60)
    assert agent.ticket(group["number"])["status"] == "open", "one alert of the group still fires"
    manager.amtool("alert", "add", "alertname=DiskFull", "severity=warning", "instance=db2", "component=storage",
                   "--annotation=summary=Disk almost full", f"--start={rfc3339(started)}", f"--end={rfc3339(ended)}")
    resolved = agent.wait_for(group["number"], lambda t: t["status"] == "resolved", timeout=60)
    assert resolved["resolution"]["proposed_solution"] == "Resolved by source: every alert is resolved"
    assert any(e["action"] == "resolved" and e["actor"]["name"] == "checkout-prometheus (alertmanager)"
               for e in resolved["timeline"])

    manager.amtool("alert", "add", "alertname=DiskFull", "severity=warning", "instance=db1", "component=storage",
                   "--annotation=summary=Disk almost full")
    reopened = agent.wait_for(group["number"], lambda t: t["status"] == "in_progress", timeout=60)
    assert reopened["reopened_count"] == 1 and reopened["source"]["state"] == "firing"
    assert [g["generation"] for g in groups(system, integration["id"])] == [1], "reopened, not a new ticket"


def alertmanager_notification(fingerprint: str, status: str = "firing", **labels: str) -> dict:
    """Return a webhook body exactly as Alertmanager 0.25 builds it (payload version 4)."""
    labels = {"alertname": "QueueBacklog", "severity": "warning", **labels}
    return {
        "receiver": "incidents", "status": status, "version": "4",
        "groupKey": '{}:{alertname="QueueBacklog"}', "truncatedAlerts": 0,
        "groupLabels": {"alertname": "QueueBacklog"}, "commonLabels": labels,
        "commonAnnotations": {"summary": "Queue backlog is growing"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [{"status": status, "labels": labels, "annotations": {"summary": "Queue backlog is growing"},
                    "startsAt": "2026-11-30T09:00:00.123456789Z",
                    "endsAt": "2026-11-30T09:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up", "fingerprint": fingerprint}],
    }


def test_the_same_notification_twice_changes_nothing_and_labels_are_data(system, agent):
    integration = create_integration(system, "alertmanager", "queues-prometheus")
    headers = {"Authorization": f"Bearer {integration['key']}"}
    url = system.url("intake") + "/integrations/alertmanager"
    hostile = alertmanager_notification("0f0e0d0c0b0a0908", team='{"$gt": ""}', query="{{ 7*7 }}",
                                        runbook="${jndi:ldap://x}")
    first = httpx.post(url, json=hostile, headers=headers, timeout=15)
    assert first.status_code == 200, first.text
    number = first.json()["ticket"]
    before = agent.wait_for(number, lambda t: t.get("triage") is not None, timeout=60)
    group = wait_for_group(system, integration["id"])
    again = httpx.post(url, json=hostile, headers=headers, timeout=15)
    assert again.status_code == 200 and again.json() == {"status": "ok", "action": "unchanged", "ticket": number}
    after = agent.ticket(number)
    assert wait_for_group(system, integration["id"]) == group, "the group record is untouched"
    ours = lambda t: [e for e in t["timeline"] if e["actor"]["id"] == f"integration:{integration['id']}"]  # noqa: E731
    assert (after["source"], after["status"], ours(after)) == (before["source"], before["status"], ours(before))
    stored = {p["name"]: p["value"] for p in after["source"]["alerts"][0]["labels"]}
    assert stored["team"] == '{"$gt": ""}' and stored["query"] == "{{ 7*7 }}" and stored["runbook"] == "${jndi:ldap://x}"
    assert "{{ 7*7 }}" in after["description"] and "49" not in after["description"]


@pytest.mark.parametrize(("body", "status", "named"), [
    ({"version": "3"}, 400, "version"),
    (json.dumps({**alertmanager_notification("01"), "alerts": [{"status": "firing"}]}), 400, "alerts.0"),
    ("not json", 400, "JSON"),
    ("[" * 100_000 + "]" * 100_000, 400, "JSON"),
    (json.dumps({"version": "4", "padding": "x" * (1024 * 1024)}), 413, "limited to"),
])
def test_bad_notifications_are_400_naming_the_field(system, body, status, named):
    integration = create_integration(system, "alertmanager", f"bad-{status}-{len(str(body))}")
    content = body if isinstance(body, str) else json.dumps(body)
    answer = httpx.post(system.url("intake") + "/integrations/alertmanager", content=content,
                        headers={"Authorization": f"Bearer {integration['key']}", "Content-Type": "application/json"},
                        timeout=15)
    assert answer.status_code == status and named in answer.json()["detail"], answer.text


def test_a_wrong_key_is_401_and_stores_nothing(system):
    tickets = count_tickets(system)
    answer = httpx.post(system.url("intake") + "/integrations/alertmanager", json=alertmanager_notification("02"),
                        headers={"Authorization": "Bearer ik_not-a-key"}, timeout=15)
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
    assert count_tickets(system) == tickets
    assert unauthorized(system, "alertmanager") >= 1


def pages_for(requests, number: str) -> list:
    """Return the pages that name the ticket: its own, or a digest (the pager's rate limit) listing it."""
    return [r for r in requests if r.path.startswith("/pager/") and (
        (r.body.get("ticket") or {}).get("number") == number or any(i.get("number") == number
                                                                    for i in r.body.get("items") or []))]


def test_a_prometheus_rule_fires_alertmanager_sends_it_a_ticket_opens_and_on_call_is_paged(
        system, agent, receiver, tmp_path_factory):
    integration = create_integration(system, "alertmanager", "platform-prometheus", team="senior-engineering")
    manager = Alertmanager(tmp_path_factory.mktemp("am-loop"), system.url("intake") + "/integrations/alertmanager",
                           integration["key"]).start()
    prometheus = Prometheus(tmp_path_factory.mktemp("prometheus"), manager.port, rules=[{
        "alert": "PlatformCheckoutFailing", "expr": "vector(1) > 0",
        "labels": {"severity": "critical", "component": "checkout"},
        "annotations": {"summary": "Checkout failing on the platform"}}]).start()
    try:
        group = wait_for_group(system, integration["id"], timeout=90)
        ticket = agent.wait_for(group["number"], lambda t: t.get("tier") is not None, timeout=60)
        assert ticket["severity"] == "critical" and ticket["tier"] == 3 and ticket["team"] == "senior-engineering"
        pages = receiver.wait_for(lambda requests: pages_for(requests, group["number"]), timeout=120)
        page = pages_for(pages, group["number"])[0]
        assert page.signature_ok and page.path == "/pager/senior-engineering"
        assert "Checkout failing on the platform" in page.body["text"]
    finally:
        prometheus.stop()
        manager.stop()


def test_alertmanagers_own_pagerduty_notifier_speaks_to_the_events_api(system, agent, tmp_path_factory):
    """A real Events API v2 client: Alertmanager's pagerduty_configs with its `url` pointed at intake."""
    integration = create_integration(system, "events-v2", "am-pagerduty")
    manager = Alertmanager(tmp_path_factory.mktemp("am-pd"), system.url("intake") + "/v2/enqueue", integration["key"],
                           pagerduty=True).start()
    try:
        started = datetime.now(UTC) - timedelta(seconds=5)
        manager.amtool("alert", "add", "alertname=ReplicationLag", "severity=warning", "instance=db3",
                       "--annotation=summary=Replication lag on db3", f"--start={rfc3339(started)}")
        group = wait_for_group(system, integration["id"])
        ticket = agent.wait_for(group["number"], lambda t: t.get("triage") is not None, timeout=60)
        assert ticket["source"]["kind"] == "events-v2" and ticket["severity"] == "medium"
        assert "ReplicationLag" in ticket["title"]
        manager.amtool("alert", "add", "alertname=ReplicationLag", "severity=warning", "instance=db3",
                       "--annotation=summary=Replication lag on db3", f"--start={rfc3339(started)}",
                       f"--end={rfc3339(datetime.now(UTC))}")
        resolved = agent.wait_for(group["number"], lambda t: t["status"] == "resolved", timeout=60)
        assert resolved["source"]["state"] == "resolved"
    finally:
        manager.stop()
