"""On-call end to end, on the four real services with escalation on a test clock that the test moves forward.

Escalation runs with TEST_CLOCK_FILE (allowed only with ENVIRONMENT=test): its time is the system time plus
the seconds in that file, so "nobody acknowledged within five minutes" takes no five minutes. The other
services keep the system clock. Pages arrive in the SMTP sink's mailbox; the acknowledge link is taken from
the page e-mail and followed like a person would (its host is intake's default address, so the test sends
the link's path to this run's intake port).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from icalendar import Calendar
from pymongo import MongoClient

from bench.system import wait_until
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e
TEAM = "senior-engineering"
ONCALL_YAML = """\
version: 1
people:
  - {id: ada, name: Ada Oncall, email: ada@oncall.test, time_zone: Europe/London}
  - {id: bob, name: Bob Oncall, email: bob@oncall.test, time_zone: America/New_York}
  - {id: cy, name: Cy Second, email: cy@oncall.test, time_zone: UTC}
  - {id: dee, name: Dee Lead, email: dee@oncall.test, time_zone: UTC}
  - {id: eve, name: Eve Cover, email: eve@oncall.test, time_zone: UTC}
  - {id: fay, name: Fay Handoff, email: fay@oncall.test, time_zone: UTC}
schedules:
  - id: senior
    team: senior-engineering
    layers:
      - rotation: {id: weekly, participants: [ada, bob], shift: {weeks: 1}, start: "2026-01-05T09:00:00Z",
                   handoff: "09:00", time_zone: UTC}
  - id: senior-night
    team: senior-engineering
    layers:
      - rotation: {id: night, participants: [fay], shift: {hours: 24}, start: "HANDOFF_AT", time_zone: UTC}
policies:
  - team: senior-engineering
    tier: 3
    lead: dee
    repeats: 0
    steps:
      - delay_minutes: 5
        targets: [{schedule: senior}]
      - delay_minutes: 5
        targets: [{person: cy}]
"""
HANDOFF_AFTER = timedelta(minutes=30)
"""fay's schedule starts this long after the module starts (escalation time): the hand-off test moves past it."""


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("clock") / "offset"
    path.write_text("0")
    return path


@pytest.fixture(scope="module")
def system_env(tmp_path_factory, clock_file):
    handoff_at = (datetime.now(UTC) + HANDOFF_AFTER).replace(second=0, microsecond=0)
    path = tmp_path_factory.mktemp("oncall") / "oncall.yaml"
    path.write_text(ONCALL_YAML.replace("HANDOFF_AT", handoff_at.isoformat()))
    return {"ONCALL_FILE": str(path), "TEST_CLOCK_FILE": str(clock_file), "ONCALL_CACHE_SECONDS": "0",
            "ONCALL_REFRESH_SECONDS": "1", "ACK_LINK_SECRET": "e2e-ack-link-secret-0123456789",
            "ONCALL_FEED_SECRET": "e2e-oncall-feed-secret-0123456789"}


class MovableClock:
    """Moves escalation's time forward (never back)."""

    def __init__(self, path) -> None:
        self.path = path

    def advance(self, delta: timedelta) -> None:
        self.path.write_text(str(float(self.path.read_text()) + delta.total_seconds()))


@pytest.fixture(scope="module")
def later(clock_file) -> MovableClock:
    return MovableClock(clock_file)


@pytest.fixture(scope="module")
def people(system):
    url = system.url("intake")
    return {"rita": Api(url, system.create_key("reporter", "Rita Reporter", "rita@example.com")),
            "ann": system.create_key("agent", "Ann Agent", "ann@support.local"),
            "root": system.create_key("admin", "Root Admin", "root@support.local")}


@pytest.fixture(scope="module")
def oncall(system, people):
    """An httpx client of escalation's on-call API as an agent, and the admin key."""
    with httpx.Client(base_url=system.url("escalation"), headers={"Authorization": f"Bearer {people['ann']}"},
                      timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def clocks(system, mongodb_url):
    with MongoClient(mongodb_url, tz_aware=True) as client:
        yield client[system.mongodb_db]["sla_clocks"]


def on_call_now(oncall) -> tuple[str, str, datetime]:
    """Return (person id, e-mail, escalation's now) of whoever the senior schedule has on call."""
    answer = oncall.get(f"/v1/oncall/teams/{TEAM}/now").json()
    [schedule] = [s for s in answer["schedules"] if s["schedule"] == "senior"]
    [person] = schedule["on_call"]
    return person["id"], person["email"], datetime.fromisoformat(answer["at"])


def critical(rita: Api, title: str) -> dict:
    created = rita.report(title=f"{title}: the platform is down for all users", type="performance",
                          description="Nothing loads, for anyone.")
    return rita.wait_for(created["number"], lambda t: t.get("tier") == 3 and t.get("severity") == "critical",
                         timeout=60)


def page_to(box, address: str, number: str):
    return box.wait_for(lambda m: address in str(m["To"]) and f"PAGE {number}" in str(m["Subject"]), timeout=60)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def ack_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/ack/\S+)", text_of(message)).group(1)


def test_a_critical_ticket_pages_the_person_on_call_then_the_next_step_and_the_link_stops_the_chain(
        system, mailbox, people, oncall, later, clocks):
    box, _ = mailbox
    rita = people["rita"]
    person, email, _ = on_call_now(oncall)
    acked = critical(rita, "Checkout")
    control = critical(rita, "Search")  # nobody acknowledges this one: its lead page shows the timer got there
    for ticket in (acked, control):
        page = page_to(box, email, ticket["number"])
        assert "/ack/" in text_of(page) and f"as on_call of {TEAM}" in text_of(page)
    first_page = page_to(box, email, acked["number"])
    assert not [m for m in box.messages() if "oncall-senior-engineering@" in str(m["To"])
                and acked["number"] in str(m["Subject"])], "the static on-call contact is not paged"

    later.advance(timedelta(minutes=5, seconds=1))  # nobody acknowledged within the step's delay
    for ticket in (acked, control):
        page_to(box, "cy@oncall.test", ticket["number"])

    intake = httpx.Client(base_url=system.url("intake"), timeout=15)
    path = ack_path(first_page)
    shown = intake.get(path, headers={"Accept": "text/html"})  # what a mail scanner does: changes nothing
    assert shown.status_code == 200 and "<form method=\"post\"" in shown.text
    assert rita.ticket(acked["number"])["first_response_at"] is None
    done = intake.post(path)
    assert done.status_code == 200, done.text
    ticket = rita.wait_for(acked["number"], lambda t: t["first_response_at"] is not None)
    assert ticket["status"] == "in_progress"
    staff = Api(system.url("intake"), people["ann"]).ticket(acked["number"])
    [entry] = [e for e in staff["timeline"] if e["action"] == "page_acknowledged"]
    assert entry["actor"]["id"] == f"person.{person}"
    assert intake.post(path).status_code == 409, "a link works once"

    record = wait_until(lambda: (doc := clocks.find_one({"_id": acked["id"]})) and (doc.get("oncall") or {}).get(
        "acknowledged") and doc, "escalation stopped the chain")
    assert record["oncall"]["acknowledged"]["by"] == f"person.{person}" and record["oncall"]["active"] is False

    later.advance(timedelta(minutes=5, seconds=1))  # the last step's delay ran out: the lead of the control ticket
    page_to(box, "dee@oncall.test", control["number"])
    assert not [m for m in box.messages() if "dee@oncall.test" in str(m["To"]) and acked["number"] in str(m["Subject"])]


def test_an_override_sends_the_page_to_the_cover(system, mailbox, people, oncall):
    box, _ = mailbox
    person, _, now = on_call_now(oncall)
    added = oncall.post("/v1/oncall/schedules/senior/overrides", json={
        "kind": "replace", "person": "eve", "instead_of": person, "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(hours=3)).isoformat()})
    assert added.status_code == 201, added.text
    assert on_call_now(oncall)[0] == "eve"
    ticket = critical(people["rita"], "Payments")
    page = page_to(box, "eve@oncall.test", ticket["number"])
    assert "Eve Cover" in text_of(page) and "/ack/" in text_of(page)
    assert oncall.delete(f"/v1/oncall/overrides/{added.json()['override']['id']}").status_code == 200


def test_the_ical_feed_parsed_by_icalendar_shows_the_same_shifts_as_the_api(oncall):
    range_ = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-15T00:00:00Z"}
    shifts = oncall.get("/v1/oncall/schedules/senior/shifts", params=range_).json()["shifts"]
    url = oncall.get("/v1/oncall/schedules/senior/feed").json()["url"]
    path = url[url.index("/oncall/feeds/"):]
    feed = httpx.get(str(oncall.base_url).rstrip("/") + path, params=range_, timeout=15)  # no key: the URL is the proof
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"]))
              for e in Calendar.from_ical(feed.content).walk("VEVENT")]
    assert events == [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]),
                       f"On call: {TEAM} ({s['name']})") for s in shifts]
    assert len(events) == 8  # 1 Mar (a Sunday, the running turn) to 15 Apr: weekly turns from Monday 09:00


def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved_and_the_file_wins(system, people, oncall):
    admin = {"Authorization": f"Bearer {people['root']}"}
    before = oncall.get("/v1/oncall").json()
    schedule = {"team": "ops", "time_zone": "Mars/Olympus", "layers": [{"rotation": {
        "id": "r", "participants": ["ada"], "shift": {"days": 1}, "start": "2026-01-05T09:00:00Z"}}]}
    refused = oncall.put("/v1/oncall/schedules/ops", json=schedule, headers=admin)
    assert refused.status_code == 422 and refused.json()["field"] == "time_zone"
    policy = {"lead": "dee", "steps": [{"delay_minutes": 5, "targets": [{"schedule": "nope"}]}]}
    refused = oncall.put("/v1/oncall/policies/ops/2", json=policy, headers=admin)
    assert refused.status_code == 422 and "no schedule 'nope'" in refused.json()["detail"]
    refused = oncall.put("/v1/oncall/policies/ops/2", json={**policy, "steps": [{"delay_minutes": 0, "targets": [
        {"person": "ada"}]}]}, headers=admin)
    assert refused.status_code == 422 and refused.json()["field"] == "steps[0].delay_minutes"
    owned = oncall.put("/v1/oncall/schedules/senior", json={**schedule, "time_zone": "UTC"}, headers=admin)
    assert owned.status_code == 409 and "on-call file" in owned.json()["detail"]
    assert oncall.put("/v1/oncall/schedules/senior", json=schedule).status_code == 403, "agents do not edit schedules"
    assert oncall.get("/v1/oncall").json()["revision"] == before["revision"]


def test_the_person_whose_shift_starts_gets_the_hand_off_notice_with_the_open_work(mailbox, later, oncall):
    box, _ = mailbox
    _, _, now = on_call_now(oncall)
    start = [s for s in oncall.get("/v1/oncall/schedules/senior-night/shifts", params={
        "from": (now + timedelta(minutes=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}).json()["shifts"]]
    later.advance(datetime.fromisoformat(start[0]["start"]) - now + timedelta(seconds=5))
    notice = box.wait_for(lambda m: "fay@oncall.test" in str(m["To"]) and "on-call shift" in str(m["Subject"]),
                          timeout=60)
    assert f"Your on-call shift for {TEAM} starts:" in str(notice["Subject"])
    text = text_of(notice)
    assert "the platform is down for all users" in text and "[critical," in text
    gaps = oncall.get("/v1/oncall/gaps", params={"team": TEAM, "days": 1}).json()
    assert gaps["teams"][0]["team"] == TEAM


def test_the_cli_answers_who_is_on_call_and_loads_a_file_all_or_nothing(system, oncall, tmp_path):
    answer = json.loads(system.cli("oncall", "now", TEAM))
    assert answer["team"] == TEAM and [s["schedule"] for s in answer["schedules"]] == ["senior", "senior-night"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npeople:\n  - {id: gil, name: Gil, email: gil@oncall.test}\n"
                   "  - {id: zed, name: Zed, email: zed@oncall.test, time_zone: Mars/Olympus}\n")
    refused = subprocess.run([sys.executable, "-m", "services.cli", "oncall", "load", str(bad)],
                             env=system.env("intake"), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and f"{bad}:4: people[1].time_zone: unknown time zone" in refused.stderr
    assert "gil" not in {p["id"] for p in oncall.get("/v1/oncall").json()["people"]}, "nothing half-saved"
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\npeople:\n  - {id: gil, name: Gil, email: gil@oncall.test}\n")
    assert "stored as revision" in system.cli("oncall", "load", str(good))
    assert {"id": "gil", "source": "api"}.items() <= next(
        p for p in oncall.get("/v1/oncall").json()["people"] if p["id"] == "gil").items()
    assert "gil@oncall.test" in system.cli("oncall", "export")
