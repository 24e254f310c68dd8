"""A fake-clock harness for escalation scenarios: feed events, fast-forward, read what was owed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.escalation.domain.policy import EscalationPolicy
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers
from shared.clock import FakeClock
from shared.contracts import Reporter, make_envelope, parse_message
from shared.contracts.lifecycle_events import (
    Actor,
    TicketAcknowledged,
    TicketCommented,
    TicketFeedbackReceived,
    TicketStatusChanged,
)
from tests.factories import REPORTED_AT, escalation_policy, reported, triaged
from tests.fakes_escalation import FakeClocks

AGENT = Actor(type="agent", id="a1", name="Ann Agent")
REPORTER = Actor(type="reporter", id="r1", name="Ada")


class Scenario:
    """One ticket's clocks driven by events and a fake clock."""

    def __init__(self, policy: EscalationPolicy | None = None, start: datetime = REPORTED_AT, oncall=None) -> None:
        self.start = start
        self.clock = FakeClock(start)
        self.store = FakeClocks()
        self.policy = policy or escalation_policy()
        self.work = ClockUpdater(self.store, self.policy, self.clock, oncall=oncall)
        self.timers = TimerLoop(self.work, self.store, self.clock, poll_seconds=0)
        self.handlers = handlers(self.work)
        self.ticket_id: str | None = None
        self.seen = 0

    async def send(self, payload: Any) -> None:
        """Deliver one event to escalation, as the consumer would (through the wire format)."""
        envelope = make_envelope(payload, producer="test", occurred_at=self.clock.now(), ticket_id=payload.ticket_id)
        envelope, payload = parse_message(envelope.to_bytes())
        await self.handlers[envelope.event_type](envelope, payload)

    async def open(self, *, report: dict | None = None, **triage: Any) -> str:
        """Report and triage a ticket now; return its id."""
        event = reported(reported_at=self.clock.now(), **(report or {}))
        self.ticket_id = event.ticket_id
        facts = {"type": event.type, "production": event.production, "component": event.component,
                 "description": event.description}
        values = {"ticket_id": event.ticket_id, "reported_at": self.clock.now(), **facts,
                  "acknowledge_due_at": self.clock.now() + timedelta(hours=1),
                  "response_due_at": self.clock.now() + timedelta(hours=1),
                  "resolution_due_at": self.clock.now() + timedelta(hours=8), **triage}
        await self.send(triaged(**values))
        return event.ticket_id

    async def at(self, delta: timedelta) -> list[str]:
        """Fast-forward to start + delta and run the timer loop once; return the step keys fired."""
        self.clock.set(self.start + delta)
        return await self.timers.run_once()

    def doc(self) -> dict[str, Any]:
        """Return the ticket's clock document."""
        return self.store.clocks[self.ticket_id]

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Return the payloads owed so far, optionally of one type."""
        return [e["payload"] for e in self.store.events(event_type)]

    def new_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Return (type, payload) of events owed since the last call."""
        found = self.store.events()[self.seen:]
        self.seen += len(found)
        return [(e["event_type"], e["payload"]) for e in found]

    def change(self, cls, actor: Actor = AGENT, status: str = "in_progress", **extra: Any):
        """Return a lifecycle event of intake about this ticket, happening now."""
        return cls(ticket_id=self.ticket_id, number=self.doc()["number"], title="Cannot log in", actor=actor,
                   at=self.clock.now(), status=status, reporter=Reporter(id="r1", name="Ada"), **extra)

    async def move(self, before: str, after: str, actor: Actor = AGENT) -> None:
        """Send ticket.status_changed before -> after."""
        await self.send(self.change(TicketStatusChanged, actor, after, from_status=before))

    async def acknowledge(self) -> None:
        """Send intake's first-response event."""
        await self.send(self.change(TicketAcknowledged, first_response_at=self.clock.now()))

    async def comment(self, visibility: str = "public", actor: Actor = AGENT) -> None:
        """Send a comment by actor."""
        await self.send(self.change(TicketCommented, actor, visibility=visibility, body="hello"))

    async def feedback(self, feedback: str) -> None:
        """Send the reporter's feedback on a resolution."""
        await self.send(self.change(TicketFeedbackReceived, REPORTER, feedback=feedback, comment="still broken"))
