"""On-call page chains on escalation's clocks, on a fake clock: whoever is on call at the time of each page,
the next step when nobody acknowledges, repeats, the lead, acknowledgement, covers, gaps and failed pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.escalation.domain.oncall import on_call_at
from shared.contracts import NotificationFailed, Severity, make_envelope
from shared.contracts.lifecycle_events import Actor, TicketPageAcknowledged
from tests.escalation_harness import Scenario
from tests.fakes_escalation import StaticOnCall
from tests.oncall_builders import SENIOR_YAML, senior_config

M = timedelta(minutes=1)


def monday(hour: int, minute: int = 0) -> datetime:
    """Return Monday 5 January 2026 at hour:minute UTC (ada is on call from 09:00, bob from Tuesday 09:00)."""
    return datetime(2026, 1, 5, hour, minute, tzinfo=UTC)
ONCALL = Actor(type="agent", id="person.ada", name="Ada Lovelace")


def pages(s: Scenario) -> list[tuple[str | None, str, list[str], list[str]]]:
    """Return (step, role, people, channels) of each page owed so far."""
    return [(p.get("step"), p["role"], [x["id"] for x in p.get("people") or []], p.get("channels") or [])
            for p in s.events("escalation.page_requested")]


async def critical_at_tier_3(s: Scenario) -> str:
    return await s.open(severity=Severity.CRITICAL, tier=3, team="senior-engineering",
                        response_due_at=s.clock.now() + timedelta(hours=4))


async def test_a_critical_ticket_pages_the_person_on_call_at_once_then_each_step_then_the_lead():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await critical_at_tier_3(s)  # Monday 5 Jan 09:00: ada's day
    assert pages(s) == [("step.0.0", "on_call", ["ada"], [])]
    [escalated] = s.events("escalation.page_requested")
    assert escalated["people"][0]["email"] == "ada@example.com" and escalated["policy_id"] == "senior-engineering/tier-3"
    assert await s.at(4 * M) == []
    assert await s.at(5 * M) == ["oncall." + s.doc()["oncall"]["id"] + ".step.0.1"]
    assert pages(s)[-1] == ("step.0.1", "on_call", ["cy"], ["team"])
    await s.at(15 * M)
    await s.at(20 * M)
    await s.at(30 * M)
    assert [p[0] for p in pages(s)] == ["step.0.0", "step.0.1", "step.1.0", "step.1.1", "lead"]
    assert pages(s)[-1] == ("lead", "lead", ["dee"], [])
    assert s.doc()["oncall"]["active"] is False and s.doc()["page"]["active"] is False
    assert not [k for k in await s.at(3 * 60 * M) if k.startswith("oncall.")]
    assert len(pages(s)) == 5


async def test_each_page_goes_to_whoever_is_on_call_at_the_time_of_the_page():
    s = Scenario(start=datetime(2026, 1, 6, 8, 50, tzinfo=UTC), oncall=StaticOnCall(senior_config()))  # ada till 09:00
    await critical_at_tier_3(s)
    await s.at(5 * M)
    await s.at(15 * M)  # 09:05: round 2 pages the schedule again, which now has bob
    assert [(p[0], p[2]) for p in pages(s)][:3] == [("step.0.0", ["ada"]), ("step.0.1", ["cy"]),
                                                    ("step.1.0", ["bob"])]


async def test_the_link_acknowledgement_stops_the_chain_and_records_who():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await critical_at_tier_3(s)
    await s.at(5 * M)
    chain = s.doc()["oncall"]
    await s.send(s.change(TicketPageAcknowledged, ONCALL, page_id=chain["id"], step="step.0.1",
                          person_id="person.ada"))
    chain = s.doc()["oncall"]
    assert chain["active"] is False and chain["acknowledged"]["by"] == "person.ada"
    assert await s.at(2 * 60 * M) == []
    assert len(pages(s)) == 2


async def test_an_agent_response_on_the_ticket_stops_the_chain_too():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await critical_at_tier_3(s)
    await s.comment("public")
    assert await s.at(60 * M) == [] and len(pages(s)) == 1


async def test_an_override_sends_the_page_to_the_cover():
    cover = {"id": "swap", "schedule": "senior", "kind": "replace", "person": "eve", "instead_of": "ada",
             "start": monday(8), "end": monday(12)}
    s = Scenario(oncall=StaticOnCall(senior_config(overrides=[cover])))
    await critical_at_tier_3(s)
    assert pages(s) == [("step.0.0", "on_call", ["eve"], [])]


async def test_an_override_added_while_the_chain_runs_applies_to_the_next_page():
    source = StaticOnCall(senior_config())
    s = Scenario(oncall=source)
    await critical_at_tier_3(s)
    source.config = senior_config(overrides=[{"id": "swap", "schedule": "senior", "kind": "replace", "person": "eve",
                                              "instead_of": "ada", "start": monday(9), "end": monday(12)}])
    await s.at(5 * M)
    await s.at(15 * M)
    assert [p[2] for p in pages(s)][:3] == [["ada"], ["cy"], ["eve"]]


async def test_a_step_that_reaches_nobody_hands_on_to_the_next_step_at_once():
    removed = {"id": "off", "schedule": "senior", "kind": "remove", "person": "ada", "start": monday(8), "end": monday(12)}
    s = Scenario(oncall=StaticOnCall(senior_config(overrides=[removed])))
    await critical_at_tier_3(s)
    assert pages(s) == [("step.0.1", "on_call", ["cy"], ["team"])]
    assert "nobody to page at step 1 of round 1" in s.events("escalation.page_requested")[0]["reason"]
    assert "step.0.0" in s.doc()["oncall"]["fired"] and {"step": "step.0.0", "people": []} in s.doc()["oncall"]["paged"]
    assert await s.at(5 * M) == []  # step.0.1's own time finds it fired


async def test_an_undeliverable_page_hands_on_to_the_next_step_once():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await critical_at_tier_3(s)
    page_event = s.store.events("escalation.page_requested")[0]["event_id"]
    for channel in ("email", "webhook"):  # one page, two channels failing: the chain moves once
        failed = NotificationFailed(delivery_id=f"d-{channel}", source_event_id=page_event, message="escalation_page",
                                    channel=channel, recipient="person.ada", attempts=6, error="mailbox unavailable",
                                    role="on_call")
        envelope = make_envelope(failed, producer="notifier", occurred_at=s.clock.now(), ticket_id=s.ticket_id)
        await s.handlers["notification.failed"](envelope, failed)
    assert [p[0] for p in pages(s)] == ["step.0.0", "step.0.1"]
    assert "could not be delivered" in s.events("escalation.page_requested")[1]["reason"]


async def test_a_running_chain_keeps_its_timetable_when_the_policy_is_edited():
    source = StaticOnCall(senior_config())
    s = Scenario(oncall=source)
    await critical_at_tier_3(s)
    source.config = senior_config(SENIOR_YAML.replace("delay_minutes: 5", "delay_minutes: 50"))
    assert await s.at(5 * M) == ["oncall." + s.doc()["oncall"]["id"] + ".step.0.1"]


async def test_without_a_policy_for_the_team_and_tier_the_static_contacts_are_paged():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await s.open(severity=Severity.HIGH, tier=2, team="technical-support")
    assert s.doc()["oncall"] is None and s.doc()["page"]["active"] is True
    await s.at(10 * M)
    assert pages(s) == [(None, "on_call", [], [])]


async def test_escalating_to_a_team_with_a_policy_starts_its_chain_and_tells_the_notifier():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await s.open(severity=Severity.HIGH, tier=2, team="technical-support",
                 response_due_at=s.clock.now() + timedelta(minutes=30))
    await s.at(30 * M)  # the response target breaks: Tier 2 -> Tier 3
    [escalated] = s.events("ticket.escalated")
    assert escalated["to_tier"] == 3 and escalated["oncall_policy"] == "senior-engineering/tier-3"
    assert pages(s)[-1] == ("step.0.0", "on_call", ["ada"], [])


async def test_at_the_top_tier_a_breach_pages_the_policy_lead_by_name():
    s = Scenario(oncall=StaticOnCall(senior_config()))
    await critical_at_tier_3(s)
    await s.comment("public")  # responded: the chain stops, the resolution clock runs on
    await s.at(8 * 60 * M)
    lead_pages = [p for p in pages(s) if p[1] == "lead"]
    assert lead_pages and lead_pages[-1][2] == ["dee"]


@settings(max_examples=40, deadline=None)
@given(wakes=st.lists(st.integers(0, 45), min_size=1, max_size=12), acknowledged_at=st.none() | st.integers(1, 40),
       start=st.integers(0, 24 * 60))
async def test_every_firing_pages_once_in_order_whoever_is_on_call_then_and_nothing_after_an_acknowledgement(
        wakes, acknowledged_at, start):
    config = senior_config()
    s = Scenario(start=monday(9) + start * M, oncall=StaticOnCall(config))
    await critical_at_tier_3(s)
    acked = False
    for minute in sorted(set(wakes)):
        if acknowledged_at is not None and minute >= acknowledged_at and not acked:
            s.clock.set(s.start + acknowledged_at * M)
            await s.send(s.change(TicketPageAcknowledged, ONCALL, page_id=s.doc()["oncall"]["id"], step=None,
                                  person_id="person.ada"))
            acked = True
        await s.at(minute * M)
    found = s.events("escalation.page_requested")
    steps = [p["step"] for p in found]
    expected = ["step.0.0", "step.0.1", "step.1.0", "step.1.1", "lead"]
    assert steps == expected[:len(steps)], "in order, each once"
    schedule = config.effective("senior")
    for page in found:
        if page["step"].endswith(".0"):
            at = datetime.fromisoformat(page["requested_at"])
            assert [p["id"] for p in page["people"]] == on_call_at(schedule, at)
    if acked:
        assert all(datetime.fromisoformat(p["requested_at"]) < s.start + acknowledged_at * M
                   for p in found)
