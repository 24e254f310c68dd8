"""Versioned event contracts shared by every service."""

from shared.contracts.addresses import EmailAddress, parse_email_address
from shared.contracts.envelope import (
    ContractError,
    Envelope,
    make_envelope,
    parse_message,
)
from shared.contracts.events import (
    NotificationDelivered,
    NotificationFailed,
    Reporter,
    TicketReported,
    TicketTriaged,
    payload_model,
)
from shared.contracts.vocabulary import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    PAUSED_STATUSES,
    TICKET_NUMBER_PATTERN,
    IncidentType,
    Severity,
    Status,
    TicketKind,
    format_number,
)

__all__ = [
    "FINISHED_STATUSES",
    "OPEN_STATUSES",
    "PAUSED_STATUSES",
    "TICKET_NUMBER_PATTERN",
    "ContractError",
    "EmailAddress",
    "Envelope",
    "IncidentType",
    "NotificationDelivered",
    "NotificationFailed",
    "Reporter",
    "Severity",
    "Status",
    "TicketKind",
    "TicketReported",
    "TicketTriaged",
    "format_number",
    "make_envelope",
    "parse_email_address",
    "parse_message",
    "payload_model",
]
