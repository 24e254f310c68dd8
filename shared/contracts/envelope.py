"""The event envelope every message on the bus travels in, and its strict parser."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.ids import new_id

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


class ContractError(ValueError):
    """A message that does not satisfy its contract; `reason` says why, for the dead-letter queue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Envelope(BaseModel):
    """Metadata around one event; the payload is validated against the (type, version) contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(pattern=ULID_PATTERN)
    event_type: str = Field(min_length=1, max_length=100, pattern=r"^[a-z_]+(\.[a-z_]+)+$")
    event_version: int = Field(ge=1, le=1000)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=100)
    correlation_id: str = Field(min_length=1, max_length=100)
    ticket_id: str | None = Field(default=None, max_length=100)
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        """Return the JSON wire form."""
        return self.model_dump_json().encode("utf-8")

    def to_document(self) -> dict[str, Any]:
        """Return a BSON-friendly dict (datetimes stay datetimes) for an outbox."""
        return self.model_dump(mode="python")


def make_envelope(
    payload: BaseModel,
    *,
    producer: str,
    occurred_at: datetime,
    ticket_id: str | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """Return a new envelope for a contract payload; its type and version come from the payload class."""
    event_id = new_id()
    return Envelope(
        event_id=event_id,
        event_type=payload.EVENT_TYPE,  # type: ignore[attr-defined]
        event_version=payload.EVENT_VERSION,  # type: ignore[attr-defined]
        occurred_at=occurred_at,
        producer=producer,
        correlation_id=correlation_id or event_id,
        ticket_id=ticket_id,
        payload=payload.model_dump(mode="json"),
    )


def parse_message(body: bytes) -> tuple[Envelope, BaseModel]:
    """Return the envelope and its typed payload, or raise ContractError naming what is wrong."""
    from shared.contracts.events import payload_model, upcast
    from shared.contracts.json_body import load_json_object

    raw = load_json_object(body)
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(f"bad envelope: {_first_errors(exc)}") from exc
    envelope = upcast(envelope)
    model = payload_model(envelope.event_type, envelope.event_version)
    if model is None:
        raise ContractError(f"unknown event {envelope.event_type} v{envelope.event_version}")
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise ContractError(
            f"bad payload for {envelope.event_type} v{envelope.event_version}: {_first_errors(exc)}"
        ) from exc
    return envelope, payload


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    """Return a short human summary of the first validation errors."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
