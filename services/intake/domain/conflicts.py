"""What changed on a ticket since someone looked at it, and which of those changes should stop their action (pure).

A page remembers the ticket's timeline position when it was drawn (`timeline_seq`); every change adds
entries after it. Changes by people, and system changes that alter what an agent decides on (status,
severity, tier, a vendor's answer, triage), make an action taken on the older picture a conflict:
it is not applied and the agent is shown the changes. Routine bookkeeping (SLA clock steps,
notifications sent, pages, duplicate counts, votes) does not, nor does triage repeating an agent's severity
override (the override itself is the change).
"""

from __future__ import annotations

from typing import Any

ROUTINE_ACTIONS = frozenset({
    "sla_clock_started", "sla_clock_paused", "sla_clock_resumed", "sla_clock_retargeted", "sla_clock_stopped",
    "sla_measured", "sla_warning", "sla_breached", "notification_sent", "notification_failed", "page_requested",
    "duplicate_grouped", "voted", "vendor_handoff",
})


def changes_since(ticket: dict[str, Any], seen_seq: int) -> list[dict[str, Any]]:
    """Return the ticket's timeline entries added at or after position seen_seq, oldest first."""
    return [entry for entry in ticket.get("timeline", []) if int(entry.get("seq", -1)) >= seen_seq]


def is_echo(entry: dict[str, Any]) -> bool:
    """Return True for triage's reclassification after an agent's severity override: it repeats a change by a
    person that is on the timeline before it (and conflicts there if the page had not shown it)."""
    return entry.get("action") == "reclassified" and (entry.get("data") or {}).get("trigger") == "agent"


def conflicting(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the entries that change what an agent decides on (everything but routine bookkeeping and echoes)."""
    return [entry for entry in entries if entry.get("action") not in ROUTINE_ACTIONS and not is_echo(entry)]


def conflicting_changes(ticket: dict[str, Any], seen_seq: int | None) -> list[dict[str, Any]]:
    """Return the conflicting changes since seen_seq (none when the caller did not say what it saw)."""
    if seen_seq is None:
        return []
    return conflicting(changes_since(ticket, seen_seq))
