"""Bodies anyone on the bus may have written decode to a JSON object or to a reason, never to a crash."""

from __future__ import annotations

import pytest

from shared.contracts import ContractError, parse_message
from shared.contracts.json_body import MAX_BODY_BYTES, load_json_object
from tests.factories import envelope_for, reported

POISON = {
    "nested arrays": (b"[" * 1000, "nested deeper than 32 levels"),
    "nested arrays, closed": (b"[" * 1000 + b"]" * 1000, "nested deeper than 32 levels"),
    "nested objects": (b'{"a":' * 1000 + b"1" + b"}" * 1000, "nested deeper than 32 levels"),
    "deep inside an envelope": (b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
    "not UTF-8": (b'{"a": "\xff"}', "body is not UTF-8"),
    "UTF-16": ('{"a": 1}'.encode("utf-16"), "body is not UTF-8"),
    "not JSON": (b"{not json", "body is not JSON"),
    "empty": (b"", "body is not JSON"),
    "an array": (b"[1, 2]", "not a JSON object but a JSON array"),
    "a string": (b'"text"', "not a JSON object but a JSON string"),
    "null": (b"null", "not a JSON object but a JSON null"),
    "a 5,000-digit integer": (b'{"a": ' + b"9" * 5000 + b"}", "body is not JSON: Exceeds the limit"),
    "NaN": (b'{"a": NaN}', "body holds NaN"),
    "Infinity": (b'{"a": -Infinity}', "body holds -Infinity"),
    "a lone surrogate": (b'{"a": "\\udc00"}', "lone surrogate"),
    "huge": (b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}', f"the limit is {MAX_BODY_BYTES}"),
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_body_that_cannot_be_an_event_raises_a_contract_error_with_the_reason(name):
    body, reason = POISON[name]
    with pytest.raises(ContractError) as caught:
        parse_message(body)
    assert reason in caught.value.reason


def test_brackets_and_escapes_inside_strings_are_text():
    assert load_json_object(b'{"a": "' + b"[{" * 5000 + b'"}') == {"a": "[{" * 5000}
    assert load_json_object(b'{"a": "\\"[[[[", "b": "\\\\"}') == {"a": '"[[[[', "b": "\\"}
    assert load_json_object(b'{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001F600"}


def test_a_real_event_still_decodes():
    envelope = envelope_for(reported(description="[" * 3000 + " nested-looking text " + "{" * 3000))
    parsed, _ = parse_message(envelope.to_bytes())
    assert parsed == envelope
