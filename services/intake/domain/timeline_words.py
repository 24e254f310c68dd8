"""How a ticket's timeline words what the services record as keys: notices and statuses (pure).

The notifier reports each notice by its message key (`ticket_received`) and channel (`email`), and
a status is stored as its value (`waiting_for_info`); a person reading the timeline gets words
instead. A notice key this table does not know yet is still worded from the key itself, never
shown raw.
"""

from __future__ import annotations

from shared.contracts import Status

STATUS_LABELS = {Status.OPEN: "Open", Status.IN_PROGRESS: "In Progress", Status.WAITING_FOR_INFO: "Waiting for Info",
                 Status.ON_HOLD: "On Hold", Status.RESOLVED: "Resolved", Status.CLOSED: "Closed"}

NOTICE_NAMES = {
    "ticket_received": "Confirmation that we received the report",
    "ticket_assigned": "Assignment notice to the team",
    "status_changed": "Status update",
    "agent_comment": "Reply from support",
    "info_requested": "Request for more information",
    "resolution_proposed": "Proposed resolution",
    "auto_closed": "Notice that the ticket was closed",
    "severity_changed": "Severity change notice",
    "escalated": "Escalation notice",
    "escalation_page": "Page to the on-call engineer",
    "sla_warning": "SLA warning",
    "sla_breached": "SLA breach notice",
    "vendor_handoff": "Hand-off notice to the vendor",
    "vendor_update": "Vendor update",
    "handoff_notice": "On-call hand-off notice",
    "digest": "Digest",
}
CHANNEL_NAMES = {"email": "e-mail", "slack": "Slack", "webhook": "webhook"}


def notice_name(message: str) -> str:
    """Return the words for a notice's message key (a key not in the table: its words, capitalised)."""
    return NOTICE_NAMES.get(message) or message.replace("_", " ").strip().capitalize() or "Notice"


def channel_name(channel: str) -> str:
    """Return the words for a delivery channel."""
    return CHANNEL_NAMES.get(channel, channel)


def sent_words(message: str, channel: str) -> str:
    """Return the timeline's words for a notice delivered on a channel."""
    return f"{notice_name(message)} sent by {channel_name(channel)}"


def failed_words(message: str, channel: str, attempts: int, error: str) -> str:
    """Return the timeline's words for a notice the notifier gave up on, with the last error (internal entries)."""
    return f"{notice_name(message)} by {channel_name(channel)} failed after {attempts} attempts: {error}"


def status_label(status: str | None) -> str:
    """Return a status as KB-005 names it (a value no status has: as it is)."""
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return str(status or "")


def status_change_words(from_status: str, to_status: str, reason: str | None) -> str:
    """Return the timeline's words for a status change, with the reason given for it."""
    return f"Status {status_label(from_status)} → {status_label(to_status)}" + (f": {reason}" if reason else "")
