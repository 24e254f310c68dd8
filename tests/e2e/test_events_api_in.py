"""The PagerDuty-compatible Events API v2 on the running platform, with requests built as PagerDuty's
documentation shows them ("Send an Alert Event"), including the error cases."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.system import wait_until
from tests.e2e.alerts_support import count_tickets, create_integration, groups, unauthorized
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def agent(system) -> Api:
    return Api(system.url("intake"), system.create_key("agent", "Ann Agent", "ann@example.com"))


@pytest.fixture(scope="module")
def grafana(system) -> dict[str, str]:
    integration = create_integration(system, "events-v2", "grafana", "--component", "web")
    assert integration["url"].endswith("/v2/enqueue") and len(integration["key"]) == 32
    return integration


def enqueue(system, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(system.url("intake") + "/v2/enqueue", content=content,
                      headers={"Content-Type": "application/json", **kwargs.pop("headers", {})}, timeout=15, **kwargs)


def docs_trigger(routing_key: str, dedup_key: str | None = "samplekeyhere") -> dict:
    """PagerDuty's documented example trigger, with our routing key."""
    body = {
        "payload": {
            "summary": "Example alert on host1.example.com",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
            "severity": "info",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "deploy",
            "custom_details": {"ping time": "1500ms", "load avg": 0.75},
        },
        "routing_key": routing_key,
        "dedup_key": dedup_key,
        "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                    "href": "https://example.com/", "alt": "Example text"}],
        "links": [{"href": "https://example.com/", "text": "Link text"}],
        "event_action": "trigger",
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
    }
    if dedup_key is None:
        del body["dedup_key"]
    return body


def test_trigger_acknowledge_resolve_and_a_new_trigger_opens_a_new_ticket(system, agent, grafana):
    key = grafana["key"]
    answer = enqueue(system, docs_trigger(key))
    assert answer.status_code == 202
    assert {k: answer.json()[k] for k in ("status", "message", "dedup_key")} == {
        "status": "success", "message": "Event processed", "dedup_key": "samplekeyhere"}
    number = answer.json()["ticket"]
    ticket = agent.wait_for(number, lambda t: t.get("triage") is not None, timeout=60)
    assert ticket["title"] == "Example alert on host1.example.com" and ticket["component"] == "postgres"
    assert ticket["severity"] == "low" and ticket["triage"]["rule"] == "source", "info maps to low, and is kept"
    assert ticket["source"]["key"] == "samplekeyhere" and ticket["source"]["links"][0]["href"] == "https://example.com/"
    assert json.loads(ticket["source"]["custom_details"]) == {"ping time": "1500ms", "load avg": 0.75}

    again = enqueue(system, docs_trigger(key))
    assert again.status_code == 202 and again.json()["ticket"] == number, "an open dedup key adds to its ticket"
    acknowledged = enqueue(system, {"routing_key": key, "dedup_key": "samplekeyhere", "event_action": "acknowledge"})
    assert acknowledged.status_code == 202 and acknowledged.json()["status"] == "success"
    ticket = agent.wait_for(number, lambda t: t["status"] == "in_progress")
    assert ticket["source"]["state"] == "acknowledged" and ticket["first_response_at"] is None
    resolved = enqueue(system, {"routing_key": key, "dedup_key": "samplekeyhere", "event_action": "resolve"})
    assert resolved.status_code == 202
    agent.wait_for(number, lambda t: t["status"] == "resolved")

    renewed = enqueue(system, docs_trigger(key))
    assert renewed.status_code == 202 and renewed.json()["ticket"] != number, "after resolve, a new ticket"
    dropped = enqueue(system, {"routing_key": key, "dedup_key": "never-seen", "event_action": "resolve"})
    assert dropped.status_code == 202 and "dropped" in dropped.json()


def test_a_trigger_without_a_dedup_key_gets_one_and_always_opens_a_new_ticket(system, grafana):
    first = enqueue(system, docs_trigger(grafana["key"], dedup_key=None))
    second = enqueue(system, docs_trigger(grafana["key"], dedup_key=None))
    assert first.status_code == second.status_code == 202
    assert first.json()["dedup_key"] != second.json()["dedup_key"] and first.json()["ticket"] != second.json()["ticket"]


def test_one_integration_cannot_acknowledge_or_resolve_anothers_alerts(system, agent, grafana):
    zabbix = create_integration(system, "events-v2", "zabbix")
    opened = enqueue(system, docs_trigger(grafana["key"], dedup_key="db-disk"))
    number = opened.json()["ticket"]
    for action in ("acknowledge", "resolve"):
        answer = enqueue(system, {"routing_key": zabbix["key"], "dedup_key": "db-disk", "event_action": action})
        assert answer.status_code == 202 and "dropped" in answer.json(), "dropped, as PagerDuty drops them"
    ticket = agent.wait_for(number, lambda t: t.get("triage") is not None)
    assert ticket["status"] == "open" and ticket["source"]["state"] == "triggered"
    assert not groups(system, zabbix["id"]), "nothing stored for the other integration"


@pytest.mark.parametrize(("body", "named"), [
    ({"event_action": "trigger", "payload": {"summary": "x", "source": "y", "severity": "critical"}},
     "'routing_key' is missing or blank"),
    ("{not json", "not UTF-8 JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8 JSON"),
    ("[" * 50_000 + "]" * 50_000, "not UTF-8 JSON"),
])
def test_undecodable_or_keyless_events_are_400(system, body, named):
    answer = enqueue(system, body)
    assert answer.status_code == 400 and answer.json()["status"] == "invalid event"
    assert answer.json()["message"] == "Event object is invalid" and any(named in e for e in answer.json()["errors"])


@pytest.mark.parametrize(("change", "named"), [
    ({"event_action": "snooze"}, "'event_action' must be one of trigger, acknowledge, resolve"),
    ({"payload": {"source": "host1", "severity": "critical"}}, "'payload.summary' is missing or blank"),
    ({"payload": {"summary": "s", "source": "host1", "severity": "fatal"}}, "'payload.severity' must be one of"),
    ({"event_action": "resolve", "dedup_key": None}, "'dedup_key' is required to resolve"),
])
def test_invalid_events_are_400_naming_the_field_and_store_nothing(system, grafana, change, named):
    tickets = count_tickets(system)
    body = {k: v for k, v in {**docs_trigger(grafana["key"], "invalid-one"), **change}.items() if v is not None}
    answer = enqueue(system, body)
    assert answer.status_code == 400 and any(named in error for error in answer.json()["errors"]), answer.text
    assert count_tickets(system) == tickets


def test_a_wrong_routing_key_is_401_counted_and_stores_nothing(system):
    tickets = count_tickets(system)
    answer = enqueue(system, docs_trigger("0" * 32))
    assert answer.status_code == 401 and answer.json()["message"] == "Invalid routing key"
    assert count_tickets(system) == tickets
    assert unauthorized(system, "events-v2") >= 1


def test_over_512_kb_is_413(system, grafana):
    body = docs_trigger(grafana["key"])
    body["payload"]["custom_details"] = {"blob": "x" * (512 * 1024)}
    answer = enqueue(system, body)
    assert answer.status_code == 413


def test_over_the_integrations_rate_it_is_429_with_retry_after(system):
    slow = create_integration(system, "events-v2", "slow-tool", "--rate-per-minute", "1", "--burst", "2")
    answers = [enqueue(system, docs_trigger(slow["key"], dedup_key=f"k{n}")) for n in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 429, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1 and answers[2].json()["status"] == "throttle event"


def test_a_revoked_integration_is_refused(system):
    tool = create_integration(system, "events-v2", "retired-tool")
    assert enqueue(system, docs_trigger(tool["key"])).status_code == 202
    system.cli("integrations", "revoke", tool["id"])
    listing = system.cli("integrations", "list")
    assert any(tool["id"] in line and "revoked" in line for line in listing.splitlines())
    # intake caches an integration for 5 s: the revocation takes effect within that
    wait_until(lambda: enqueue(system, docs_trigger(tool["key"])).status_code == 401, "the revoked key refused", 15,
               interval=0.5)
