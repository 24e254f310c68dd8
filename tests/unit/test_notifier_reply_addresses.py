"""Notifier side of e-mail trust: every e-mail about a ticket carries its recipient's reply address; pages say
when a report's sender is unverified."""

from __future__ import annotations

import json

import pytest

from services.notifier.adapters.email import compose, reply_to_for
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.deliveries import Content, Outgoing
from services.notifier.domain.messages import REGISTRY
from shared.contracts import Reporter
from shared.contracts.escalation_events import EscalationPageRequested
from shared.ids import new_id
from shared.mail_reply import Audience, token_of, verify_reply_token
from tests.factories import REPORTED_AT, triaged

SECRET = b"notifier and intake share this secret"
SUPPORT = "support@platform.local"


def outgoing(role: str, address: str, ticket_id: str | None) -> Outgoing:
    return Outgoing(delivery_id=f"E1:email:{address}", channel="email", address=address,
                    content=Content(subject="[INC-000001] Hi", text="plain"), message="ticket_received",
                    ticket_id=ticket_id, number="INC-000001", recipient_role=role)


@pytest.mark.parametrize(("role", "audience"), [("reporter", Audience.REPORTER), ("on_call", Audience.STAFF),
                                                ("lead", Audience.STAFF)])
def test_every_email_about_a_ticket_has_a_reply_address_for_its_recipient(role, audience):
    ticket_id = new_id()
    item = outgoing(role, "Ada@platform.local", ticket_id)
    message = compose(item, sender=f"Support <{SUPPORT}>", domain="platform.local",
                      reply_to=reply_to_for(item, support_address=SUPPORT, secret=SECRET))
    token = token_of(str(message["Reply-To"]), SUPPORT)
    grant = verify_reply_token(SECRET, token, "ada@platform.local")
    assert (grant.ticket_id, grant.audience) == (ticket_id, audience)


def test_a_digest_about_several_tickets_has_no_reply_address():
    item = outgoing("on_call", "oncall@platform.local", None)
    assert reply_to_for(item, support_address=SUPPORT, secret=SECRET) is None
    assert compose(item, sender=SUPPORT, domain="platform.local")["Reply-To"] is None


def _render(notice, message: str) -> list[str]:
    renderer = TemplateRenderer()
    context = {**notice.context, "recipient_name": "On-call", "role": "on_call", "ack_url": None}
    out = []
    for channel in ("email", "webhook", "slack"):
        if renderer.exists(message, channel, "txt"):
            content = renderer.content(message, channel, context, notice.number)
            out.append(" ".join(filter(None, [content.subject, content.text, content.html,
                                              json.dumps(content.blocks) if content.blocks else None])))
    return out


@pytest.mark.parametrize("verified", [False, True, None])
def test_the_page_and_the_assignment_say_when_the_sender_is_unverified(verified):
    reporter = Reporter(id="r1", name="Ada", email="ada@platform.local", verified=verified)
    assigned = REGISTRY["ticket.triaged"].translate(new_id(), triaged(reporter=reporter))
    page = REGISTRY["escalation.page_requested"].translate(new_id(), EscalationPageRequested(
        ticket_id=new_id(), number="INC-000001", severity="critical", tier=1, team="service-desk", reporter=reporter,
        page_id="p1", role="on_call", attempt=1, max_attempts=3, reason="no response", requested_at=REPORTED_AT))
    rendered = _render(assigned, "ticket_assigned") + _render(page, "escalation_page")
    assert len(rendered) == 6
    for text in rendered:
        assert ("unverified sender" in text.lower()) is (verified is False), text
