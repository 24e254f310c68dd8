"""Alert groups: what a source has open under one key, and what that means for its ticket (pure).

One record per (integration, key): an Alertmanager group (`groupKey`) or an Events API `dedup_key`.
It names the ticket the key opened (claimed before the ticket is written, so a retry or a
concurrent request finishes the same ticket instead of opening another), the source's state
(firing/triggered, acknowledged, resolved) and, for Alertmanager, the alerts by fingerprint.
Applying a notification twice gives the same record, and the same record gives the same ticket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.intake.domain.source_actions import (
    ACKNOWLEDGED,
    FIRING,
    RESOLVED,
    TRIGGERED,
    SourceUpdate,
    acknowledge_by_source,
    ended_at,
    fire_again,
    note_repeats,
    recorded_state,
    reopen_by_source,
    resolve_by_source,
)
from shared.contracts import FINISHED_STATUSES, Status
from shared.contracts.lifecycle_events import Actor

ALERTS_KEPT = 1000
"""Alerts a group record tracks by fingerprint; more are not tracked (Alertmanager's max_alerts can cap them)."""
ALERTS_ON_TICKET = 20
"""Alerts whose labels and annotations the ticket itself shows (the group record keeps them all)."""

Pairs = tuple[tuple[str, str], ...]
"""Labels or annotations as (name, value) pairs: stored as data, never as field names."""


def pairs_document(pairs: Pairs) -> list[dict[str, str]]:
    """Return pairs as stored: a list of {name, value} (never field names, never nested arrays)."""
    return [{"name": name, "value": value} for name, value in pairs]


def group_id(integration_id: str, key: str) -> str:
    """Return the `_id` of the record of one source key: the integration and a hash of the key."""
    return f"{integration_id}:{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}"


def to_millis(moment: datetime | None) -> datetime | None:
    """Return the moment in UTC cut to milliseconds, the precision the database keeps (so a resent alert
    compares equal); None for no moment or Alertmanager's zero time (year 1)."""
    if moment is None or moment.year < 1970:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Alert:
    """One Alertmanager alert of a notification."""

    fingerprint: str
    status: Literal["firing", "resolved"]
    labels: Pairs = ()
    annotations: Pairs = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None

    def label(self, name: str) -> str | None:
        """Return a label's value, or None."""
        return dict(self.labels).get(name)

    def to_document(self) -> dict[str, Any]:
        """Return the alert as a group record keeps it."""
        return {"fingerprint": self.fingerprint, "status": self.status,
                "labels": pairs_document(self.labels), "annotations": pairs_document(self.annotations),
                "starts_at": to_millis(self.starts_at), "ends_at": to_millis(self.ends_at),
                "generator_url": self.generator_url}


@dataclass(frozen=True)
class Notification:
    """An Alertmanager webhook notification (payload version 4), validated at the boundary."""

    group_key: str
    receiver: str = ""
    group_labels: Pairs = ()
    common_labels: Pairs = ()
    common_annotations: Pairs = ()
    external_url: str | None = None
    alerts: tuple[Alert, ...] = ()
    truncated_alerts: int = 0


def merge_alerts(stored: list[dict[str, Any]], incoming: tuple[Alert, ...]) -> tuple[list[dict[str, Any]], bool]:
    """Return the group's alerts after a notification, and whether anything changed.

    By fingerprint: a new alert is added; a resolved one is marked resolved; a firing one that was
    resolved fires again only with a new start time (the same start time is a stale resend).
    """
    alerts = {alert["fingerprint"]: dict(alert) for alert in stored}
    changed = False
    for alert in incoming:
        document = alert.to_document()
        current = alerts.get(alert.fingerprint)
        if current is None:
            if len(alerts) < ALERTS_KEPT:
                alerts[alert.fingerprint] = document
                changed = True
        elif alert.status == "resolved":
            if current["status"] != "resolved":
                alerts[alert.fingerprint] = {**current, "status": "resolved", "ends_at": document["ends_at"]}
                changed = True
        elif current["status"] == "firing":
            if current["annotations"] != document["annotations"]:
                alerts[alert.fingerprint] = {**current, "annotations": document["annotations"]}
                changed = True
        elif current["starts_at"] != document["starts_at"]:
            alerts[alert.fingerprint] = document
            changed = True
    return list(alerts.values()), changed


def alerts_state(alerts: list[dict[str, Any]]) -> str:
    """Return firing if any alert fires, else resolved."""
    return FIRING if any(alert["status"] == "firing" for alert in alerts) else RESOLVED


def ticket_finished(ticket: dict[str, Any] | None) -> bool:
    """Return True if the ticket is Resolved or Closed."""
    return ticket is not None and ticket.get("status") in FINISHED_STATUSES


Action = Literal["open", "renew", "reopen", "update", "unchanged", "ignore"]


@dataclass(frozen=True)
class Plan:
    """What a notification does to a group record: open the first ticket, open a new one (renew),
    reopen the finished one, update the record, or nothing."""

    action: Action
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def plan_alertmanager(group: dict[str, Any] | None, ticket: dict[str, Any] | None, notification: Notification,
                      reopen_window: timedelta, now: datetime) -> Plan:
    """Return what an Alertmanager notification does to its group record (see Plan)."""
    stored = group["alerts"] if group is not None else []
    alerts, changed = merge_alerts(stored, notification.alerts)
    state = alerts_state(alerts)
    if group is None:
        if state == RESOLVED:
            return Plan("ignore", reason="nothing of this group fires and no ticket is open for it")
        return Plan("open", {"alerts": alerts, "state": FIRING})
    over = group["state"] == RESOLVED or ticket_finished(ticket)
    if over and state == FIRING and ticket is not None and ticket_finished(ticket):
        finished_at = ended_at(ticket) or now
        if ticket["status"] == Status.RESOLVED and now - finished_at <= reopen_window:
            return Plan("reopen", {"alerts": alerts, "state": FIRING, "reopened_at": now})
        firing = [alert for alert in alerts if alert["status"] == "firing"]
        return Plan("renew", {"alerts": firing, "state": FIRING})
    if not changed:
        return Plan("unchanged")
    fields: dict[str, Any] = {"alerts": alerts, "state": state}
    if state == RESOLVED and group["state"] != RESOLVED:
        fields["resolved_at"] = now
    return Plan("update", fields)


EventAction = Literal["trigger", "acknowledge", "resolve"]


def plan_event(group: dict[str, Any] | None, ticket: dict[str, Any] | None, action: EventAction,
               now: datetime) -> Plan:
    """Return what an Events API event does to its dedup key's record, with PagerDuty's semantics.

    A trigger opens a ticket, or adds to the open one; once resolved (at the source or by support)
    the next trigger opens a new ticket. Acknowledge and resolve apply to an open key only; others
    are dropped, as PagerDuty drops them.
    """
    over = group is None or group["state"] == RESOLVED or ticket_finished(ticket)
    if action == "trigger":
        if group is None:
            return Plan("open", {"state": TRIGGERED, "events": 1})
        if over:
            return Plan("renew", {"state": TRIGGERED, "events": 1})
        return Plan("update", {"events": int(group.get("events", 0)) + 1})
    if group is None or group["state"] == RESOLVED:
        return Plan("ignore", reason="no open alert with this dedup_key for this routing_key")
    if action == "acknowledge":
        if over:
            return Plan("ignore", reason="the ticket of this dedup_key is already resolved")
        if group["state"] == ACKNOWLEDGED:
            return Plan("unchanged")
        return Plan("update", {"state": ACKNOWLEDGED})
    return Plan("update", {"state": RESOLVED, "resolved_at": now})


def worth_noting(count: int) -> bool:
    """Return True if a source's count-th event is noted on its ticket: 2, 5, 10, 20, 50, 100, 200, 500, …

    A storm of repeats counts every one on its record (one atomic write each) and writes its ticket
    three times per tenfold.
    """
    digits = str(count).rstrip("0")
    return digits in ("1", "2", "5") and count > 1


def alert_summary(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Return what the ticket shows of a group's alerts: the first ones with labels and annotations, and counts."""
    return {"source.alerts": alerts[:ALERTS_ON_TICKET],
            "source.alerts_firing": sum(alert["status"] == "firing" for alert in alerts),
            "source.alerts_total": len(alerts)}


def sync_ticket(ticket: dict[str, Any], group: dict[str, Any], actor: Actor, now: datetime, *,
                resolve: bool, latest: str = "") -> SourceUpdate | None:
    """Return the update that makes the ticket agree with its group record, or None if it already does.

    Idempotent: what the ticket records (source.state, counts) is compared with the record, so a
    repeated notification, a retry or a second replica finds nothing left to do.
    """
    update = SourceUpdate(ticket, now)
    state, recorded = group["state"], recorded_state(ticket)
    reopened_at = group.get("reopened_at")
    resolved_at = ticket.get("resolved_at")
    if (reopened_at is not None and ticket.get("status") == Status.RESOLVED
            and (resolved_at is None or resolved_at < reopened_at)):
        reopen_by_source(update, actor, "the source fires again: reopened")
    elif recorded != state:
        if state == RESOLVED:
            resolve_by_source(update, actor, "Resolved by source: every alert is resolved", resolve=resolve)
        elif state == ACKNOWLEDGED:
            acknowledge_by_source(update, actor, "Acknowledged at the source")
        else:
            fire_again(update, actor, "the source fires again", state)
    if group.get("kind") == "alertmanager":
        for key, value in alert_summary(group.get("alerts") or []).items():
            if (ticket.get("source") or {}).get(key.split(".", 1)[1]) != value:
                update.fields[key] = value
    events = int(group.get("events") or 0)
    if events > int((ticket.get("source") or {}).get("events") or 0) and events > 1 and worth_noting(events):
        note_repeats(update, actor, events, latest or "a repeated event")
    if not update.fields and not update.entries:
        return None
    return update
