import json
from datetime import UTC, datetime

import pytest

from shared.contracts import ContractError, TicketReported, parse_message
from shared.contracts import events as events_module
from tests.factories import envelope_for, reported


def test_envelope_round_trips_with_typed_payload():
    envelope = envelope_for(reported())
    parsed, payload = parse_message(envelope.to_bytes())
    assert parsed == envelope
    assert isinstance(payload, TicketReported)
    assert payload.reported_at.tzinfo is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"event_type": "ticket.reported"}', "bad envelope: event_id: Field required"),
    ],
)
def test_malformed_bodies_name_what_is_wrong(body, reason):
    with pytest.raises(ContractError) as caught:
        parse_message(body)
    assert caught.value.reason.startswith(reason)


def _raw(**changes):
    raw = json.loads(envelope_for(reported()).to_bytes())
    raw.update(changes)
    return json.dumps(raw).encode()


def test_unknown_event_type_or_version_is_rejected():
    with pytest.raises(ContractError, match="unknown event ticket.reported v9"):
        parse_message(_raw(event_version=9))


def test_naive_occurred_at_is_rejected():
    with pytest.raises(ContractError, match="occurred_at"):
        parse_message(_raw(occurred_at="2026-01-05T09:00:00"))


def test_extra_envelope_fields_are_rejected():
    with pytest.raises(ContractError, match="Extra inputs"):
        parse_message(_raw(surprise=1))


def test_bad_payload_names_the_field():
    raw = json.loads(_raw())
    raw["payload"]["type"] = "weather"
    with pytest.raises(ContractError, match="bad payload for ticket.reported v1: type"):
        parse_message(json.dumps(raw).encode())


def test_upcaster_lifts_an_old_version(monkeypatch):
    raw = json.loads(_raw())
    # pretend v1 is old and v2 renamed nothing but is the current contract
    monkeypatch.setitem(events_module.UPCASTERS, ("ticket.reported", 1), lambda p: {**p, "title": p["title"] + "!"})
    monkeypatch.setitem(events_module.CONTRACTS, ("ticket.reported", 2), TicketReported)
    envelope, payload = parse_message(json.dumps(raw).encode())
    assert envelope.event_version == 2
    assert payload.title.endswith("!")


def test_payload_ignores_unknown_optional_fields_for_forward_compatibility():
    raw = json.loads(_raw())
    raw["payload"]["added_in_a_later_minor"] = True
    _, payload = parse_message(json.dumps(raw).encode())
    assert payload.reported_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
