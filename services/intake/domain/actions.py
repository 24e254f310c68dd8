"""What each agent or reporter action does to a ticket: fields, timeline entries, events (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.intake.domain.lifecycle import Mover, check_move
from services.intake.domain.tickets import timeline_entry
from services.intake.domain.timeline_words import status_change_words
from shared.contracts import Reporter, Severity, Status
from shared.contracts.lifecycle_events import (
    Actor,
    LifecycleEvent,
    TicketAcknowledged,
    TicketAssigned,
    TicketCommented,
    TicketEscalationRequested,
    TicketFeedbackReceived,
    TicketPageAcknowledged,
    TicketPriorityBumpRequested,
    TicketResolved,
    TicketSeverityChanged,
    TicketStatusChanged,
)


class ActionRefused(Exception):
    """An action this actor may not take on this ticket now; the message says why."""


@dataclass
class TicketUpdate:
    """A pending write of one ticket: a guard on its current state, new fields, timeline entries and events."""

    ticket: dict[str, Any]
    now: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    events: list[LifecycleEvent] = field(default_factory=list)
    guard: dict[str, Any] = field(default_factory=dict)
    """More the ticket must still hold for this update to apply (checked in the same conditional write), e.g. its
    timeline position: nothing changed since it was read."""

    @property
    def condition(self) -> dict[str, Any]:
        """Return the state the ticket must still be in for this update to apply."""
        return {"status": self.ticket["status"], **self.guard}

    def current(self, key: str) -> Any:
        """Return a field as it will be after this update."""
        return self.fields.get(key, self.ticket.get(key))

    def note(self, actor: Actor, action: str, detail: str, *, internal: bool = False, **data: Any) -> None:
        """Add a timeline entry by actor."""
        entry = timeline_entry(self.now, actor.model_dump(), action, detail, **data)
        entry["visibility"] = "internal" if internal else "public"
        self.entries.append(entry)

    def emit(self, event_class: type[LifecycleEvent], actor: Actor, **extra: Any) -> None:
        """Add an event describing the ticket as it will be after this update."""
        self.events.append(
            event_class(
                ticket_id=self.ticket["_id"],
                number=self.ticket["number"],
                title=self.ticket["title"],
                actor=actor,
                at=self.now,
                status=self.current("status"),
                severity=self.current("severity"),
                tier=self.current("tier"),
                team=self.current("team"),
                production=self.ticket.get("production"),
                reporter=Reporter(**self.ticket["reporter"]),
                **extra,
            )
        )


def mover_of(actor: Actor) -> Mover:
    """Return how the transition table sees this actor."""
    if actor.type in ("agent", "admin"):
        return Mover.AGENT
    if actor.type == "reporter":
        return Mover.REPORTER
    return Mover.SYSTEM


def move(update: TicketUpdate, actor: Actor, to: Status, reason: str | None = None, *, mover: Mover | None = None) -> None:
    """Move the ticket to `to` if the table allows it (raises IllegalTransition otherwise)."""
    current = Status(update.current("status"))
    check_move(current, to, mover or mover_of(actor))
    update.fields["status"] = to.value
    update.fields[f"{to.value}_at"] = update.now
    if to is Status.IN_PROGRESS and current in (Status.RESOLVED, Status.CLOSED):
        update.fields["reopened_count"] = int(update.ticket.get("reopened_count") or 0) + 1
    detail = status_change_words(current.value, to.value, reason)
    update.note(actor, "status_changed", detail, from_status=current.value, to_status=to.value,
                **({"reason": reason} if reason else {}))
    update.emit(TicketStatusChanged, actor, from_status=current.value, reason=reason)


def _first_response(update: TicketUpdate, actor: Actor) -> None:
    """Record support's first human response once; it stops the response clock."""
    if update.ticket.get("first_response_at") is None and mover_of(actor) is Mover.AGENT:
        update.fields["first_response_at"] = update.now
        update.emit(TicketAcknowledged, actor, first_response_at=update.now)


def _require_agent(actor: Actor, what: str) -> None:
    if mover_of(actor) is not Mover.AGENT:
        raise ActionRefused(f"only support agents may {what}")


def _require_reporter(actor: Actor, ticket: dict[str, Any], what: str) -> None:
    if actor.type != "reporter" or ticket["reporter"]["id"] != actor.id:
        raise ActionRefused(f"only the ticket's reporter may {what}")


def acknowledge(ticket: dict[str, Any], actor: Actor, now: datetime) -> TicketUpdate:
    """Agent takes the ticket up: first response recorded, Open moves to In Progress."""
    _require_agent(actor, "acknowledge a ticket")
    update = TicketUpdate(ticket, now)
    update.note(actor, "acknowledged", f"Acknowledged by {actor.name}")
    if ticket["status"] == Status.OPEN:
        move(update, actor, Status.IN_PROGRESS, "acknowledged")
    _first_response(update, actor)
    return update


ACK_LINKS_KEPT = 100
"""Used acknowledge-link ids a ticket remembers (links expire within hours; pages per ticket are few)."""
PAGE_ACKS_KEPT = 20


def acknowledge_page(ticket: dict[str, Any], actor: Actor, now: datetime, *, page_id: str, step: str | None,
                     token_id: str) -> TicketUpdate:
    """The person paged acknowledges the page from its link: recorded once per page, the link used once.

    Like `acknowledge` (first response; Open moves to In Progress), plus ticket.page_acknowledged, which
    stops the page chain. The link's id and the acknowledgement are written in the same conditional write,
    so two clicks (or two people) cannot both acknowledge.
    """
    if token_id in ticket.get("ack_links_used", []):
        raise ActionRefused("this acknowledge link was already used")
    done = next((a for a in ticket.get("page_acknowledgements", []) if a.get("page_id") == page_id), None)
    if done is not None:
        raise ActionRefused(f"this page was already acknowledged by {done['name']} at "
                            f"{done['at'].strftime('%Y-%m-%d %H:%M UTC')}")
    if ticket["status"] == Status.CLOSED:
        raise ActionRefused(f"ticket {ticket['number']} is closed; there is nothing to acknowledge")
    update = TicketUpdate(ticket, now, guard={"ack_links_used": {"$ne": token_id},
                                              "page_acknowledgements.page_id": {"$ne": page_id}})
    update.fields["ack_links_used"] = [*ticket.get("ack_links_used", []), token_id][-ACK_LINKS_KEPT:]
    update.fields["page_acknowledgements"] = [
        *ticket.get("page_acknowledgements", []),
        {"page_id": page_id, "step": step, "by": actor.id, "name": actor.name, "at": now}][-PAGE_ACKS_KEPT:]
    update.note(actor, "page_acknowledged", f"Page acknowledged by {actor.name} from the page's link",
                page_id=page_id, step=step)
    if ticket["status"] == Status.OPEN:
        move(update, actor, Status.IN_PROGRESS, "page acknowledged")
    _first_response(update, actor)
    update.emit(TicketPageAcknowledged, actor, page_id=page_id, step=step, person_id=actor.id)
    return update


def assign(ticket: dict[str, Any], actor: Actor, now: datetime, assignee: str) -> TicketUpdate:
    """Agent assigns the ticket to a person."""
    _require_agent(actor, "assign tickets")
    update = TicketUpdate(ticket, now, fields={"assignee": assignee})
    update.note(actor, "assigned", f"Assigned to {assignee}", assignee=assignee)
    update.emit(TicketAssigned, actor, assignee=assignee)
    return update


def change_status(ticket: dict[str, Any], actor: Actor, now: datetime, to: Status, reason: str | None) -> TicketUpdate:
    """Move the ticket as the transition table allows this actor; Waiting for Info needs the question."""
    if to is Status.WAITING_FOR_INFO and not reason:
        raise ActionRefused("say what information you need in `reason` when asking the reporter")
    if to is Status.RESOLVED:
        raise ActionRefused("use the resolve action, which records the proposed solution")
    update = TicketUpdate(ticket, now)
    move(update, actor, to, reason)
    _first_response(update, actor)
    return update


def change_severity(ticket: dict[str, Any], actor: Actor, now: datetime, severity: Severity, reason: str) -> TicketUpdate:
    """Agent overrides the severity; the override wins over triage and is recorded with its reason."""
    _require_agent(actor, "change severity")
    old = ticket.get("severity")
    if old == severity.value:
        raise ActionRefused(f"the ticket is already {severity.value}")
    update = TicketUpdate(ticket, now, fields={"severity": severity.value, "severity_source": "agent"})
    update.note(actor, "severity_changed", f"Severity {old} → {severity.value}: {reason}", old=old, new=severity.value)
    update.emit(TicketSeverityChanged, actor, old_severity=old, new_severity=severity, reason=reason)
    return update


def comment(ticket: dict[str, Any], actor: Actor, now: datetime, body: str, internal: bool) -> TicketUpdate:
    """Add a comment; a reporter's comment on a Waiting for Info ticket answers it and resumes work."""
    mover = mover_of(actor)
    if internal and mover is not Mover.AGENT:
        raise ActionRefused("only support agents may write internal notes")
    if mover is Mover.REPORTER:
        _require_reporter(actor, ticket, "comment")
    if ticket["status"] == Status.CLOSED and mover is not Mover.AGENT:
        raise ActionRefused("the ticket is closed; open a new one or ask support to reopen it")
    update = TicketUpdate(ticket, now)
    visibility = "internal" if internal else "public"
    update.note(actor, "commented", body, internal=internal)
    update.emit(TicketCommented, actor, visibility=visibility, body=body)
    if mover is Mover.REPORTER and ticket["status"] == Status.WAITING_FOR_INFO:
        move(update, actor, Status.IN_PROGRESS, "the reporter answered")
    if not internal:
        _first_response(update, actor)
    return update


def resolve(ticket: dict[str, Any], actor: Actor, now: datetime, proposed_solution: str) -> TicketUpdate:
    """Agent proposes a solution; the reporter is asked to confirm it."""
    _require_agent(actor, "resolve tickets")
    update = TicketUpdate(ticket, now, fields={"resolution": {"proposed_solution": proposed_solution, "by": actor.name}})
    move(update, actor, Status.RESOLVED, "solution proposed")
    update.note(actor, "resolved", proposed_solution)
    update.emit(TicketResolved, actor, proposed_solution=proposed_solution)
    _first_response(update, actor)
    return update


def give_feedback(ticket: dict[str, Any], actor: Actor, now: datetime, feedback: str, comment_text: str | None) -> TicketUpdate:
    """Reporter answers a resolution: fixed closes it, still-has-issues reopens it, needs-more-info returns it."""
    _require_reporter(actor, ticket, "give feedback on the resolution")
    if ticket["status"] != Status.RESOLVED:
        raise ActionRefused(f"feedback is for resolved tickets; this one is {ticket['status']}")
    if feedback == "needs_more_info" and not comment_text:
        raise ActionRefused("say what you need to know in `comment`")
    update = TicketUpdate(ticket, now)
    detail = {"confirmed_fixed": "Confirmed fixed", "still_has_issues": "Still has issues",
              "needs_more_info": "Needs more info"}[feedback]
    update.note(actor, "feedback", detail + (f": {comment_text}" if comment_text else ""), feedback=feedback)
    if feedback == "confirmed_fixed":
        move(update, actor, Status.CLOSED, "the reporter confirmed the fix")
    else:
        move(update, actor, Status.IN_PROGRESS, detail.lower())
    update.emit(TicketFeedbackReceived, actor, feedback=feedback, comment=comment_text)
    return update


def request_priority_bump(
    ticket: dict[str, Any], actor: Actor, now: datetime, reason: str, requested: Severity | None
) -> TicketUpdate:
    """Reporter asks for a higher priority; support decides (and records the decision as a severity change)."""
    _require_reporter(actor, ticket, "request a priority bump")
    if ticket["status"] == Status.CLOSED:
        raise ActionRefused("the ticket is closed")
    current = ticket.get("severity")
    if requested is not None and current is not None and requested.level >= Severity(current).level:
        raise ActionRefused(f"{requested.value} is not higher than the current severity {current}")
    update = TicketUpdate(ticket, now)
    wanted = f" to {requested.value}" if requested else ""
    update.note(actor, "priority_bump_requested", f"Priority bump requested{wanted}: {reason}")
    update.emit(TicketPriorityBumpRequested, actor, reason=reason, requested_severity=requested)
    return update


FEATURE_STATUSES = ("under_review", "planned", "declined", "done")
"""Where a feature request stands, as reporters see it on the board and its page (under review until decided)."""
FEATURE_STATUS_LABELS = {"under_review": "Under review", "planned": "Planned", "declined": "Declined", "done": "Done"}
TIERS = (1, 2, 3, 4)


def may_acknowledge(ticket: dict[str, Any]) -> bool:
    """Return True while acknowledging means something: the ticket is Open, or support has not responded yet."""
    return ticket["status"] != Status.CLOSED and (ticket["status"] == Status.OPEN
                                                  or ticket.get("first_response_at") is None)


def escalation_tiers(ticket: dict[str, Any]) -> list[int]:
    """Return the tiers an agent may escalate this ticket to: above its tier, while it is triaged and not finished."""
    tier = ticket.get("tier")
    if tier is None or ticket["status"] in (Status.RESOLVED, Status.CLOSED):
        return []
    return [t for t in TIERS if t > int(tier)]


def request_escalation(ticket: dict[str, Any], actor: Actor, now: datetime, to_tier: int, reason: str) -> TicketUpdate:
    """Agent asks for a higher tier with a reason; escalation makes the move (team, number, hand-off clock)."""
    _require_agent(actor, "escalate tickets")
    allowed = escalation_tiers(ticket)
    if to_tier not in allowed:
        where = f"Tier {ticket.get('tier')}" if ticket.get("tier") else "not triaged yet"
        raise ActionRefused(f"the ticket cannot go to Tier {to_tier} now ({where}, {ticket['status']}); "
                            f"allowed: {', '.join(f'Tier {t}' for t in allowed) or 'none'}")
    if not reason.strip():
        raise ActionRefused("say why the ticket needs a higher tier in `reason`")
    update = TicketUpdate(ticket, now)
    update.note(actor, "escalation_requested", f"Escalation to Tier {to_tier} requested by {actor.name}: {reason}",
                internal=True, to_tier=to_tier)
    update.emit(TicketEscalationRequested, actor, to_tier=to_tier, reason=reason)
    return update


def set_feature_status(ticket: dict[str, Any], actor: Actor, now: datetime, status: str, note: str | None) -> TicketUpdate:
    """Agent decides where a feature request stands (under review, planned, declined, done); reporters see it."""
    _require_agent(actor, "decide on feature requests")
    if ticket.get("kind") != "feature_request":
        raise ActionRefused(f"{ticket['number']} is not a feature request")
    if status not in FEATURE_STATUSES:
        raise ActionRefused(f"a feature request is {', '.join(FEATURE_STATUSES)}; not {status!r}")
    if (ticket.get("feature_status") or "under_review") == status:
        raise ActionRefused(f"{ticket['number']} is already {FEATURE_STATUS_LABELS[status].lower()}")
    update = TicketUpdate(ticket, now, fields={"feature_status": status})
    label = FEATURE_STATUS_LABELS[status]
    update.note(actor, "feature_status_changed", f"Feature request {label.lower()}" + (f": {note}" if note else ""),
                feature_status=status)
    return update
