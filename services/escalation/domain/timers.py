"""Timers as data: which steps of a clock are due, what each does, and when the next falls due (pure).

A step is identified by a key recorded in `fired` in the same write that stores its events, so
each step fires once however often (or by however many replicas) the document is processed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.escalation.domain import oncall_pages
from services.escalation.domain.clock_moves import breached_before
from services.escalation.domain.effects import Context, Effects, facts
from services.escalation.domain.escalate import escalate, request_page
from services.escalation.domain.policy import EscalationPolicy
from shared.contracts.escalation_events import (
    SlaBreached,
    SlaWarning,
    TicketAutoCloseDue,
)
from shared.sla.clocks import steps
from shared.sla.policy import TARGETS

BREACH_TRIGGERS = {"response": "response_breached", "resolution": "resolution_breached"}


def pending(doc: dict[str, Any], policy: EscalationPolicy) -> list[tuple[datetime, str]]:
    """Return (when, key) of every step not fired yet, in time order."""
    fired = set(doc.get("fired", []))
    found: list[tuple[datetime, str]] = []
    for name in TARGETS:
        clock = doc.get("clocks", {}).get(name)
        if clock is not None and not breached_before(fired, name):
            found += [(step.at, step.key) for step in steps(name, clock, policy.warning_fractions, policy.calendar)]
    page = doc.get("page")
    if page and page.get("active") and page.get("next_at") is not None:
        found.append((page["next_at"], f"page.{page['id']}.repeat.{page['repeats'] + 1}"))
    found += oncall_pages.pending(doc)
    vendor = doc.get("vendor")
    if vendor and vendor.get("answer_due_at") is not None:
        found.append((vendor["answer_due_at"], f"vendor.{vendor['handoff_id']}.silent.{len(vendor['replies'])}"))
    auto_close = doc.get("auto_close")
    if auto_close and auto_close.get("due_at") is not None:
        found.append((auto_close["due_at"], f"autoclose.{auto_close['resolved_at'].isoformat()}"))
    # at the same instant warnings come before the breach they warn of
    return sorted((item for item in found if item[1] not in fired),
                  key=lambda item: (item[0], item[1].endswith(".breached"), item[1]))


def next_due_at(doc: dict[str, Any], policy: EscalationPolicy) -> datetime | None:
    """Return when the document next needs the timer loop, or None if it owes nothing."""
    waiting = pending(doc, policy)
    return waiting[0][0] if waiting else None


def fire_due(doc: dict[str, Any], ctx: Context, fx: Effects, limit: int = 50) -> list[str]:
    """Fire every step due at ctx.now in time order (a step may schedule others); return the keys fired."""
    fired: list[str] = []
    for _ in range(limit):
        due = [(at, key) for at, key in pending(doc, ctx.policy) if at <= ctx.now]
        if not due:
            break
        at, key = due[0]
        doc["fired"].append(key)
        fired.append(key)
        fx.steps.append((key, at))
        _fire(doc, key, ctx, fx)
    return fired


def _fire(doc: dict[str, Any], key: str, ctx: Context, fx: Effects) -> None:
    """Do what one step owes."""
    kind = key.split(".", 1)[0]
    if kind in TARGETS:
        _fire_clock_step(doc, key, ctx, fx)
    elif kind == "page":
        _repeat_page(doc, ctx, fx)
    elif kind == oncall_pages.KIND:
        oncall_pages.fire_timer(doc, key, ctx, fx)
    elif kind == "vendor":
        _vendor_silent(doc, ctx, fx)
    elif kind == "autoclose":
        auto_close = doc["auto_close"]
        fx.emit(TicketAutoCloseDue(**facts(doc), resolved_at=auto_close["resolved_at"],
                                   business_days=auto_close["business_days"], due_at=auto_close["due_at"]))
        doc["auto_close"] = {**auto_close, "due_at": None}


def _fire_clock_step(doc: dict[str, Any], key: str, ctx: Context, fx: Effects) -> None:
    """Warn, or report the breach and apply its trigger (response/resolution escalate, hand-off pages the lead)."""
    name = key.split(".", 1)[0]
    clock = doc["clocks"][name]
    step = next(s for s in steps(name, clock, ctx.policy.warning_fractions, ctx.policy.calendar) if s.key == key)
    if not step.is_breach:
        fx.emit(SlaWarning(**facts(doc), target=name, due_at=step.due_at, fraction=step.fraction, at=ctx.now))
        return
    fx.emit(SlaBreached(**facts(doc), target=name, due_at=step.due_at, at=ctx.now))
    if name in BREACH_TRIGGERS:
        escalate(doc, BREACH_TRIGGERS[name], f"the {name} target ({step.due_at.isoformat()}) was missed", ctx, fx)
    else:
        request_page(doc, "lead", f"nobody from {doc.get('team')} contacted the reporter within the hand-off time",
                     ctx, fx)


def _repeat_page(doc: dict[str, Any], ctx: Context, fx: Effects) -> None:
    """Page the current contact again; after max_repeats the chain stops."""
    pages, page = ctx.policy.pages, doc["page"]
    role = pages.contacts[min(int(page.get("contact", 0)), len(pages.contacts) - 1)]
    request_page(doc, role, f"page not acknowledged ({page['reason']})", ctx, fx)
    repeats = page["repeats"] + 1
    done = repeats >= pages.max_repeats
    doc["page"] = {**page, "repeats": repeats, "attempt": page["attempt"] + 1, "active": not done,
                   "next_at": None if done else page["next_at"] + pages.repeat}


def _vendor_silent(doc: dict[str, Any], ctx: Context, fx: Effects) -> None:
    """A vendor missed its agreed answer time: escalate internally."""
    vendor = doc["vendor"]
    partner = ctx.policy.vendors.get(vendor["vendor_id"])
    name = partner.name if partner else vendor["vendor_id"]
    doc["vendor"] = {**vendor, "state": "unresponsive", "answer_due_at": None}
    escalate(doc, "vendor_unresponsive", f"vendor {name} did not answer by {vendor['answer_due_at'].isoformat()}",
             ctx, fx)
