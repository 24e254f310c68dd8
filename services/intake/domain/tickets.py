"""The ticket as a record: the new-ticket document, timeline entries, what events change (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shared.contracts import TicketTriaged
from shared.contracts.triage_events import TicketDuplicateDetected, TicketReclassified


def when(moment: datetime) -> str:
    """Return a moment as the timeline words it, in UTC: e.g. 'Tue 6 Jan 14:00 UTC'."""
    return moment.astimezone(UTC).strftime("%a %-d %b %H:%M UTC")


def timeline_entry(at: datetime, actor: dict[str, str], action: str, detail: str, **data: Any) -> dict[str, Any]:
    """Return one timeline entry: who did what, when, and why."""
    entry: dict[str, Any] = {"at": at, "actor": actor, "action": action, "detail": detail}
    if data:
        entry["data"] = data
    return entry


def system_actor(service: str) -> dict[str, str]:
    """Return the actor that stands for one of our services in a timeline."""
    return {"type": "system", "id": service, "name": service}


def new_ticket_document(
    *,
    ticket_id: str,
    number: str,
    fields: dict[str, Any],
    reporter: dict[str, Any],
    now: datetime,
    outbox: list[dict[str, Any]],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the document of a freshly reported ticket, owing its events in `outbox`.

    `notes` are public timeline entries by intake after the report (e.g. that the sender is unverified).
    """
    actor = {"type": "reporter", "id": reporter["id"], "name": reporter["name"]}
    timeline = [{**timeline_entry(now, actor, "reported", f"Ticket {number} reported"), "visibility": "public"}]
    timeline += [{**timeline_entry(now, system_actor("intake"), "note", note), "visibility": "public"} for note in notes]
    return {
        "_id": ticket_id,
        "number": number,
        **fields,
        "status": "open",
        "severity": None,
        "severity_source": None,
        "assignee": None,
        "votes": 0,
        "first_response_at": None,
        "reopened_count": 0,
        "tier": None,
        "team": None,
        "sla": {},
        "triage": None,
        "reporter": reporter,
        "created_at": now,
        "updated_at": now,
        "timeline": timeline,
        "applied_events": [],
        "outbox": outbox,
        "rev": 0,
    }


def set_within(ticket: dict[str, Any], parent: str, values: dict[str, Any]) -> dict[str, Any]:
    """Return the $set fields that put values under parent, setting the whole parent when it is not a dict yet."""
    if isinstance(ticket.get(parent), dict):
        return {f"{parent}.{key}": value for key, value in values.items()}
    return {parent: dict(values)}


def triage_changes(ticket: dict[str, Any], event: TicketTriaged, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the fields ticket.triaged sets on this ticket and the timeline entry that explains it.

    An agent's severity override wins (triage's severity is recorded but not applied); a due time
    that escalation's clock already reported is kept (the clocks own the due times).
    """
    clocks = (ticket.get("sla") or {}).get("clocks") or {}
    sla = {"acknowledge_due_at": event.acknowledge_due_at, "response_target": event.response_target}
    for target, due_at in (("response", event.response_due_at), ("resolution", event.resolution_due_at)):
        if target not in clocks:
            sla[f"{target}_due_at"] = due_at
    fields = {"tier": event.tier, "team": event.team, "triage": {"rule": event.rule, "reason": event.reason},
              **set_within(ticket, "sla", sla), "updated_at": now}
    detail = (
        f"Triaged as {event.severity.value} ({event.reason}); routed to Tier {event.tier} {event.team}; "
        f"response due {when(event.response_due_at)}"
    )
    if ticket.get("severity_source") == "agent":
        detail += f" (agent override {ticket['severity']} kept)"
    else:
        fields.update(severity=event.severity.value, severity_source="triage")
    return fields, timeline_entry(now, system_actor("triage"), "triaged", detail, rule=event.rule)


def reclassification_changes(event: TicketReclassified, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the fields a reclassification sets and its timeline entry (escalation's clocks report the new due times)."""
    fields = {
        "severity": event.severity.value,
        "tier": event.tier,
        "team": event.team,
        "sla.response_target": event.response_target,
        "updated_at": now,
    }
    detail = (f"Reclassified {event.old_severity.value} → {event.severity.value} ({event.trigger}: {event.reason}); "
              f"new targets: response {event.response_target}, resolution {event.resolution_target}")
    entry = timeline_entry(now, system_actor("triage"), "reclassified", detail, trigger=event.trigger,
                           old_severity=event.old_severity.value, severity=event.severity.value)
    return fields, entry


def worth_a_timeline_entry(reports: int) -> bool:
    """Return True if a group reaching this many reports is noted on its primary's timeline.

    The first ten are, then round numbers (20, 30, … 100, 200, …): a storm of reports updates the
    primary's counts every time but adds only a handful of entries to its timeline.
    """
    digits = str(reports).rstrip("0")
    return reports <= 10 or len(digits) == 1


def duplicate_changes(
    event: TicketDuplicateDetected, now: datetime
) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """Return, per ticket id, the fields and timeline entry (if any) that link a duplicate to its primary."""
    actor = system_actor("triage")
    return {
        event.primary_ticket_id: (
            {"group": {"reports": event.reports, "users_affected": event.users_affected}, "updated_at": now},
            # internal: the primary's reporter sees the counts (`group`), never another reporter's ticket number
            {**timeline_entry(now, actor, "duplicate_grouped",
                              f"{event.duplicate_number} reports the same problem; {event.reports} reports, "
                              f"{event.users_affected} users affected", duplicate=event.duplicate_number),
             "visibility": "internal"}
            if worth_a_timeline_entry(event.reports) else None,
        ),
        event.duplicate_ticket_id: (
            {"duplicate_of": {"ticket_id": event.primary_ticket_id, "number": event.primary_number}, "updated_at": now},
            {**timeline_entry(now, actor, "grouped_as_duplicate",
                              f"Grouped under {event.primary_number}, which reports the same problem",
                              primary=event.primary_number), "visibility": "internal"},
        ),
    }
