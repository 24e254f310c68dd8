"""On-call pages through the notifier: the people named are paged on their own channels with a link of their own,
the static contacts are left alone, team channels get no acknowledge link, and hand-off notices reach the person."""

from __future__ import annotations

from datetime import timedelta

from services.notifier.domain.messages import REGISTRY
from services.notifier.service_layer.handlers import notify
from shared.ack_links import AckLinks, read
from shared.clock import FakeClock
from shared.contracts import Severity, make_envelope
from shared.contracts.escalation_events import EscalationPageRequested, PagedPerson
from shared.contracts.oncall_events import HandoffTicket, OnCallHandoffNotice
from tests.factories import REPORTED_AT
from tests.fakes_notifier import FakeDeliveries, RecordingWorker
from tests.unit.test_notifier_escalation_messages import ADA, RENDERER, ROUTER, escalated, routed

SECRET = "unit-test-ack-secret-0123456789"
LINKS = AckLinks("http://intake.test", SECRET, timedelta(hours=12))
NOW = REPORTED_AT
BOB = PagedPerson(id="bob", name="Bob Stone", email="bob@example.com", slack="senior-engineering-chat")
CY = PagedPerson(id="cy", name="Cy Young", email="cy@example.com", webhook="not-an-endpoint")


async def deliveries(event, links=LINKS) -> list[dict]:
    store = FakeDeliveries()
    envelope = make_envelope(event, producer="escalation", occurred_at=NOW, ticket_id=getattr(event, "ticket_id", None))
    await notify(envelope, event, entry=REGISTRY[event.EVENT_TYPE], router=ROUTER, renderer=RENDERER,
                 deliveries=store, clock=FakeClock(NOW), worker=RecordingWorker(), ack_links=links)
    return list(store.records.values())


def page(**changes) -> EscalationPageRequested:
    values = dict(ticket_id="t1", number="INC-000042", severity=Severity.CRITICAL, tier=3, team="senior-engineering",
                  reporter=ADA, page_id="t1-p1", role="on_call", attempt=1, max_attempts=2,
                  reason="critical ticket at Tier 3", requested_at=NOW, step="step.0.1",
                  policy_id="senior-engineering/tier-3", people=[BOB, CY], channels=["team"])
    return EscalationPageRequested(**{**values, **changes})


def link_in(text: str) -> str:
    return next(word for word in text.split() if word.startswith("http://intake.test/ack/"))


async def test_the_people_on_call_are_paged_on_their_channels_and_the_team_channel_too():
    docs = await deliveries(page())
    assert routed(docs) == {
        ("escalation_page", "on_call", "email", "person.bob"), ("escalation_page", "on_call", "slack", "person.bob"),
        ("escalation_page", "on_call", "email", "person.cy"),  # cy's webhook names no configured endpoint
        ("escalation_page", "team", "slack", "senior-engineering-channel"),
    }, "the static on_call contact (senior-engineering-oncall) is not paged"


async def test_each_person_gets_a_link_of_their_own_bound_to_the_ticket_page_and_step():
    docs = await deliveries(page())
    grants = {}
    for doc in docs:
        text = doc["content"]["text"]
        if doc["role"] == "team":
            assert "/ack/" not in text, "a team channel is no person: no link anyone in it could use"
            continue
        grant = read(link_in(text).removeprefix("http://intake.test/ack/"), SECRET, NOW)
        assert (grant.ticket_id, grant.page_id, grant.step, grant.person) == ("t1", "t1-p1", "step.0.1", doc["recipient"])
        assert grant.expires_at == NOW + timedelta(hours=12)
        grants[(doc["recipient"], doc["channel"])] = grant
    assert {g.name for g in grants.values()} == {"Bob Stone", "Cy Young"}
    assert len({g.token_id for g in grants.values()}) == len(grants) == 3


async def test_static_pages_carry_links_for_the_role_contact():
    docs = await deliveries(page(people=None, channels=None, step=None, role="lead"))
    assert {(d["recipient"], d["channel"]) for d in docs} == {("senior-engineering-lead", "email")}
    grant = read(link_in(docs[0]["content"]["text"]).removeprefix("http://intake.test/ack/"), SECRET, NOW)
    assert grant.person == "senior-engineering-lead" and grant.page_id == "t1-p1"


async def test_without_links_configured_pages_still_go_out_without_one():
    docs = await deliveries(page(), links=None)
    assert docs and all("/ack/" not in d["content"]["text"] for d in docs)


async def test_an_escalation_to_a_team_with_an_on_call_policy_leaves_the_page_to_escalation():
    docs = await deliveries(escalated(oncall_policy="technical-support/tier-2"))
    assert routed(docs) == {("escalated", "reporter", "email", "ada@example.com")}
    assert {d["message"] for d in await deliveries(escalated())} == {"escalated", "escalation_page"}


async def test_a_hand_off_notice_tells_the_person_what_is_open_and_at_risk():
    notice = OnCallHandoffNotice(
        team="senior-engineering", schedule_id="senior", person=BOB, start=NOW, end=NOW + timedelta(days=1),
        open_count=3, at_risk_count=1, overdue_count=1,
        tickets=[HandoffTicket(number="INC-000007", title="Checkout down", severity="critical", status="in_progress",
                               standing="overdue"),
                 HandoffTicket(number="INC-000009", title="Slow search", severity="high", status="open",
                               standing="at_risk")])
    docs = await deliveries(notice)
    assert routed(docs) == {("handoff_notice", "on_call", "email", "person.bob")}, "no template for slack: e-mail only"
    [mail] = docs
    assert mail["content"]["subject"] == "Your on-call shift for senior-engineering starts: 3 open, 1 overdue, 1 at risk"
    text = mail["content"]["text"]
    assert "INC-000007  [critical, in_progress, overdue]  Checkout down" in text
    assert "INC-000009  [high, open, at risk]  Slow search" in text and "and 1 more" in text
