"""How each inbound event changes a ticket's clocks, and which triggers it fires (pure).

Every function takes the clock document (a dict the caller copied), mutates it and adds what is
owed to `fx`; the caller stores both in one guarded write.
"""

from __future__ import annotations

from typing import Any

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
    TicketReported,
    TicketTriaged,
)
from shared.contracts.escalation_events import VendorReply, VendorReplyReceived
from shared.contracts.lifecycle_events import (
    LifecycleEvent,
    TicketAcknowledged,
    TicketCommented,
    TicketFeedbackReceived,
    TicketStatusChanged,
)
from shared.contracts.triage_events import TicketReclassified
from shared.sla.clocks import (
    PAUSED,
    STOPPED,
    new_clock,
    pause,
    resume,
    retarget,
    span,
    stop,
)

AGENTS = ("agent", "admin")
PAGE_MESSAGE = "escalation_page"
"""The notifier's page to any role of the chain; other page messages (ticket_assigned) page the first contact only."""


class RejectedReply(ValueError):
    """A vendor reply that does not belong to a current hand-off; `reason` goes to the dead-letter queue."""


def _learn(doc: dict[str, Any], *, title: str | None = None, reporter: Any = None) -> None:
    """Fill in ticket facts escalation did not know yet (never overwrites the number escalation issued)."""
    if title and not doc.get("title"):
        doc["title"] = title
    if reporter is not None and not doc.get("reporter"):
        doc["reporter"] = reporter.model_dump(mode="json") if hasattr(reporter, "model_dump") else reporter


def on_reported(doc: dict[str, Any], event: TicketReported, ctx: Context, fx: Effects) -> None:
    """Remember the facts triggers need (type, production, component) and check the initial triggers."""
    _learn(doc, title=event.title, reporter=event.reporter)
    doc["facts"] = {"type": event.type.value, "production": event.production, "component": event.component,
                    "description": event.description[:2000], "reported_at": event.reported_at}
    initial_triggers(doc, ctx, fx)


def on_triaged(doc: dict[str, Any], event: TicketTriaged, ctx: Context, fx: Effects) -> None:
    """Start the response and resolution clocks from triage's due times (the first triage wins)."""
    if doc["triaged"]:
        return
    policy, now = ctx.policy, ctx.now
    _learn(doc, title=event.title, reporter=event.reporter)
    doc.update(triaged=True, severity=event.severity.value, tier=event.tier, team=event.team)
    paused_since = doc.get("paused_since")
    start = paused_since or now
    for name, due_at in (("response", event.response_due_at), ("resolution", event.resolution_due_at)):
        business = policy.is_business_time(event.severity.value, name)
        budget = span(event.reported_at, due_at, business, policy.calendar)
        doc["clocks"][name] = new_clock(start, due_at, budget, business, paused_since is not None, policy.calendar)
    if doc.get("first_response_at") is not None:
        stop(doc["clocks"]["response"], now, policy.calendar)
    if doc["status"] in FINISHED_STATUSES:
        stop(doc["clocks"]["resolution"], now, policy.calendar)
    if policy.pages_for(doc["severity"], doc["tier"]) and doc.get("first_response_at") is None:
        start_page_chain(doc, f"{doc['severity']} ticket at Tier {doc['tier']}", ctx)
    if doc["tier"] == 4:
        hand_to_vendor(doc, f"triaged to Tier 4 ({event.reason})", ctx, fx)
    initial_triggers(doc, ctx, fx)


def initial_triggers(doc: dict[str, Any], ctx: Context, fx: Effects) -> None:
    """Once both the report and triage are known, escalate for third-party, security or production causes."""
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


def agent_responded(doc: dict[str, Any], ctx: Context) -> None:
    """An agent responded: the hand-off clock is met and repeating pages stop."""
    handoff = doc["clocks"].get("handoff")
    if handoff is not None:
        stop(handoff, ctx.now, ctx.policy.calendar)
    stop_pages(doc)


def on_lifecycle(doc: dict[str, Any], event: LifecycleEvent, ctx: Context, fx: Effects) -> None:
    """Apply intake's lifecycle events: pauses, stops, reopenings, first response and feedback."""
    _learn(doc, title=event.title, reporter=event.reporter)
    if event.production is not None:
        doc.setdefault("facts", {})["production"] = event.production
    if isinstance(event, TicketStatusChanged):
        _status_changed(doc, event.from_status, event.status, ctx)
    elif isinstance(event, TicketAcknowledged):
        doc["first_response_at"] = doc.get("first_response_at") or event.first_response_at
        if "response" in doc["clocks"]:
            stop(doc["clocks"]["response"], ctx.now, ctx.policy.calendar)
    elif isinstance(event, TicketFeedbackReceived) and event.feedback == "still_has_issues":
        escalate(doc, "still_has_issues", f"the initial resolution attempt failed: {event.comment or 'still has issues'}",
                 ctx, fx)
    if event.actor.type in AGENTS and (not isinstance(event, TicketCommented) or event.visibility == "public"):
        agent_responded(doc, ctx)


def _status_changed(doc: dict[str, Any], before: str, after: str, ctx: Context) -> None:
    """Pause, resume, stop or restart the clocks for a status move; start or cancel auto-close."""
    now, calendar, clocks = ctx.now, ctx.policy.calendar, doc["clocks"]
    doc["status"] = after
    if after in PAUSED_STATUSES and doc.get("paused_since") is None:
        doc["paused_since"] = now
        for clock in clocks.values():
            pause(clock, now, calendar)
    if after not in PAUSED_STATUSES and doc.get("paused_since") is not None:
        doc["paused_seconds"] = float(doc.get("paused_seconds") or 0) + (now - doc["paused_since"]).total_seconds()
        doc["paused_since"] = None
        for clock in clocks.values():
            if clock["state"] == PAUSED:
                resume(clock, now, calendar)
    if after == "resolved":
        if "resolution" in clocks:
            stop(clocks["resolution"], now, calendar)
        days = ctx.policy.auto_close_business_days
        doc["auto_close"] = {"resolved_at": now, "business_days": days, "due_at": calendar.add_business_days(now, days)}
    elif before == "resolved":
        doc["auto_close"] = None
    if after == "closed":
        for clock in clocks.values():
            stop(clock, now, calendar)
        stop_pages(doc)
        doc["auto_close"] = None
    elif before in FINISHED_STATUSES and "resolution" in clocks:
        resume(clocks["resolution"], now, calendar)  # reopened: the resolution clock runs again


def on_reclassified(doc: dict[str, Any], event: TicketReclassified, ctx: Context, fx: Effects) -> None:
    """Replace the due times with the new severity's; escalate when triage marks it a trigger."""
    policy, now = ctx.policy, ctx.now
    doc["severity"] = event.severity.value
    if doc.get("tier") is None or event.tier >= doc["tier"]:
        doc.update(tier=event.tier, team=event.team)
    for name, due_at in (("response", event.response_due_at), ("resolution", event.resolution_due_at)):
        clock = doc["clocks"].get(name)
        if clock is None or clock["state"] == STOPPED:
            continue
        allowance = policy.sla.allowance(event.severity, name)
        budget = allowance.budget(policy.calendar).total_seconds() if allowance else clock["budget_seconds"]
        retarget(clock, now, due_at, budget, policy.is_business_time(event.severity.value, name), policy.calendar)
    if event.escalation_trigger:
        escalate(doc, "reclassified", f"{event.reason} (severity {event.old_severity.value} → {event.severity.value})",
                 ctx, fx)


def on_notification_failed(doc: dict[str, Any], event: NotificationFailed, ctx: Context, fx: Effects) -> None:
    """An undeliverable page goes to the next contact of the chain; past the last, the ticket escalates.

    A page goes out on several channels (pager and e-mail); their failures advance the chain once per
    page event and role, not once per failed delivery.
    """
    pages = ctx.policy.pages
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


