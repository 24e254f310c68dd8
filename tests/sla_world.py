"""Intake and escalation wired together in one process with a fake clock: one ticket's SLA end to end.

Agents and reporters act through intake's domain actions; the events intake owes go to escalation
through the wire format, and what escalation owes (clock changes, outcomes, warnings, breaches)
comes back to intake's handlers, as the bus would carry them. The metrics are intake's real SLA
metrics on a fresh registry, and the report is computed from the stored ticket.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from services.intake.adapters.sla_metrics import SlaObserver
from services.intake.domain import actions
from services.intake.domain.sla_report import sla_report
from services.intake.domain.tickets import new_ticket_document
from services.intake.domain.work_in_flight import count_work_in_flight
from services.intake.entrypoints.views import TicketView
from services.intake.service_layer.commands import perform
from services.intake.service_layer.event_handlers import handlers as intake_handlers
from shared.clock import FakeClock
from shared.contracts import Envelope, Reporter, Severity, Status, TicketReported, TicketTriaged, parse_message
from shared.contracts.lifecycle_events import Actor
from shared.messaging.topology import CONSUMER_QUEUES
from shared.sla_metrics import SlaMetrics
from tests.escalation_harness import Scenario
from tests.factories import escalation_policy
from tests.fakes import FakeTickets

AGENT = Actor(type="agent", id="a1", name="Ann Agent")
REPORTER = Actor(type="reporter", id="r1", name="Ada")
INTAKE_EVENTS = set(CONSUMER_QUEUES["intake"].routing_keys)
ESCALATION_EVENTS = set(CONSUMER_QUEUES["escalation"].routing_keys)


class SlaWorld:
    """One ticket, its intake record and escalation's clock record, driven by actions and a fake clock."""

    def __init__(self, start: datetime, severity: Severity, policy: Any = None) -> None:
        self.escalation = Scenario(policy=policy or escalation_policy(), start=start)
        self.clock: FakeClock = self.escalation.clock
        self.policy = self.escalation.policy
        self.tickets = FakeTickets()
        self.registry = CollectorRegistry()
        self.metrics = SlaMetrics.register(self.registry)
        self.intake = intake_handlers(self.tickets, self.clock, SlaObserver(self.metrics))
        self.severity = severity
        self.ticket_id = ""
        self.sent_to_escalation = 0
        self.sent_to_intake = 0

    async def open(self) -> str:
        """Report the ticket now and triage it with the packaged allowances of its severity."""
        now = self.clock.now()
        reporter = Reporter(id="r1", name="Ada", email="ada@example.com")
        reported = TicketReported(ticket_id="t-" + now.strftime("%H%M%S%f"), number="INC-000001", title="Export fails",
                                  description="CSV export returns 500", type="data", reporter=reporter, reported_at=now)
        self.ticket_id = reported.ticket_id
        document = new_ticket_document(ticket_id=reported.ticket_id, number=reported.number,
                                       fields={"title": reported.title, "description": reported.description,
                                               "type": "data", "kind": "incident"},
                                       reporter=reporter.model_dump(mode="json"), now=now, outbox=[])
        await self.tickets.insert(document)
        self.escalation.ticket_id = reported.ticket_id
        deadlines = self.policy.sla.deadlines(self.severity, now)
        allowances = self.policy.sla.allowances[self.severity]
        triaged = TicketTriaged(ticket_id=reported.ticket_id, number=reported.number, title=reported.title,
                                severity=self.severity, rule="test", reason="test", tier=2, team="technical-support",
                                reported_at=now, acknowledge_due_at=deadlines.acknowledge_due_at,
                                response_due_at=deadlines.response_due_at,
                                resolution_due_at=deadlines.resolution_due_at,
                                response_target=allowances.response.describe(), reporter=reporter,
                                type=reported.type, description=reported.description)
        await self._to_intake(triaged)
        await self.escalation.send(triaged)
        await self.pump()
        return self.ticket_id

    async def _to_intake(self, payload: Any) -> None:
        from shared.contracts import make_envelope

        envelope = make_envelope(payload, producer="test", occurred_at=self.clock.now(), ticket_id=self.ticket_id)
        envelope, payload = parse_message(envelope.to_bytes())
        await self.intake[envelope.event_type](envelope, payload)

    async def pump(self) -> None:
        """Carry every event owed so far between intake and escalation until both are quiet."""
        while True:
            ticket = self.tickets.documents[self.ticket_id]
            owed_by_intake = ticket["outbox"][self.sent_to_escalation:]
            owed_by_escalation = self.escalation.store.events()[self.sent_to_intake:]
            if not owed_by_intake and not owed_by_escalation:
                return
            self.sent_to_escalation += len(owed_by_intake)
            self.sent_to_intake += len(owed_by_escalation)
            for raw in owed_by_intake:
                if raw["event_type"] in ESCALATION_EVENTS:
                    envelope, payload = parse_message(Envelope.model_validate(raw).to_bytes())
                    await self.escalation.handlers[envelope.event_type](envelope, payload)
            for raw in owed_by_escalation:
                if raw["event_type"] in INTAKE_EVENTS:
                    envelope, payload = parse_message(Envelope.model_validate(raw).to_bytes())
                    await self.intake[envelope.event_type](envelope, payload)

    async def at(self, delta: timedelta) -> list[str]:
        """Fast-forward to start + delta, let escalation's timers fire and carry the results; return steps fired."""
        fired = await self.escalation.at(delta)
        await self.pump()
        return fired

    async def act(self, decide, *args: Any) -> None:
        """Apply an intake action (actions.<name>(ticket, actor, now, *args)) and carry what it owes."""
        ticket = await self.tickets.get(self.ticket_id)
        await perform(decide(ticket, *args[:1], self.clock.now(), *args[1:]), tickets=self.tickets)
        await self.pump()

    async def acknowledge(self) -> None:
        """An agent takes the ticket up (first response)."""
        await self.act(actions.acknowledge, AGENT)

    async def ask_reporter(self) -> None:
        """An agent asks the reporter for information (Waiting for Info)."""
        await self.act(actions.change_status, AGENT, Status.WAITING_FOR_INFO, "Which report fails?")

    async def hold(self) -> None:
        """An agent puts the ticket On Hold (waiting for a vendor)."""
        await self.act(actions.change_status, AGENT, Status.ON_HOLD, "waiting for the vendor")

    async def work(self) -> None:
        """An agent moves the ticket back to In Progress."""
        await self.act(actions.change_status, AGENT, Status.IN_PROGRESS, "back on it")

    async def answer(self) -> None:
        """The reporter answers (their comment resumes work)."""
        await self.act(actions.comment, REPORTER, "The monthly sales report.", False)

    async def resolve(self) -> None:
        """An agent proposes a solution."""
        await self.act(actions.resolve, AGENT, "Restarted the export worker.")

    async def feedback(self, answer: str) -> None:
        """The reporter answers the resolution."""
        await self.act(actions.give_feedback, REPORTER, answer, "still failing" if answer != "confirmed_fixed" else None)

    def ticket(self) -> dict[str, Any]:
        """Return intake's stored ticket."""
        return self.tickets.documents[self.ticket_id]

    def view(self, *, staff: bool = True) -> TicketView:
        """Return the ticket as the API shows it now."""
        return TicketView.from_document({**self.ticket()}, include_internal=staff, now=self.clock.now(),
                                        calendar=self.policy.calendar)

    def escalation_clocks(self) -> dict[str, Any]:
        """Return escalation's clocks of the ticket."""
        return self.escalation.doc()["clocks"]

    def report(self) -> dict[str, Any]:
        """Return the report row of the ticket's severity."""
        return next(row for row in sla_report([self.ticket()]) if row.severity == self.severity.value).__dict__

    def counter(self, target: str, outcome: str) -> float:
        """Return intake's counter of a target's outcomes for the ticket's severity."""
        return self.registry.get_sample_value(f"incidents_sla_{target}_total",
                                              {"severity": self.severity.value, "outcome": outcome}) or 0.0

    def histogram_sum(self, target: str) -> float:
        """Return the sum of intake's elapsed-time histogram of a target for the ticket's severity."""
        name = "incidents_time_to_first_response_seconds" if target == "response" else "incidents_time_to_resolution_seconds"
        return self.registry.get_sample_value(f"{name}_sum", {"severity": self.severity.value}) or 0.0

    def gauges(self) -> Any:
        """Return the work-in-flight counts of the ticket now."""
        return count_work_in_flight([self.ticket()], self.clock.now(), self.policy.calendar,
                                    self.policy.sla.at_risk_fraction)

    def breaches(self, target: str | None = None) -> list[dict[str, Any]]:
        """Return the sla.breached events escalation owed."""
        return [e for e in self.escalation.events("sla.breached") if target is None or e["target"] == target]
