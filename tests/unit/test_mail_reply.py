import pytest

from shared.ids import new_id
from shared.mail_reply import (
    Audience,
    InvalidReplyToken,
    is_support_address,
    reply_address,
    reply_token,
    token_of,
    verify_reply_token,
)

SECRET = b"a test secret of the right length!!"
TICKET = new_id()
OTHER_TICKET = new_id()


def test_a_token_verifies_for_its_recipient_and_ticket():
    token = reply_token(SECRET, TICKET, Audience.REPORTER, "Ada@Example.com")
    grant = verify_reply_token(SECRET, token, "ada@example.com")
    assert (grant.ticket_id, grant.audience, grant.address) == (TICKET, Audience.REPORTER, "ada@example.com")
    staff = verify_reply_token(SECRET, reply_token(SECRET, TICKET, Audience.STAFF, "oncall@platform.local"),
                               "oncall@platform.local")
    assert staff.audience is Audience.STAFF


def test_a_token_survives_a_mail_system_that_folds_case_and_fits_a_local_part():
    token = reply_token(SECRET, TICKET, Audience.REPORTER, "ada@example.com")
    assert verify_reply_token(SECRET, token.upper(), "ada@example.com").ticket_id == TICKET
    address = reply_address("support@platform.local", token)
    assert len(address.split("@")[0]) <= 64 and token_of(address.upper(), "support@platform.local") == token.upper()


def test_a_token_from_another_address_does_not_verify():
    token = reply_token(SECRET, TICKET, Audience.REPORTER, "ada@example.com")
    with pytest.raises(InvalidReplyToken, match="not issued to this sender"):
        verify_reply_token(SECRET, token, "mallory@example.com")


@pytest.mark.parametrize("position", ["audience", "ticket", "tag"])
def test_a_tampered_token_does_not_verify(position):
    token = reply_token(SECRET, TICKET, Audience.REPORTER, "ada@example.com")
    if position == "audience":
        forged = token[0] + "s" + token[2:]
    elif position == "ticket":
        forged = token[:2] + OTHER_TICKET.lower() + token[28:]
    else:
        forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    with pytest.raises(InvalidReplyToken):
        verify_reply_token(SECRET, forged, "ada@example.com")


def test_a_token_of_one_ticket_does_not_open_another_and_another_secret_does_not_verify():
    token = reply_token(SECRET, TICKET, Audience.REPORTER, "ada@example.com")
    other = reply_token(SECRET, OTHER_TICKET, Audience.REPORTER, "ada@example.com")
    assert token[-24:] != other[-24:]
    with pytest.raises(InvalidReplyToken):
        verify_reply_token(b"another secret entirely, also long", token, "ada@example.com")


@pytest.mark.parametrize("token", ["", "x", "1r" + "0" * 50, "2r" + TICKET.lower() + "a" * 24, "../../etc"])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(InvalidReplyToken, match="not one we issued"):
        verify_reply_token(SECRET, token, "ada@example.com")


def test_no_token_for_a_ticket_id_that_is_not_a_ulid_and_none_without_a_secret():
    assert reply_token(SECRET, "not-a-ulid", Audience.REPORTER, "a@b.c") is None
    with pytest.raises(ValueError):
        reply_token(b"", TICKET, Audience.REPORTER, "a@b.c")


def test_sub_addresses_of_the_support_address():
    support = "support@platform.local"
    assert token_of("support+abc@platform.local", support) == "abc"
    assert token_of("<Support+abc@PLATFORM.local>", support) == "abc"
    assert token_of("support@platform.local", support) is None
    assert token_of("sales+abc@platform.local", support) is None
    assert token_of("support+abc@evil.example", support) is None
    assert is_support_address("SUPPORT@platform.local", support) and is_support_address("support+x@platform.local", support)
    assert not is_support_address("support@platform.local.evil", support)
