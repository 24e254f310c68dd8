"""Alerts in (pure domain and service layer with fakes and a fake clock): Alertmanager groups, Events API
dedup keys, what the source does to its ticket, and that nothing happens twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain.alert_groups import (
    Alert,
    Notification,
    group_id,
    merge_alerts,
    plan_alertmanager,
    plan_event,
    sync_ticket,
)
from services.intake.domain.alert_reports import alertmanager_fields, event_fields
from services.intake.domain.events_v2 import parse_event
from services.intake.domain.integrations import Integration, Kind
from services.intake.service_layer.alerts import AlertsIn, receive_event, receive_notification
from shared.clock import FakeClock
from shared.contracts import Severity
from shared.locks import KeyedLocks
from tests.fakes import FakeSourceRecords, FakeTickets

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
AM = Integration(id="01JAAAAAAAAAAAAAAAAAAAAAAA", kind=Kind.ALERTMANAGER, name="checkout-prometheus",
                 team="technical-support")
PD = Integration(id="01JBBBBBBBBBBBBBBBBBBBBBBB", kind=Kind.EVENTS_V2, name="grafana", team="technical-support")


def alert(fingerprint="a1", status="firing", starts=T0, **labels) -> Alert:
    labels = {"alertname": "CheckoutDown", "severity": "critical", **labels}
    return Alert(fingerprint=fingerprint, status=status, labels=tuple(sorted(labels.items())),
                 annotations=(("summary", "Checkout is down"),), starts_at=starts,
                 ends_at=T0 + timedelta(minutes=5) if status == "resolved" else None)


def notification(*alerts: Alert, key='{}:{alertname="CheckoutDown"}') -> Notification:
    return Notification(group_key=key, receiver="incidents", group_labels=(("alertname", "CheckoutDown"),),
                        common_labels=(("alertname", "CheckoutDown"), ("severity", "critical")), alerts=alerts)


def deps(clock: FakeClock | None = None) -> AlertsIn:
    return AlertsIn(FakeSourceRecords(), FakeTickets(), clock or FakeClock(T0), "INC", KeyedLocks())


# --- merging alerts by fingerprint -------------------------------------------------------------------

def test_alerts_are_tracked_by_fingerprint_and_a_stale_resend_changes_nothing():
    alerts, changed = merge_alerts([], (alert("a1"), alert("a2")))
    assert changed and [a["fingerprint"] for a in alerts] == ["a1", "a2"]
    alerts, changed = merge_alerts(alerts, (alert("a1", "resolved"),))
    assert changed and alerts[0]["status"] == "resolved" and alerts[1]["status"] == "firing"
    assert merge_alerts(alerts, (alert("a1", "resolved"), alert("a2"))) == (alerts, False), "the same again"
    stale, changed = merge_alerts(alerts, (alert("a1", "firing", starts=T0),))
    assert not changed, "a firing resend with the old start time does not undo the resolution"
    again, changed = merge_alerts(alerts, (alert("a1", "firing", starts=T0 + timedelta(hours=1)),))
    assert changed and again[0]["status"] == "firing"


def test_alert_times_compare_at_the_precision_the_database_keeps():
    stored, _ = merge_alerts([], (alert("a1", starts=T0.replace(microsecond=123456)),))
    assert stored[0]["starts_at"].microsecond == 123000
    assert not merge_alerts(stored, (alert("a1", starts=T0.replace(microsecond=123456)),))[1]


# --- plans ------------------------------------------------------------------------------------------

def test_a_group_that_only_resolves_opens_nothing():
    plan = plan_alertmanager(None, None, notification(alert(status="resolved")), timedelta(hours=1), T0)
    assert plan.action == "ignore"


def group_after(plan, **extra):
    return {"_id": "g", "kind": "alertmanager", "state": plan.fields["state"], "alerts": plan.fields["alerts"],
            "ticket_id": "t1", "number": "INC-000001", "generation": 1, "rev": 0, **extra}


def test_a_resolved_ticket_reopens_within_the_window_and_a_new_one_opens_after_it():
    first = plan_alertmanager(None, None, notification(alert()), timedelta(hours=1), T0)
    assert first.action == "open"
    resolved = group_after(plan_alertmanager(group_after(first), None, notification(alert(status="resolved")),
                                             timedelta(hours=1), T0))
    ticket = {"status": "resolved", "resolved_at": T0}
    refire = notification(alert(starts=T0 + timedelta(minutes=30)))
    assert plan_alertmanager(resolved, ticket, refire, timedelta(hours=1), T0 + timedelta(minutes=30)).action == "reopen"
    later = notification(alert(starts=T0 + timedelta(hours=2)))
    assert plan_alertmanager(resolved, ticket, later, timedelta(hours=1), T0 + timedelta(hours=2)).action == "renew"
    closed = {"status": "closed", "closed_at": T0}
    assert plan_alertmanager(resolved, closed, refire, timedelta(hours=1), T0 + timedelta(minutes=1)).action == "renew"


def test_events_api_dedup_semantics():
    assert plan_event(None, None, "trigger", T0).action == "open"
    assert plan_event(None, None, "acknowledge", T0).action == "ignore"
    assert plan_event(None, None, "resolve", T0).action == "ignore"
    open_key = {"state": "triggered", "events": 3}
    assert plan_event(open_key, {"status": "open"}, "trigger", T0).fields == {"events": 4}
    assert plan_event(open_key, {"status": "open"}, "acknowledge", T0).fields == {"state": "acknowledged"}
    assert plan_event({"state": "acknowledged"}, {"status": "in_progress"}, "acknowledge", T0).action == "unchanged"
    assert plan_event(open_key, {"status": "open"}, "resolve", T0).fields["state"] == "resolved"
    assert plan_event({"state": "resolved"}, {"status": "resolved"}, "trigger", T0).action == "renew"
    assert plan_event({"state": "resolved"}, {"status": "resolved"}, "resolve", T0).action == "ignore"
    assert plan_event(open_key, {"status": "closed"}, "trigger", T0).action == "renew", "support closed it"


# --- the ticket follows its source ------------------------------------------------------------------

def ticket(status="open", state="firing", **extra):
    return {"_id": "t1", "number": "INC-000001", "title": "Checkout is down", "status": status, "severity": "critical",
            "tier": 3, "team": "senior-engineering", "reporter": AM.reporter, "source": {"state": state}, **extra}


def test_resolved_by_source_moves_an_open_ticket_through_in_progress_to_resolved_once():
    group = {"state": "resolved", "kind": "events-v2", "events": 1}
    update = sync_ticket(ticket(), group, AM.actor, T0, resolve=True)
    assert update.fields["status"] == "resolved" and update.fields["source.state"] == "resolved"
    assert [e.EVENT_TYPE for e in update.events] == ["ticket.status_changed", "ticket.status_changed", "ticket.resolved"]
    assert update.condition == {"status": "open", "source.state": "firing"}
    assert sync_ticket(ticket("resolved", "resolved"), group, AM.actor, T0, resolve=True) is None, "applied twice"


def test_a_ticket_waiting_for_the_reporter_or_an_integration_that_leaves_it_to_support_only_notes_it():
    group = {"state": "resolved", "kind": "events-v2"}
    waiting = sync_ticket(ticket("waiting_for_info"), group, AM.actor, T0, resolve=True)
    assert "status" not in waiting.fields and waiting.entries[0]["action"] == "source_resolved"
    kept = sync_ticket(ticket("in_progress"), group, AM.actor, T0, resolve=False)
    assert "status" not in kept.fields and "leaves resolving to support" in kept.entries[0]["detail"]


def test_a_reopen_moves_the_resolved_ticket_back_as_its_reporter_may():
    group = {"state": "firing", "kind": "events-v2", "reopened_at": T0 + timedelta(minutes=5)}
    update = sync_ticket(ticket("resolved", "resolved", resolved_at=T0), group, AM.actor, T0, resolve=True)
    assert update.fields["status"] == "in_progress" and update.fields["reopened_count"] == 1
    done = sync_ticket(ticket("in_progress", "firing", resolved_at=T0), group, AM.actor, T0, resolve=True)
    assert done is None


def test_an_acknowledgement_at_the_source_is_not_supports_first_response():
    update = sync_ticket(ticket(state="triggered"), {"state": "acknowledged", "kind": "events-v2"}, PD.actor, T0,
                         resolve=True)
    assert update.fields["status"] == "in_progress" and "first_response_at" not in update.fields


def test_repeats_are_noted_at_milestones_only():
    notes = [n for n in range(2, 101) if sync_ticket(ticket(state="triggered", source={"state": "triggered",
             "events": n - 1}), {"state": "triggered", "kind": "events-v2", "events": n}, PD.actor, T0, resolve=True)]
    assert notes == [2, 5, 10, 20, 50, 100]


# --- what the ticket says --------------------------------------------------------------------------

def test_labels_are_data_severity_maps_and_nothing_is_interpreted():
    hostile = alert(summary="{{ 7*7 }}", component="$where", team='{"$gt": ""}')
    fields = alertmanager_fields(AM, notification(hostile), [], "k")
    assert fields["reported_severity"] == "critical" and fields["severity_pinned"]
    assert fields["component"] == "$where"
    assert '{"$gt": ""}' in fields["description"] and "{{ 7*7 }}" in fields["description"]
    unmapped = alertmanager_fields(AM, Notification(group_key="k", alerts=(alert(severity="weird"),)), [], "k")
    assert unmapped["reported_severity"] is None and not unmapped["severity_pinned"], "triage decides"


def test_an_integrations_mapping_overrides_the_defaults():
    mapped = Integration(id=AM.id, kind=Kind.EVENTS_V2, name="zabbix", team="technical-support",
                         severity_map={"warning": Severity.HIGH})
    event = parse_event({"routing_key": "k", "event_action": "trigger",
                         "payload": {"summary": "disk full", "source": "db1", "severity": "warning"}})
    assert event_fields(mapped, event, "d")["reported_severity"] == "high"


# --- the service layer: once, whatever the retries --------------------------------------------------

async def test_the_same_notification_twice_changes_nothing():
    d = deps()
    first = await receive_notification(AM, notification(alert()), d)
    assert first.action == "open" and first.ticket["number"] == "INC-000001"
    ticket_before = await d.tickets.get(first.ticket["_id"])
    writes = d.groups.writes
    again = await receive_notification(AM, notification(alert()), d)
    assert again.action == "unchanged" and d.groups.writes == writes
    assert await d.tickets.get(first.ticket["_id"]) == ticket_before
    assert len(d.tickets.documents) == 1


async def test_concurrent_notifications_of_a_new_group_open_one_ticket():
    d = deps()
    outcomes = await asyncio.gather(*(receive_notification(AM, notification(alert(f"a{n}")), d) for n in range(8)))
    assert len(d.tickets.documents) == 1 and {o.ticket["_id"] for o in outcomes} == set(d.tickets.documents)
    group = next(iter(d.groups.documents.values()))
    assert len(group["alerts"]) == 8


async def test_a_claim_left_by_a_crash_is_finished_by_the_retry():
    d = deps()
    record_id = group_id(AM.id, '{}:{alertname="CheckoutDown"}')
    await d.groups.claim({"_id": record_id, "kind": "alertmanager", "ticket_id": "01JCLAIMEDCLAIMEDCLAIMED00",
                          "number": "INC-000042", "generation": 1, "state": "firing",
                          "alerts": [alert().to_document()], "events": 0})
    outcome = await receive_notification(AM, notification(alert()), d)
    assert outcome.ticket["_id"] == "01JCLAIMEDCLAIMEDCLAIMED00" and outcome.ticket["number"] == "INC-000042"
    assert len(d.tickets.documents) == 1


async def test_resolving_every_alert_resolves_the_ticket_and_refiring_reopens_it():
    clock = FakeClock(T0)
    d = deps(clock)
    opened = await receive_notification(AM, notification(alert("a1"), alert("a2")), d)
    await receive_notification(AM, notification(alert("a1", "resolved"), alert("a2")), d)
    assert (await d.tickets.get(opened.ticket["_id"]))["status"] == "open", "one alert still fires"
    await receive_notification(AM, notification(alert("a1", "resolved"), alert("a2", "resolved")), d)
    resolved = await d.tickets.get(opened.ticket["_id"])
    assert resolved["status"] == "resolved" and resolved["resolution"]["proposed_solution"].startswith("Resolved by source")
    clock.advance(timedelta(minutes=10))
    await receive_notification(AM, notification(alert("a1", starts=clock.now())), d)
    reopened = await d.tickets.get(opened.ticket["_id"])
    assert reopened["status"] == "in_progress" and reopened["reopened_count"] == 1
    assert len(d.tickets.documents) == 1


async def test_one_integration_cannot_acknowledge_or_resolve_anothers_dedup_key():
    d = deps()
    trigger = parse_event({"routing_key": "k", "event_action": "trigger", "dedup_key": "disk-db1",
                           "payload": {"summary": "disk full", "source": "db1", "severity": "critical"}})
    opened = await receive_event(PD, trigger, d)
    other = Integration(id="01JCCCCCCCCCCCCCCCCCCCCCCC", kind=Kind.EVENTS_V2, name="other", team="service-desk")
    for action in ("acknowledge", "resolve"):
        event = parse_event({"routing_key": "x", "event_action": action, "dedup_key": "disk-db1"})
        assert (await receive_event(other, event, d)).action == "ignored"
    assert (await d.tickets.get(opened.ticket["_id"]))["status"] == "open"
    resolved = await receive_event(PD, parse_event({"routing_key": "k", "event_action": "resolve",
                                                    "dedup_key": "disk-db1"}), d)
    assert resolved.ticket["status"] == "resolved"
    renewed = await receive_event(PD, trigger, d)
    assert renewed.action == "renew" and renewed.ticket["_id"] != opened.ticket["_id"]


@pytest.mark.parametrize("count", [100])
async def test_a_storm_of_triggers_adds_to_one_ticket_with_a_handful_of_ticket_writes(count):
    d = deps()
    trigger = parse_event({"routing_key": "k", "event_action": "trigger", "dedup_key": "cpu",
                           "payload": {"summary": "cpu high", "source": "web1", "severity": "error"}})
    outcomes = await asyncio.gather(*(receive_event(PD, trigger, d) for _ in range(count)))
    assert len({o.ticket["_id"] for o in outcomes}) == 1 and len(d.tickets.documents) == 1
    stored = next(iter(d.tickets.documents.values()))
    notes = [e for e in stored["timeline"] if e["action"] == "source_repeated"]
    assert len(notes) == 6 and stored["source"]["events"] == count
