"""How each inbound event changes a ticket's clocks, and which triggers it fires (pure).

Every function takes the clock document (a dict the caller copied), mutates it and adds what is
owed to `fx`; the caller stores both in one guarded write.
"""

from __future__ import annotations

from typing import Any

from services.escalation.domain import oncall_pages
from services.escalation.domain.clock_moves import (
    pause_clocks,
    reach,
    restart_clock,
    resume_paused_clocks,
    retarget_clock,
    start_clock,
    stop_clock,
)
from services.escalation.domain.effects import Context, Effects, facts
from services.escalation.domain.escalate import (
    escalate,
    hand_to_vendor,
    request_page,
    start_page_chain,
    stop_pages,
)
from shared.contracts import (
    FINISHED_STATUSES,
    PAUSED_STATUSES,
    NotificationFailed,
    TicketTriaged,
)
from shared.contracts.escalation_events import VendorReply, VendorReplyReceived
from shared.contracts.lifecycle_events import (
    LifecycleEvent,
    TicketAcknowledged,
    TicketCommented,
    TicketEscalationRequested,
    TicketFeedbackReceived,
    TicketPageAcknowledged,
    TicketStatusChanged,
)
from shared.contracts.triage_events import TicketReclassified
from shared.sla.clocks import span

AGENTS = ("agent", "admin")
PAGE_MESSAGE = "escalation_page"
"""The notifier's page to any role of the chain; other page messages (ticket_assigned) page the first contact only."""
PERSON_RECIPIENT = "person."
"""How the notifier keys a person an on-call page named (the delivery's recipient)."""


class RejectedReply(ValueError):
    """A vendor reply that does not belong to a current hand-off; `reason` goes to the dead-letter queue."""


def _learn(doc: dict[str, Any], *, title: str | None = None, reporter: Any = None) -> None:
    """Fill in ticket facts escalation did not know yet (never overwrites the number escalation issued)."""
    if title and not doc.get("title"):
        doc["title"] = title
    if reporter is not None and not doc.get("reporter"):
        doc["reporter"] = reporter.model_dump(mode="json") if hasattr(reporter, "model_dump") else reporter


def on_triaged(doc: dict[str, Any], event: TicketTriaged, ctx: Context, fx: Effects) -> None:
    """Start the response and resolution clocks from triage's due times (the first triage wins)."""
    if doc["triaged"]:
        return
    policy = ctx.policy
    _learn(doc, title=event.title, reporter=event.reporter)
    doc.update(triaged=True, severity=event.severity.value, tier=event.tier, team=event.team)
    if event.type is not None:  # the report's facts the initial triggers and a vendor hand-off look at
        doc["facts"] = {"type": event.type.value, "production": event.production, "component": event.component,
                        "description": event.description, "reported_at": event.reported_at}
    for name, due_at in (("response", event.response_due_at), ("resolution", event.resolution_due_at)):
        allowance = policy.sla.allowance(event.severity, name)
        business = allowance.on_business_time if allowance else False
        budget = span(event.reported_at, due_at, business, policy.calendar)  # the promise triage made
        start_clock(doc, name, event.reported_at, due_at, budget, business,
                    allowance.describe() if allowance else "", f"triaged as {event.severity.value}", ctx, fx)
    if doc.get("first_response_at") is not None:
        reach(doc, "response", "support responded before triage finished", ctx, fx)
    if doc["status"] in FINISHED_STATUSES:
        reach(doc, "resolution", f"the ticket was already {doc['status']}", ctx, fx)
    if policy.pages_for(doc["severity"], doc["tier"]) and doc.get("first_response_at") is None:
        start_page_chain(doc, f"{doc['severity']} ticket at Tier {doc['tier']}", ctx, fx)
    if doc["tier"] == 4:
        hand_to_vendor(doc, f"triaged to Tier 4 ({event.reason})", ctx, fx)
    initial_triggers(doc, ctx, fx)


def initial_triggers(doc: dict[str, Any], ctx: Context, fx: Effects) -> None:
    """Once triage and the report's facts are known, escalate for third-party, security or production causes."""
    if not doc["triaged"] or not doc.get("facts") or "trigger.initial" in doc["fired"]:
        return
    doc["fired"].append("trigger.initial")
    ticket_facts, policy, tier = doc["facts"], ctx.policy, doc["tier"]
    if policy.is_third_party(ticket_facts.get("component")) and policy.target_tier("third_party", tier):
        escalate(doc, "third_party", f"component {ticket_facts['component']} is third-party", ctx, fx)
    elif ticket_facts.get("type") == "security" and policy.target_tier("security", tier):
        escalate(doc, "security", "the incident has security implications", ctx, fx)
    elif ticket_facts.get("production") and policy.target_tier("production", tier):
        escalate(doc, "production", "the production environment is affected", ctx, fx)


def agent_responded(doc: dict[str, Any], ctx: Context, fx: Effects) -> None:
    """An agent responded: the hand-off contact is reached and repeating pages stop."""
    reach(doc, "handoff", "the new team contacted the reporter", ctx, fx)
    stop_pages(doc)


def on_lifecycle(doc: dict[str, Any], event: LifecycleEvent, ctx: Context, fx: Effects) -> None:
    """Apply intake's lifecycle events: pauses, stops, reopenings, first response and feedback."""
    _learn(doc, title=event.title, reporter=event.reporter)
    if event.production is not None:
        doc.setdefault("facts", {})["production"] = event.production
    if isinstance(event, TicketStatusChanged):
        _status_changed(doc, event.from_status, event.status, ctx, fx)
    elif isinstance(event, TicketAcknowledged):
        doc["first_response_at"] = doc.get("first_response_at") or event.first_response_at
        reach(doc, "response", f"first response by {event.actor.name}", ctx, fx)
    elif isinstance(event, TicketPageAcknowledged):
        oncall_pages.acknowledged(doc, event.page_id, event.person_id, event.step, ctx)
    elif isinstance(event, TicketFeedbackReceived) and event.feedback == "still_has_issues":
        escalate(doc, "still_has_issues", f"the initial resolution attempt failed: {event.comment or 'still has issues'}",
                 ctx, fx)
    if event.actor.type in AGENTS and (not isinstance(event, TicketCommented) or event.visibility == "public"):
        agent_responded(doc, ctx, fx)


def on_escalation_requested(doc: dict[str, Any], event: TicketEscalationRequested, ctx: Context, fx: Effects) -> None:
    """An agent moves the ticket up to a tier with a reason: the same move as the policy's (team, number, hand-off)."""
    _learn(doc, title=event.title, reporter=event.reporter)
    if doc["status"] in FINISHED_STATUSES:
        return
    escalate(doc, "agent", f"{event.actor.name}: {event.reason}"[:1000], ctx, fx, to=event.to_tier)


def _status_changed(doc: dict[str, Any], before: str, after: str, ctx: Context, fx: Effects) -> None:
    """Pause, resume, reach, stop or restart the clocks for a status move; start or cancel auto-close."""
    now, calendar = ctx.now, ctx.policy.calendar
    doc["status"] = after
    if after in PAUSED_STATUSES and doc.get("paused_since") is None:
        doc["paused_since"] = now
        pause_clocks(doc, after, ctx, fx)
    if after not in PAUSED_STATUSES and doc.get("paused_since") is not None:
        doc["paused_seconds"] = float(doc.get("paused_seconds") or 0) + (now - doc["paused_since"]).total_seconds()
        doc["paused_since"] = None
        resume_paused_clocks(doc, f"the ticket is {after.replace('_', ' ')} again", ctx, fx)
    if after in FINISHED_STATUSES and before not in FINISHED_STATUSES:
        reach(doc, "resolution", f"the ticket was {after}", ctx, fx)
    if after == "resolved":
        days = ctx.policy.auto_close_business_days
        doc["auto_close"] = {"resolved_at": now, "business_days": days, "due_at": calendar.add_business_days(now, days)}
    elif before == "resolved":
        doc["auto_close"] = None
    if after == "closed":
        for target in list(doc["clocks"]):
            stop_clock(doc, target, "the ticket was closed", ctx, fx)
        stop_pages(doc)
        doc["auto_close"] = None
    elif before in FINISHED_STATUSES and after not in FINISHED_STATUSES:
        restart_clock(doc, "resolution", "the ticket was reopened", ctx, fx)


def on_reclassified(doc: dict[str, Any], event: TicketReclassified, ctx: Context, fx: Effects) -> None:
    """Give the clocks the new severity's allowances (time used carried over); escalate when triage says so."""
    doc["severity"] = event.severity.value
    if doc.get("tier") is None or event.tier >= doc["tier"]:
        doc.update(tier=event.tier, team=event.team)
    reason = f"reclassified {event.old_severity.value} → {event.severity.value}: {event.reason}"
    for target in ("response", "resolution"):
        retarget_clock(doc, target, reason, ctx, fx)
    if event.escalation_trigger:
        escalate(doc, "reclassified", f"{event.reason} (severity {event.old_severity.value} → {event.severity.value})",
                 ctx, fx)


def on_notification_failed(doc: dict[str, Any], event: NotificationFailed, ctx: Context, fx: Effects) -> None:
    """An undeliverable page goes to the next contact of the chain; past the last, the ticket escalates.

    A page goes out on several channels (pager and e-mail); their failures advance the chain once per
    page event and role, not once per failed delivery.
    """
    pages = ctx.policy.pages
    if event.message == PAGE_MESSAGE and event.recipient.startswith(PERSON_RECIPIENT):
        person = event.recipient.removeprefix(PERSON_RECIPIENT)
        if oncall_pages.page_failed(doc, person, event.source_event_id, ctx, fx):
            return
    if event.role not in pages.contacts or event.message not in pages.messages:
        return
    if event.message != PAGE_MESSAGE and event.role != pages.contacts[0]:
        return  # e.g. ticket_assigned's notice in the team channel: not a page
    key = f"pagefail.{event.source_event_id}.{event.role}"
    if key in doc["fired"]:
        return
    doc["fired"].append(key)
    following = pages.contacts.index(event.role) + 1
    why = f"page to {event.role} ({event.recipient}) undeliverable: {event.error[:200]}"
    if following < len(pages.contacts):
        if doc.get("page"):
            doc["page"]["contact"] = max(int(doc["page"].get("contact", 0)), following)
        request_page(doc, pages.contacts[following], why, ctx, fx)
    else:
        escalate(doc, "page_undeliverable", why, ctx, fx)


def on_vendor_reply(doc: dict[str, Any], reply: VendorReply, ctx: Context, fx: Effects) -> None:
    """Apply a vendor's answer to its hand-off; raises RejectedReply for answers to unknown hand-offs."""
    vendor = doc.get("vendor")
    if not vendor or vendor["handoff_id"] != reply.handoff_id or vendor["vendor_id"] != reply.vendor_id:
        raise RejectedReply(f"hand-off {reply.handoff_id} of vendor {reply.vendor_id} is not the current hand-off "
                            f"of ticket {reply.ticket_id}")
    if reply.reply_id in vendor["replies"]:
        return
    partner = ctx.policy.vendors.get(reply.vendor_id)
    vendor["replies"] = [*vendor["replies"], reply.reply_id]
    vendor["state"] = reply.kind
    vendor["last_reply_at"] = ctx.now
    vendor["answer_due_at"] = (ctx.now + partner.update if reply.kind != "resolved" and partner and partner.update
                               else None)
    fx.emit(VendorReplyReceived(**facts(doc), vendor_id=reply.vendor_id,
                                vendor_name=partner.name if partner else reply.vendor_id, handoff_id=reply.handoff_id,
                                reply_id=reply.reply_id, kind=reply.kind, note=reply.note, author=reply.author,
                                received_at=ctx.now))


