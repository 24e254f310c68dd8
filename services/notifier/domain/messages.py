"""The message registry: which messages an event causes and the facts templates get (pure).

Adding a message for a new event is: a translator here (event payload -> Notice), an entry in
REGISTRY, templates `<message>.<channel>.<fmt>.j2`, routes in routing.yaml, and the routing key
bound to the notifier queue in shared/messaging/topology.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.contracts import Reporter, TicketTriaged

DIGEST = "digest"


@dataclass(frozen=True)
class Person:
    """Someone an event names directly (today: the reporter)."""

    id: str
    name: str
    email: str | None = None
    verified: bool | None = None
    """False when the report came by e-mail from a sender that proved nothing."""


def person_of(reporter: Reporter | None) -> Person | None:
    """Return the Person a contract's reporter names, or None."""
    if reporter is None:
        return None
    return Person(id=reporter.id, name=reporter.name, email=str(reporter.email) if reporter.email else None,
                  verified=reporter.verified)


@dataclass(frozen=True)
class DirectRecipient:
    """Someone an event names to reach directly (a person on call), in a team role, with their addresses."""

    id: str
    name: str
    role: str
    email: str | None = None
    slack: str | None = None
    webhook: str | None = None


@dataclass(frozen=True)
class Notice:
    """What one event means for notifications: the ticket facts routing needs and the template context."""

    event_id: str
    event_type: str
    ticket_id: str | None
    number: str | None
    messages: tuple[str, ...]
    team: str | None = None
    tier: int | None = None
    severity: str | None = None
    reporter: Person | None = None
    context: dict[str, Any] = field(default_factory=dict)
    team_roles: tuple[str, ...] | None = None
    """The team roles this notice addresses (a page names one); None: every role a route names."""
    people: tuple[DirectRecipient, ...] = ()
    """People the event names directly (an on-call page, a hand-off notice): they get the message on every
    channel they have an address for, whatever the routes say."""
    acknowledgeable: bool = False
    """True for pages: each person or role contact paged gets a one-click acknowledge link of their own."""


def notice_about(event_id: str, event: Any, messages: tuple[str, ...], *, team_roles: tuple[str, ...] | None = None,
                 people: tuple[DirectRecipient, ...] = (), acknowledgeable: bool = False, **context: Any) -> Notice:
    """Return a notice about a ticket event, with the facts every template may use (number, reporter name).

    The event's ticket_id, number, team, tier, severity and reporter (where it has them) fill the
    routing facts; `context` adds what this event's templates need. `sender_unverified` is True when
    the reporter's identity is unproven (an e-mail report without a reply token or trusted DKIM).
    """
    reporter = getattr(event, "reporter", None)
    severity = getattr(event, "severity", None)
    unverified = reporter is not None and getattr(reporter, "verified", None) is False
    return Notice(
        event_id=event_id,
        event_type=event.EVENT_TYPE,
        ticket_id=event.ticket_id,
        number=event.number,
        messages=messages,
        team=getattr(event, "team", None),
        tier=getattr(event, "tier", None),
        severity=severity.value if severity else None,
        reporter=person_of(reporter),
        team_roles=team_roles,
        people=people,
        acknowledgeable=acknowledgeable,
        context={"number": event.number, "reporter_name": reporter.name if reporter is not None else "",
                 "sender_unverified": unverified, **context},
    )


Translator = Callable[[str, Any], Notice]


@dataclass(frozen=True)
class EventMessages:
    """One event type, the messages it may cause, and how to turn its payload into an Notice."""

    event_type: str
    messages: tuple[str, ...]
    translate: Translator


def from_triaged(event_id: str, event: TicketTriaged) -> Notice:
    """Return the notice of ticket.triaged: 'ticket_received' for the reporter, 'ticket_assigned' for the team."""
    return notice_about(
        event_id, event, ("ticket_received", "ticket_assigned"),
        title=event.title,
        severity=event.severity.value.capitalize(),
        severity_level=event.severity.level,
        team=event.team,
        tier=event.tier,
        reason=event.reason,
        response_target=event.response_target,
        response_due_at=event.response_due_at.strftime("%Y-%m-%d %H:%M UTC"),
        resolution_due_at=event.resolution_due_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


def _registry() -> dict[str, EventMessages]:
    """Return every event the notifier reacts to, with its possible messages and translator."""
    from services.notifier.domain import escalation_messages as escalation
    from services.notifier.domain import lifecycle_messages as lifecycle

    entries = (
        EventMessages("ticket.triaged", ("ticket_received", "ticket_assigned"), from_triaged),
        EventMessages("ticket.status_changed", ("info_requested", "status_changed", "auto_closed"),
                      lifecycle.from_status_changed),
        EventMessages("ticket.resolved", ("resolution_proposed",), lifecycle.from_resolved),
        EventMessages("ticket.commented", ("agent_comment",), lifecycle.from_commented),
        EventMessages("ticket.severity_changed", ("severity_changed",), lifecycle.from_severity_changed),
        EventMessages("ticket.reclassified", ("severity_changed", "ticket_assigned"), lifecycle.from_reclassified),
        EventMessages("ticket.escalated", ("escalated", "escalation_page"), escalation.from_escalated),
        EventMessages("escalation.page_requested", ("escalation_page",), escalation.from_page_requested),
        EventMessages("sla.warning", ("sla_warning",), escalation.from_sla_warning),
        EventMessages("sla.breached", ("sla_breached",), escalation.from_sla_breached),
        EventMessages("vendor.handoff_sent", ("vendor_handoff",), escalation.from_vendor_handoff),
        EventMessages("vendor.reply_received", ("vendor_update",), escalation.from_vendor_reply),
        EventMessages("oncall.handoff_notice", ("handoff_notice",), escalation.from_handoff_notice),
    )
    return {entry.event_type: entry for entry in entries}


REGISTRY: dict[str, EventMessages] = _registry()

KNOWN_MESSAGES: frozenset[str] = frozenset({m for entry in REGISTRY.values() for m in entry.messages} | {DIGEST})
