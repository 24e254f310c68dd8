"""One check of e-mail addresses for every way in: syntax only, internal domains welcome."""

import pytest
from pydantic import BaseModel

from shared.contracts import Reporter, TicketReported, parse_email_address
from shared.contracts.addresses import EmailAddress

INTERNAL = ["user@platform.local", "ops@corp.test", "a.b@svc.internal", "x@intranet.corp", "root@localhost",
            "u@example", "o'neil+tag@sub.platform.local", '"with space"@platform.local', "u@[10.0.0.1]",
            "u@[IPv6:2001:db8::1]", "jürgen@bücher.de"]
INVALID = ["", "plain", "@platform.local", "a@", "a@b@c", "a..b@x.com", "a.@x.com", "a@-x.com", "a@x..com",
           "a b@x.com", "a@x.com\r\nBcc: victim@x.com", "a\u2028@x.com", "a" * 65 + "@x.com",
           "a@" + "b" * 64 + ".com", "u@[1.2.3.999]", "x@" + ("a" * 60 + ".") * 5 + "com"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_and_special_use_domains_are_accepted(address):
    assert parse_email_address(address).split("@")[0] == address.split("@")[0]


@pytest.mark.parametrize("address", INVALID)
def test_what_is_not_an_address_is_refused_with_a_reason(address):
    with pytest.raises(ValueError) as info:
        parse_email_address(address)
    assert str(info.value)


def test_the_domain_is_normalised_to_lower_case():
    assert parse_email_address("  Ada@Platform.LOCAL ") == "Ada@platform.local"


@pytest.mark.parametrize("address", INTERNAL)
def test_the_event_contract_accepts_what_the_check_accepts(address):
    reporter = Reporter(id="r1", name="Ada", email=address)
    assert reporter.email == parse_email_address(address)


def test_the_contracts_and_schemas_use_the_one_check():
    assert Reporter.model_fields["email"].metadata == TicketReported.model_fields["reporter"].annotation.model_fields[
        "email"].metadata

    class Schema(BaseModel):
        email: EmailAddress

    assert Schema.model_json_schema()["properties"]["email"]["format"] == "email"
    with pytest.raises(ValueError):
        Schema(email="not an address")


@pytest.mark.parametrize("address", INTERNAL)
def test_an_event_carrying_an_internal_address_parses(address):
    from shared.contracts import make_envelope, parse_message
    from tests.factories import REPORTED_AT, triaged

    event = triaged(reporter=Reporter(id="r1", name="Ada", email=address))
    envelope = make_envelope(event, producer="test", occurred_at=REPORTED_AT, ticket_id=event.ticket_id)
    _, payload = parse_message(envelope.model_dump_json().encode())
    assert payload.reporter.email == parse_email_address(address)
