"""Builders of valid contract payloads for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts import (
    IncidentType,
    Reporter,
    Severity,
    TicketReported,
    TicketTriaged,
    make_envelope,
)
from shared.contracts.sla_events import SlaClock, SlaClockChanged
from shared.ids import new_id

REPORTED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def reported(**overrides: Any) -> TicketReported:
    """Return a valid ticket.reported payload with overrides applied."""
    values: dict[str, Any] = {
        "ticket_id": new_id(),
        "number": "INC-000001",
        "title": "Cannot log in",
        "description": "The login page says my account is locked.",
        "type": IncidentType.ACCESS,
        "reported_severity": Severity.MEDIUM,
        "reporter": Reporter(id="r1", name="Ada", email="ada@example.com"),
        "reported_at": REPORTED_AT,
    }
    values.update(overrides)
    return TicketReported(**values)


def triaged(**overrides: Any) -> TicketTriaged:
    """Return a valid ticket.triaged payload with overrides applied."""
    values: dict[str, Any] = {
        "ticket_id": new_id(),
        "number": "INC-000001",
        "title": "Cannot log in",
        "reported_severity": Severity.MEDIUM,
        "severity": Severity.HIGH,
        "rule": "reporter",
        "reason": "test",
        "tier": 1,
        "team": "service-desk",
        "reported_at": REPORTED_AT,
        "acknowledge_due_at": REPORTED_AT + timedelta(hours=1),
        "response_due_at": REPORTED_AT + timedelta(hours=1),
        "resolution_due_at": REPORTED_AT + timedelta(hours=8),
        "response_target": "1 hour",
        "reporter": Reporter(id="r1", name="Ada", email="ada@example.com"),
    }
    values.update(overrides)
    return TicketTriaged(**values)


def clock_changed(**overrides: Any) -> SlaClockChanged:
    """Return a valid sla.clock_changed payload (the response clock started) with overrides applied."""
    clock = SlaClock(state="running", gen=1, business=False, budget_seconds=3600.0, anchor_at=REPORTED_AT,
                     remaining_seconds=3600.0, due_at=REPORTED_AT + timedelta(hours=1), allowance="1 hour")
    values: dict[str, Any] = {"ticket_id": new_id(), "number": "INC-000001", "target": "response",
                              "change": "started", "clock": clock, "reason": "triaged", "changed_at": REPORTED_AT}
    values.update(overrides)
    return SlaClockChanged(**values)


def envelope_for(payload, producer: str = "test"):
    """Return an envelope around a payload, keyed by its ticket_id."""
    return make_envelope(payload, producer=producer, occurred_at=REPORTED_AT, ticket_id=payload.ticket_id)


def triage_policy(rules_file=None):
    """Return the triage policy of the packaged rules (or rules_file) over the packaged service levels."""
    from services.triage.adapters.rules_file import load_rules
    from shared.sla.config import load_service_levels

    return load_rules(load_service_levels(), rules_file)


def escalation_policy():
    """Return the packaged escalation policy over the packaged service levels."""
    from services.escalation.adapters.policy_file import load_policy
    from shared.sla.config import load_service_levels

    return load_policy(load_service_levels())
