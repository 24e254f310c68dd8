"""Moving a ticket to another tier: new team, new number, hand-off clock, page chain, vendor hand-off (pure)."""

from __future__ import annotations

from typing import Any

from services.escalation.domain import oncall_pages
from services.escalation.domain.clock_moves import start_clock
from services.escalation.domain.effects import Context, Effects, facts
from shared.contracts.escalation_events import (
    EscalationPageRequested,
    TicketEscalated,
    VendorHandoff,
    VendorHandoffSent,
    VendorTicket,
    vendor_routing_key,
)


def escalate(doc: dict[str, Any], trigger: str, reason: str, ctx: Context, fx: Effects, *,
             to: int | None = None) -> bool:
    """Apply the policy's move for a trigger (or an agent's move `to` a higher tier); return True if the tier changed.

    At the top of the ladder nothing moves; the team lead is paged with the reason instead. An agent's
    move to a tier the ticket already reached (it moved meanwhile) changes nothing.
    """
    policy, now = ctx.policy, ctx.now
    from_tier = doc.get("tier")
    if from_tier is None:
        return False
    if to is not None:
        to_tier = to if to > from_tier else None
    else:
        to_tier = policy.target_tier(trigger, from_tier)
    if to_tier is None:
        if trigger in ("response_breached", "resolution_breached", "still_has_issues", "reclassified",
                       "page_undeliverable"):
            request_page(doc, "lead", f"{trigger.replace('_', ' ')} at Tier {from_tier}, the top tier: {reason}",
                         ctx, fx)
        return False
    new_number = ctx.take_number() if to_tier in policy.new_number_tiers else None
    from_team, previous = doc.get("team"), doc["number"]
    doc.update(tier=to_tier, team=policy.team_for(to_tier))
    if new_number:
        doc["previous_numbers"] = [*doc.get("previous_numbers", []), previous]
        doc["number"] = new_number
    allowance = policy.sla.handoff
    handoff_due_at = policy.sla.due_at(now, allowance)
    start_clock(doc, "handoff", now, handoff_due_at, allowance.budget(policy.calendar).total_seconds(),
                allowance.on_business_time, allowance.describe(), f"escalated to Tier {to_tier}", ctx, fx)
    doc["escalations"] = [*doc.get("escalations", []),
                          {"at": now, "from_tier": from_tier, "to_tier": to_tier, "trigger": trigger, "reason": reason}]
    vendor = policy.vendor_for(doc.get("facts", {}).get("component")) if to_tier == 4 else None
    oncall = ctx.oncall.policy_for(doc["team"], to_tier) if ctx.oncall is not None else None
    fx.emit(TicketEscalated(
        **facts(doc), from_tier=from_tier, to_tier=to_tier, from_team=from_team, trigger=trigger, reason=reason,
        previous_number=previous, new_number=new_number, handoff_due_at=handoff_due_at,
        vendor_id=vendor.id if vendor else None, escalated_at=now,
        oncall_policy=oncall.id if oncall is not None else None,
    ))
    start_page_chain(doc, f"escalated to Tier {to_tier}: {reason}", ctx, fx)
    if to_tier == 4:
        hand_to_vendor(doc, reason, ctx, fx)
    return True


def start_page_chain(doc: dict[str, Any], reason: str, ctx: Context, fx: Effects) -> None:
    """Start paging on-call until someone responds.

    Where the team has an on-call policy for the ticket's tier, its chain pages whoever is on call, step by
    step (first step now). Otherwise the static on_call role is paged again every `repeat` (the first page
    is the notifier's).
    """
    pages = ctx.policy.pages
    count = int((doc.get("page") or {}).get("seq", 0)) + 1
    oncall = ctx.oncall.policy_for(doc.get("team"), doc.get("tier")) if ctx.oncall is not None else None
    doc["page"] = {
        "id": f"{doc['_id']}-p{count}", "seq": count, "active": pages.max_repeats > 0 and oncall is None,
        "contact": 0, "attempt": 1, "repeats": 0, "next_at": ctx.now + pages.repeat, "reason": reason,
        "started_at": ctx.now,
    }
    oncall_pages.stop(doc)
    if oncall is not None:
        oncall_pages.start_chain(doc, oncall, doc["page"]["id"], reason, ctx, fx)


def request_page(doc: dict[str, Any], role: str, reason: str, ctx: Context, fx: Effects) -> None:
    """Owe a page to one role of the ticket's team now (the lead named by the team's on-call policy, if any)."""
    page = doc.get("page") or {}
    lead = oncall_pages.lead_of(doc, ctx) if role == "lead" else None
    fx.emit(EscalationPageRequested(
        **facts(doc), page_id=page.get("id") or f"{doc['_id']}-p0", role=role,
        attempt=int(page.get("attempt", 0)) + 1, max_attempts=ctx.policy.pages.max_repeats + 1,
        reason=reason, requested_at=ctx.now, people=[oncall_pages.paged_person(lead)] if lead else None,
    ))


def stop_pages(doc: dict[str, Any]) -> None:
    """Stop repeating pages and the on-call chain: someone responded."""
    if doc.get("page"):
        doc["page"] = {**doc["page"], "active": False, "next_at": None}
    oncall_pages.stop(doc)


def hand_to_vendor(doc: dict[str, Any], reason: str, ctx: Context, fx: Effects) -> None:
    """Owe the vendor a hand-off on incidents.vendor and start its answer clock."""
    ticket_facts = doc.get("facts", {})
    vendor = ctx.policy.vendor_for(ticket_facts.get("component"))
    if vendor is None:
        return
    count = int((doc.get("vendor") or {}).get("seq", 0)) + 1
    handoff_id = f"{doc['_id']}-v{count}"
    answer_due_at = ctx.now + vendor.answer
    message = VendorHandoff(
        handoff_id=handoff_id, vendor_id=vendor.id, ticket_id=doc["_id"],
        ticket=VendorTicket(number=doc["number"], title=doc.get("title") or doc["number"],
                            description=ticket_facts.get("description"), severity=doc.get("severity"),
                            component=ticket_facts.get("component"), reported_at=ticket_facts.get("reported_at")),
        reason=reason, answer_due_at=answer_due_at, reply_routing_key=vendor_routing_key(vendor.id, "reply"),
        sent_at=ctx.now,
    )
    routing_key = vendor_routing_key(vendor.id, "handoff")
    doc["vendor"] = {"seq": count, "vendor_id": vendor.id, "handoff_id": handoff_id, "state": "awaiting",
                     "answer_due_at": answer_due_at, "replies": [], "sent_at": ctx.now}
    fx.vendor_messages.append((routing_key, message))
    fx.emit(VendorHandoffSent(**facts(doc), vendor_id=vendor.id, vendor_name=vendor.name, handoff_id=handoff_id,
                              routing_key=routing_key, answer_due_at=answer_due_at, sent_at=ctx.now))
