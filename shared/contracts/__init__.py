"""Versioned event contracts shared by every service."""

from shared.contracts.envelope import ContractError, Envelope, make_envelope, parse_message
from shared.contracts.events import (
    NotificationDelivered,
    NotificationFailed,
    Reporter,
    TicketReported,
    TicketTriaged,
    payload_model,
)
from shared.contracts.vocabulary import IncidentType, Severity, TicketKind

__all__ = [
    "ContractError",
    "Envelope",
    "IncidentType",
    "NotificationDelivered",
    "NotificationFailed",
    "Reporter",
    "Severity",
    "TicketKind",
    "TicketReported",
    "TicketTriaged",
    "make_envelope",
    "parse_message",
    "payload_model",
]
