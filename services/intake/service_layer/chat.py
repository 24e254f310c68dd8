"""Slack in: a mention or `/incident` opens one ticket per Slack request, however often Slack retries it.

The request's own id (the Events API `event_id`, or the slash command's `trigger_id`) is the `_id`
of a record that claims the ticket's id and number before the ticket is written: Slack's retries
find the record and the same ticket, and a crash in between is finished by the retry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from services.intake.adapters.source_records import SourceRecords
from services.intake.adapters.tickets import Tickets
from services.intake.domain.chat import ChatReport, chat_fields, chat_reporter
from services.intake.domain.integrations import Integration
from services.intake.service_layer.commands import report_ticket
from shared.clock import Clock
from shared.contracts import format_number
from shared.ids import new_id
from shared.locks import KeyedLocks

SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@dataclass
class ChatIn:
    """What Slack intake needs."""

    requests: SourceRecords
    tickets: Tickets
    clock: Clock
    prefix: str
    locks: KeyedLocks


@dataclass(frozen=True)
class ChatOutcome:
    """The ticket a Slack request opened; `first` is False for a retry of a request already handled."""

    ticket: dict[str, Any]
    first: bool
    record: dict[str, Any]


def request_record_id(integration_id: str, request_id: str) -> str:
    """Return the `_id` of a Slack request's record (ids that are not plain are hashed)."""
    safe = request_id if SAFE_ID.match(request_id) else hashlib.sha256(request_id.encode()).hexdigest()[:40]
    return f"{integration_id}:{safe}"


async def report_from_chat(integration: Integration, report: ChatReport, request_id: str,
                           deps: ChatIn) -> ChatOutcome:
    """Open the ticket a Slack request asks for, once per request id; return it."""
    record_id = request_record_id(integration.id, request_id)
    async with deps.locks.hold(record_id):
        record = await deps.requests.get(record_id)
        first = False
        if record is None:
            claim = {"_id": record_id, "integration_id": integration.id, "ticket_id": new_id(),
                     "number": format_number(deps.prefix, await deps.tickets.next_sequence()),
                     "received_at": deps.clock.now(), "channel_id": report.channel_id, "ts": report.ts}
            first = await deps.requests.claim(claim)
            record = {**claim, "rev": 0} if first else await deps.requests.get(record_id)
            if record is None:
                raise LookupError(f"Slack request record {record_id} vanished")
        ticket = await report_ticket(chat_fields(integration, report), chat_reporter(report), tickets=deps.tickets,
                                     clock=deps.clock, prefix=deps.prefix,
                                     claimed=(record["ticket_id"], record["number"]))
    return ChatOutcome(ticket, first, record)
