"""Use cases the JSON API and the web portal share: one rule each, whichever way in."""

import pytest

from services.intake.domain import actions
from services.intake.domain.principals import Principal, Role
from services.intake.service_layer.attachments import AttachmentRefused, accept_attachment, safe_filename
from services.intake.service_layer.commands import NotVisible, act, actor_of, report_as
from services.intake.service_layer.votes import NoSuchRequest, VoteRefused, cast_vote
from shared.clock import FakeClock
from shared.contracts import Status
from tests.fakes import FakeAttachments, FakeTickets, FakeVotes

ADA = Principal(id="ada", role=Role.REPORTER, name="Ada", email="ada@example.com")
BOB = Principal(id="bob", role=Role.REPORTER, name="Bob", email="bob@example.com")
ACME = Principal(id="acme", role=Role.VENDOR, name="Acme", vendor_id="acme")
FIELDS = {"title": "Dark mode", "type": "feature", "description": "Please", "kind": "feature_request",
          "use_case": "night shifts"}


@pytest.fixture
def world():
    return FakeTickets(), FakeVotes(), FakeClock()


async def test_one_vote_per_person_counted_on_the_request(world):
    tickets, votes, clock = world
    request = await report_as(ADA, FIELDS, tickets=tickets, clock=clock, prefix="INC")
    assert (await cast_vote(request["number"], BOB, tickets=tickets, votes=votes, clock=clock))["votes"] == 1
    assert (await cast_vote(request["number"], ADA, tickets=tickets, votes=votes, clock=clock))["votes"] == 2
    with pytest.raises(VoteRefused) as again:
        await cast_vote(request["number"], BOB, tickets=tickets, votes=votes, clock=clock)
    assert again.value.why == "already_voted"
    with pytest.raises(VoteRefused) as vendor:
        await cast_vote(request["number"], ACME, tickets=tickets, votes=votes, clock=clock)
    assert vendor.value.why == "forbidden"
    voted = [e for e in (await tickets.by_number(request["number"]))["timeline"] if e["action"] == "voted"]
    assert all(e["visibility"] == "internal" for e in voted), "who voted stays with support"


async def test_votes_only_on_open_feature_requests(world):
    tickets, votes, clock = world
    incident = await report_as(ADA, {**FIELDS, "kind": "incident", "type": "access"}, tickets=tickets, clock=clock,
                               prefix="INC")
    with pytest.raises(NoSuchRequest):
        await cast_vote(incident["number"], BOB, tickets=tickets, votes=votes, clock=clock)
    request = await report_as(ADA, FIELDS, tickets=tickets, clock=clock, prefix="INC")
    tickets.documents[request["_id"]]["status"] = Status.CLOSED.value
    with pytest.raises(VoteRefused) as closed:
        await cast_vote(request["number"], BOB, tickets=tickets, votes=votes, clock=clock)
    assert closed.value.why == "closed"


async def test_vendors_cannot_report(world):
    tickets, _, clock = world
    with pytest.raises(actions.ActionRefused):
        await report_as(ACME, FIELDS, tickets=tickets, clock=clock, prefix="INC")


async def test_acting_on_another_reporters_ticket_looks_like_no_ticket(world):
    tickets, _, clock = world
    ticket = await report_as(ADA, {**FIELDS, "kind": "incident", "type": "access"}, tickets=tickets, clock=clock,
                             prefix="INC")
    with pytest.raises(NotVisible):
        await act(ticket["number"], BOB, lambda t, a, now: actions.comment(t, a, now, "mine now", False),
                  tickets=tickets, clock=clock)
    with pytest.raises(NotVisible):
        await act("INC-999999", ADA, lambda t, a, now: actions.comment(t, a, now, "hello", False),
                  tickets=tickets, clock=clock)
    commented = await act(ticket["number"], ADA, lambda t, a, now: actions.comment(t, a, now, "more", False),
                          tickets=tickets, clock=clock)
    assert commented["timeline"][-1]["detail"] == "more"


@pytest.mark.parametrize(("content_type", "data", "status"), [
    ("text/html", b"<script>", 415), ("image/png", b"", 422), ("image/png", b"x" * 2049, 413)])
async def test_attachments_refused_for_type_emptiness_and_size(world, content_type, data, status):
    tickets, _, clock = world
    files = FakeAttachments()
    ticket = await report_as(ADA, {**FIELDS, "kind": "incident", "type": "access"}, tickets=tickets, clock=clock,
                             prefix="INC")
    with pytest.raises(AttachmentRefused) as refused:
        await accept_attachment(ticket, actor_of(ADA), "a.png", content_type, data, allowed_types=("image/png",),
                                max_bytes=2048, tickets=tickets, attachments=files, clock=clock)
    assert refused.value.status == status and files.files == {}


@pytest.mark.parametrize(("given", "kept"), [
    ("screen shot.png", "screen shot.png"), ("../../etc/passwd", "passwd"), ("C:\\Users\\x\\a.png", "a.png"),
    ("<img onerror=x>.png", "attachment-_img onerror_x_.png"), ("", "attachment"), (".env", "env")])
def test_uploaded_file_names_are_made_safe(given, kept):
    assert safe_filename(given) == kept


def test_asking_for_information_keeps_the_question_on_the_timeline():
    from datetime import UTC, datetime
    ticket = {"_id": "t1", "number": "INC-000001", "title": "x", "status": "in_progress", "reporter": {
        "id": "ada", "name": "Ada", "email": None}, "severity": "low", "tier": 1, "team": "t"}
    agent = actor_of(Principal(id="ann", role=Role.AGENT, name="Ann"))
    update = actions.change_status(ticket, agent, datetime(2026, 1, 5, tzinfo=UTC), Status.WAITING_FOR_INFO,
                                   "Which browser?")
    assert update.entries[-1]["data"]["reason"] == "Which browser?"
