"""Alerts in: Alertmanager notifications and Events API events become tickets, once, whatever the retries.

Each source key has one record (domain/alert_groups.py). A request reads it and the ticket it
names, lets the domain plan the change, and stores it by claiming the record (insert with a unique
`_id`) or by compare-and-set on its revision; then it brings the ticket in line with the record. A
retry, a duplicate notification or a concurrent request finds the record already changed and the
ticket already in line, so nothing happens twice; a crash between the two writes is finished by the
next request for the same key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.intake.adapters.source_records import SourceRecords
from services.intake.adapters.tickets import Tickets
from services.intake.domain.alert_groups import (
    Notification,
    Plan,
    alert_summary,
    group_id,
    plan_alertmanager,
    plan_event,
    sync_ticket,
    ticket_finished,
)
from services.intake.domain.alert_reports import alertmanager_fields, event_fields
from services.intake.domain.events_v2 import Event
from services.intake.domain.integrations import Integration
from services.intake.domain.source_actions import ACKNOWLEDGED, TRIGGERED
from services.intake.service_layer.commands import ConcurrentChange, perform, report_ticket
from shared.clock import Clock
from shared.contracts import format_number
from shared.ids import new_id
from shared.locks import KeyedLocks

ATTEMPTS = 10
KEY_SHOWN = 1000
"""Characters of a group key or dedup key kept for people to read (the record's `_id` hashes the whole key)."""


@dataclass
class AlertsIn:
    """What receiving alerts needs: the source records, the tickets, the clock, the number prefix, and per-record
    locks (requests for one key in this process take turns; other processes are kept out by compare-and-set)."""

    groups: SourceRecords
    tickets: Tickets
    clock: Clock
    prefix: str
    locks: KeyedLocks
    defer: Callable[[Callable[[], Awaitable[Any]]], None] | None = None
    """Runs work after the answer (a repeat's note on its ticket); None runs it at once. The record holds the
    count either way, so a note lost to a crash is written with the next one."""
    ticket_of: dict[str, str] = field(default_factory=dict)
    """record id -> the ticket it last named, so a repeat reads the ticket while it counts (checked after)."""

    def remember(self, record_id: str, ticket_id: str) -> None:
        """Remember which ticket a record names (bounded: forgotten wholesale past 100,000 records)."""
        if len(self.ticket_of) > 100_000:
            self.ticket_of.clear()
        self.ticket_of[record_id] = ticket_id


@dataclass(frozen=True)
class Outcome:
    """What became of a notification or event: the ticket it went to (if any) and what was done."""

    action: str
    ticket: dict[str, Any] | None = None
    key: str = ""
    reason: str = ""


async def receive_notification(integration: Integration, notification: Notification, deps: AlertsIn) -> Outcome:
    """Apply an Alertmanager notification to its group's record and ticket; return the outcome."""
    record_id = group_id(integration.id, notification.group_key)
    window = timedelta(minutes=integration.reopen_minutes)

    def plan(group: dict[str, Any] | None, ticket: dict[str, Any] | None, now: datetime) -> Plan:
        return plan_alertmanager(group, ticket, notification, window, now)

    def fields(group: dict[str, Any]) -> dict[str, Any]:
        found = alertmanager_fields(integration, notification, group["alerts"], notification.group_key[:KEY_SHOWN])
        summary = {key.split(".", 1)[1]: value for key, value in alert_summary(group["alerts"]).items()}
        found["source"].update(summary)
        return found

    return await _receive(integration, record_id, notification.group_key, plan, fields, "", deps)


async def receive_event(integration: Integration, event: Event, deps: AlertsIn) -> Outcome:
    """Apply an Events API event to its dedup key's record and ticket; return the outcome (with the dedup key)."""
    dedup_key = event.dedup_key or new_id()  # a trigger without one always opens a new alert, as PagerDuty's does

    def plan(group: dict[str, Any] | None, ticket: dict[str, Any] | None, now: datetime) -> Plan:
        return plan_event(group, ticket, event.action, now)

    def fields(group: dict[str, Any]) -> dict[str, Any]:
        found = event_fields(integration, event, dedup_key[:KEY_SHOWN])
        found["source"]["events"] = 1
        return found

    record_id = group_id(integration.id, dedup_key)
    repeat = event.action == "trigger" and event.dedup_key is not None
    if repeat and deps.defer is not None:  # a repeat of an open key: one atomic count, no waiting for the key's turn
        repeated = await _repeat(integration, record_id, fields, event.summary or "", deps)
        if repeated is not None:
            return Outcome("update", repeated, dedup_key)
    async with deps.locks.hold(record_id):
        async def as_repeat() -> dict[str, Any] | None:
            return await _repeat(integration, record_id, fields, event.summary or "", deps) if repeat else None

        if (repeated := await as_repeat()) is not None:  # the key may have opened while this waited its turn
            return Outcome("update", repeated, dedup_key)
        outcome = await _receive(integration, record_id, dedup_key, plan, fields, event.summary or event.action, deps,
                                 on_lost_race=as_repeat)
    return Outcome(outcome.action, outcome.ticket, dedup_key, outcome.reason)


async def _repeat(integration: Integration, record_id: str, fields: Callable[[dict[str, Any]], dict[str, Any]],
                  latest: str, deps: AlertsIn) -> dict[str, Any] | None:
    """Add a trigger to its open dedup key in one atomic write; return the ticket, or None if the key is not
    open (or its ticket is finished: then the general path opens a new one, replacing the count just added).

    With deferred notes this runs beside other requests for the key, so the note reads the record again
    when it runs (notes may run in another order than their counts) and waits for the key's turn: a
    ticket still being created by the request that opened the key gets the note once it exists.
    """
    known_ticket = deps.ticket_of.get(record_id)
    bumped, read = await asyncio.gather(  # the ticket is read while the count is written (its id rarely changes)
        deps.groups.bump(record_id, [TRIGGERED, ACKNOWLEDGED], {"updated_at": deps.clock.now()}),
        deps.tickets.get(known_ticket) if known_ticket else asyncio.sleep(0))
    after: dict[str, Any] | None = bumped
    if after is None:
        return None
    deps.remember(record_id, after["ticket_id"])
    ticket = read if known_ticket == after["ticket_id"] else await deps.tickets.get(after["ticket_id"])
    if ticket_finished(ticket):
        return None
    if deps.defer is None:
        return await _ticket_in_line(integration, after, fields, latest, deps, known=ticket)

    async def note_later() -> None:
        async with deps.locks.hold(record_id):  # after a creation in progress; other notes of the key in turn
            group = await deps.groups.get(record_id)
            if group is not None and group["ticket_id"] == after["ticket_id"]:
                await _ticket_in_line(integration, group, fields, latest, deps)

    if ticket is None or sync_ticket(ticket, after, integration.actor, deps.clock.now(),
                                     resolve=integration.resolve_by_source, latest=latest) is not None:
        deps.defer(note_later)
    return ticket if ticket is not None else {"_id": after["ticket_id"], "number": after["number"]}


async def _receive(integration: Integration, record_id: str, key: str,
                   plan: Callable[[dict[str, Any] | None, dict[str, Any] | None, datetime], Plan],
                   fields: Callable[[dict[str, Any]], dict[str, Any]], latest: str, deps: AlertsIn,
                   on_lost_race: Callable[[], Awaitable[dict[str, Any] | None]] | None = None) -> Outcome:
    """Plan and store the change of one source record, then bring its ticket in line (see the module docstring).

    A request that loses the record to another first tries `on_lost_race` (a repeat trigger counts itself
    atomically, where planning again could lose to a stream of such counts each time).
    """
    async with deps.locks.hold(record_id):
        for _ in range(ATTEMPTS):
            group = await deps.groups.get(record_id)
            ticket = await deps.tickets.get(group["ticket_id"]) if group is not None else None
            now = deps.clock.now()
            decided = plan(group, ticket, now)
            if decided.action == "ignore":
                return Outcome("ignored", ticket, key, decided.reason)
            after = group if decided.action == "unchanged" else await _store(
                integration, record_id, key, group, decided, now, deps)
            if after is None:  # another request changed the record first
                if on_lost_race is not None and (repeated := await on_lost_race()) is not None:
                    return Outcome("update", repeated, key)
                continue  # plan again on what it wrote
            deps.remember(record_id, after["ticket_id"])
            same = ticket if ticket is not None and ticket["_id"] == after["ticket_id"] else None
            ticket = await _ticket_in_line(integration, after, fields, latest, deps, known=same)
            return Outcome(decided.action, ticket, key)
    raise ConcurrentChange(f"the record of {key[:80]!r} kept changing; retry")


async def _store(integration: Integration, record_id: str, key: str, group: dict[str, Any] | None, decided: Plan,
                 now: datetime, deps: AlertsIn) -> dict[str, Any] | None:
    """Store the planned change; return the record after, or None if another request changed it first."""
    if decided.action not in ("open", "renew"):
        return await deps.groups.change(record_id, group["rev"], {**decided.fields, "updated_at": now})
    number = format_number(deps.prefix, await deps.tickets.next_sequence())
    claim = {"ticket_id": new_id(), "number": number, "generation": (group or {}).get("generation", 0) + 1,
             "opened_at": now, "updated_at": now, "resolved_at": None, "reopened_at": None, "events": 0,
             "alerts": [], **decided.fields}
    if group is None:
        document = {"_id": record_id, "integration_id": integration.id, "kind": integration.kind.value,
                    "key": key[:KEY_SHOWN], **claim}
        return {**document, "rev": 0} if await deps.groups.claim(document) else None
    return await deps.groups.change(record_id, group["rev"], claim)


async def _ticket_in_line(integration: Integration, group: dict[str, Any],
                          fields: Callable[[dict[str, Any]], dict[str, Any]], latest: str,
                          deps: AlertsIn, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the group's ticket after making it agree with the record (creating it from its claim if needed)."""
    ticket = known if known is not None else await deps.tickets.get(group["ticket_id"])
    if ticket is None:
        opening = fields(group)
        opening["source"].update(state=group["state"], group_id=group["_id"], generation=group["generation"])
        ticket = await report_ticket(opening, integration.reporter, tickets=deps.tickets, clock=deps.clock,
                                     prefix=deps.prefix, claimed=(group["ticket_id"], group["number"]))
    for _ in range(ATTEMPTS):
        update = sync_ticket(ticket, group, integration.actor, deps.clock.now(),
                             resolve=integration.resolve_by_source, latest=latest)
        if update is None:
            return ticket
        try:
            return await perform(update, tickets=deps.tickets)
        except ConcurrentChange:
            fresh = await deps.tickets.get(group["ticket_id"])
            if fresh is None:
                raise LookupError(f"ticket {group['ticket_id']} disappeared") from None
            ticket = fresh
    raise ConcurrentChange(f"ticket {ticket['number']} kept changing; retry")
