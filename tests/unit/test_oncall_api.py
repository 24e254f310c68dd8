"""Escalation's on-call API with an in-memory store: keys, roles, refusals naming the field, nothing half-saved,
the file winning, who is on call, overrides, gaps, and iCal feeds that parse back to the JSON shifts."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from icalendar import Calendar

from services.escalation.entrypoints import oncall_api, oncall_feeds
from services.escalation.entrypoints.oncall_auth import IdentifyFirst
from services.escalation.service_layer.oncall_catalog import OnCallCatalog
from shared.clock import FakeClock
from shared.problems import install_problem_handlers
from tests.fakes import FakeIdentities
from tests.fakes_escalation import FakeOnCallStore
from tests.oncall_builders import senior_file

NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)
KEYS = {"admin-key": ("root", "admin"), "agent-key": ("ann", "agent"), "reporter-key": ("rita", "reporter")}
ADMIN, AGENT, REPORTER = ({"Authorization": f"Bearer {k}"} for k in KEYS)
FEED_SECRET = "unit-test-feed-secret-0123456789"

OPS_PEOPLE = {"name": "Olga Ops", "email": "olga@example.com", "time_zone": "Europe/Berlin"}
OPS_SCHEDULE = {"team": "ops", "time_zone": "UTC", "layers": [{"rotation": {
    "id": "ops-weekly", "participants": ["olga", "eve"], "shift": {"weeks": 1}, "start": "2026-01-05T09:00:00+01:00",
    "handoff": "09:00", "time_zone": "Europe/Berlin"}}]}


@pytest.fixture
def api():
    store = FakeOnCallStore()
    state = SimpleNamespace(clock=FakeClock(NOW), identities=FakeIdentities(KEYS),
                            oncall=OnCallCatalog(store, senior_file(), cache_seconds=0),
                            settings=SimpleNamespace(oncall_feed_secret=FEED_SECRET,
                                                     oncall_feed_base_url="http://escalation.test"))
    app = FastAPI()
    install_problem_handlers(app)
    app.state.__dict__.update(vars(state))
    app.include_router(oncall_api.router)
    app.include_router(oncall_feeds.router)
    app.add_middleware(IdentifyFirst, state=app.state)
    with TestClient(app) as client:
        client.store = store
        yield client


def put(api, path, body, headers=ADMIN):
    return api.put(f"/v1/oncall{path}", json=body, headers=headers)


def test_every_route_wants_a_key_of_staff_and_changes_want_an_admin(api):
    assert api.get("/v1/oncall").status_code == 401
    assert api.get("/v1/oncall", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/v1/oncall", headers=REPORTER).status_code == 403
    assert api.get("/v1/oncall", headers=AGENT).status_code == 200
    refused = put(api, "/people/olga", OPS_PEOPLE, headers=AGENT)
    assert refused.status_code == 403 and "admins" in refused.json()["detail"]
    assert api.store.writes == 0


def test_a_bad_key_is_refused_before_the_body_is_read(api):
    response = api.put("/v1/oncall/people/olga", content=b"{not json", headers={"Authorization": "Bearer nope",
                                                                                  "Content-Type": "application/json"})
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"


def test_the_configuration_shows_where_each_item_comes_from_and_the_file_wins(api):
    assert put(api, "/people/olga", OPS_PEOPLE).status_code == 200
    view = api.get("/v1/oncall", headers=AGENT).json()
    sources = {p["id"]: p["source"] for p in view["people"]}
    assert sources["ada"] == "file" and sources["olga"] == "api" and view["file"] == "oncall.yaml"
    refused = put(api, "/people/ada", OPS_PEOPLE)
    assert refused.status_code == 409 and "defined in the on-call file oncall.yaml" in refused.json()["detail"]


BAD_SCHEDULES = {
    "unknown zone": ({"time_zone": "Mars/Olympus"}, "time_zone"),
    "empty rotation": ({"layers": [{"rotation": {**OPS_SCHEDULE["layers"][0]["rotation"], "participants": []}}]},
                       "layers[0].rotation.participants"),
    "rotation zone": ({"layers": [{"rotation": {**OPS_SCHEDULE["layers"][0]["rotation"], "time_zone": "Nowhere"}}]},
                      "layers[0].rotation.time_zone"),
    "no layers": ({"layers": []}, "layers"),
    "unknown participant": ({"layers": [{"rotation": {**OPS_SCHEDULE["layers"][0]["rotation"],
                                                      "participants": ["olga", "zed"]}}]},
                            "schedules.ops-primary.layers[0].rotation.participants"),
}


@pytest.mark.parametrize("change, field", BAD_SCHEDULES.values(), ids=BAD_SCHEDULES.keys())
def test_a_bad_schedule_is_refused_naming_the_field_and_nothing_is_saved(api, change, field):
    put(api, "/people/olga", OPS_PEOPLE)
    put(api, "/people/eve-2", {**OPS_PEOPLE, "name": "Eve"})
    before = (api.store.writes, api.get("/v1/oncall", headers=AGENT).json())
    refused = put(api, "/schedules/ops-primary", {**OPS_SCHEDULE, **change})
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field and refused.json()["detail"].startswith(f"{field}: ")
    assert (api.store.writes, api.get("/v1/oncall", headers=AGENT).json()) == before


@pytest.mark.parametrize("step, field", [
    ({"delay_minutes": 0, "targets": [{"schedule": "senior"}]}, "steps[0].delay_minutes"),
    ({"delay_minutes": 5, "targets": [{"schedule": "missing"}]}, "policies.ops/tier-2.steps[0].targets[0].ref"),
    ({"delay_minutes": 5, "targets": []}, "steps[0].targets"),
], ids=["zero delay", "missing schedule", "no targets"])
def test_a_bad_policy_is_refused_naming_the_field_and_nothing_is_saved(api, step, field):
    refused = put(api, "/policies/ops/2", {"lead": "ada", "steps": [step]})
    assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    assert api.store.writes == 0


def test_removing_someone_a_schedule_still_names_is_refused(api):
    put(api, "/people/olga", OPS_PEOPLE)
    put(api, "/people/eve-2", {**OPS_PEOPLE, "name": "Eve"})
    schedule = {**OPS_SCHEDULE, "layers": [{"rotation": {**OPS_SCHEDULE["layers"][0]["rotation"],
                                                        "participants": ["olga", "eve-2"]}}]}
    assert put(api, "/schedules/ops-primary", schedule).status_code == 200
    writes = api.store.writes
    refused = api.delete("/v1/oncall/people/olga", headers=ADMIN)
    assert refused.status_code == 422 and "no person 'olga'" in refused.json()["detail"]
    assert api.store.writes == writes
    assert api.delete("/v1/oncall/schedules/ops-primary", headers=ADMIN).status_code == 200
    assert api.delete("/v1/oncall/people/olga", headers=ADMIN).status_code == 200
    assert api.delete("/v1/oncall/people/olga", headers=ADMIN).status_code == 404


def test_who_is_on_call_now_and_at_a_time_and_an_override_by_an_agent(api):
    now = api.get("/v1/oncall/teams/senior-engineering/now", headers=AGENT).json()
    assert now["schedules"] == [{"schedule": "senior", "on_call": [
        {"id": "ada", "name": "Ada Lovelace", "email": "ada@example.com", "time_zone": "Europe/London", "slack": None,
         "webhook": None}]}]
    assert now["policies"][0]["first_step"]["people"][0]["id"] == "ada" and now["policies"][0]["lead"]["id"] == "dee"
    later = api.get("/v1/oncall/teams/senior-engineering/now", params={"at": "2026-01-06T10:00:00Z"}, headers=AGENT)
    assert later.json()["schedules"][0]["on_call"][0]["id"] == "bob"
    added = api.post("/v1/oncall/schedules/senior/overrides", headers=AGENT, json={
        "kind": "replace", "person": "eve", "instead_of": "ada", "start": "2026-01-05T09:30:00Z",
        "end": "2026-01-05T12:00:00Z"})
    assert added.status_code == 201, added.text
    assert api.get("/v1/oncall/teams/senior-engineering/now", headers=AGENT).json()[
        "schedules"][0]["on_call"][0]["id"] == "eve"
    assert api.delete(f"/v1/oncall/overrides/{added.json()['override']['id']}", headers=AGENT).status_code == 200
    assert api.get("/v1/oncall/teams/senior-engineering/now", headers=AGENT).json()[
        "schedules"][0]["on_call"][0]["id"] == "ada"
    assert api.get("/v1/oncall/teams/nobody/now", headers=AGENT).status_code == 404
    assert api.get("/v1/oncall/teams/x/now", params={"at": "2026-01-06T10:00:00"}, headers=AGENT).status_code == 422


def test_an_override_that_cannot_work_is_refused(api):
    bad = api.post("/v1/oncall/schedules/senior/overrides", headers=AGENT, json={
        "kind": "replace", "person": "eve", "instead_of": "eve", "start": "2026-01-05T09:30:00Z",
        "end": "2026-01-05T08:00:00Z"})
    assert bad.status_code == 422 and bad.json()["field"] in ("end", "instead_of")
    unknown = api.post("/v1/oncall/schedules/nope/overrides", headers=AGENT, json={
        "kind": "add", "person": "eve", "start": "2026-01-05T09:30:00Z", "end": "2026-01-05T10:00:00Z"})
    assert unknown.status_code == 422 and unknown.json()["field"].endswith(".schedule")
    assert api.store.writes == 0


def test_coverage_gaps_report_a_remove_override(api):
    assert api.get("/v1/oncall/gaps", headers=AGENT).json()["teams"][0]["gap_seconds"] == 0
    api.post("/v1/oncall/schedules/senior/overrides", headers=AGENT, json={
        "kind": "remove", "person": "ada", "start": "2026-01-05T12:00:00Z", "end": "2026-01-05T14:00:00Z"})
    report = api.get("/v1/oncall/gaps", params={"days": 2}, headers=AGENT).json()
    team = report["teams"][0]
    assert team["team"] == "senior-engineering" and team["gap_seconds"] == 7200
    assert team["schedules"][0]["gaps"] == [{"start": "2026-01-05T12:00:00+00:00", "end": "2026-01-05T14:00:00+00:00"}]


def events_of(feed: bytes) -> list[tuple[datetime, datetime, str]]:
    return [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in Calendar.from_ical(feed).walk("VEVENT")]


def test_the_ical_feed_parsed_by_icalendar_shows_the_shifts_of_the_json_api(api):
    range_ = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-12T00:00:00Z"}
    shifts = api.get("/v1/oncall/schedules/senior/shifts", params=range_, headers=AGENT).json()["shifts"]
    ics = api.get("/v1/oncall/schedules/senior/shifts", params={**range_, "format": "ics"}, headers=AGENT)
    assert ics.headers["content-type"].startswith("text/calendar")
    expected = [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]), f"On call: senior-engineering "
                 f"({s['name']})") for s in shifts]
    assert events_of(ics.content) == expected and len(expected) == 7
    url = api.get("/v1/oncall/schedules/senior/feed", headers=AGENT).json()["url"]
    assert url.startswith("http://escalation.test/oncall/feeds/")
    subscribed = api.get(url.removeprefix("http://escalation.test"), params=range_)  # no API key: the URL is the proof
    assert subscribed.status_code == 200 and events_of(subscribed.content) == expected


def test_a_person_feed_shows_their_shifts_only(api):
    range_ = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-12T00:00:00Z"}
    mine = api.get("/v1/oncall/people/bob/shifts", params=range_, headers=AGENT).json()["shifts"]
    assert [s["start"] for s in mine] == ["2026-01-06T09:00:00+00:00", "2026-01-08T09:00:00+00:00",
                                          "2026-01-10T09:00:00+00:00"]
    url = api.get("/v1/oncall/people/bob/feed", headers=AGENT).json()["url"].removeprefix("http://escalation.test")
    assert [e[0].isoformat() for e in events_of(api.get(url, params=range_).content)] == [s["start"] for s in mine]


def test_a_forged_or_altered_feed_url_opens_nothing(api):
    url = api.get("/v1/oncall/schedules/senior/feed", headers=AGENT).json()["url"].removeprefix("http://escalation.test")
    token = url.removeprefix("/oncall/feeds/").removesuffix(".ics")
    body, mac = token.split(".")
    forged = oncall_feeds.feed_token("person", "ada", "another-secret-0123456789")
    for bad in (f"{body}.{mac[:-2]}AA", forged, "x" * 40, f"{body[:-4]}.{mac}"):
        assert api.get(f"/oncall/feeds/{bad}.ics").status_code == 404


def test_ranges_are_checked(api):
    for params in ({"from": "2026-01-05T00:00:00Z", "to": "2026-01-04T00:00:00Z"},
                   {"from": "2026-01-05T00:00:00Z", "to": "2028-01-05T00:00:00Z"}):
        assert api.get("/v1/oncall/schedules/senior/shifts", params=params, headers=AGENT).status_code == 422
    assert api.get("/v1/oncall/schedules/nope/shifts", headers=AGENT).status_code == 404
    assert api.get("/v1/oncall/gaps", params={"days": 0}, headers=AGENT).status_code == 422


def test_replacing_the_stored_configuration_is_all_or_nothing(api):
    put(api, "/people/olga", OPS_PEOPLE)
    good = {"version": 1, "people": [{"id": "zoe", **OPS_PEOPLE}], "schedules": [], "policies": [], "overrides": []}
    bad = {**good, "schedules": [{"id": "z", **OPS_SCHEDULE}]}  # names olga and eve... but olga is gone in it
    writes = api.store.writes
    refused = api.put("/v1/oncall", json=bad, headers=ADMIN)
    assert refused.status_code == 422 and "no person 'olga'" in refused.json()["detail"]
    assert api.store.writes == writes
    stored = api.put("/v1/oncall", json=good, headers=ADMIN).json()
    assert {p["id"] for p in stored["people"] if p["source"] == "api"} == {"zoe"}
    assert api.put("/v1/oncall", json={**good, "people": [{"id": "ada", **OPS_PEOPLE}]}, headers=ADMIN).status_code == 409


def test_two_admins_writing_at_once_do_not_lose_a_change(api):
    store = api.store
    original = store.write
    raced = {"done": False}

    async def write_after_someone_else(rev, content, by, now):
        if not raced["done"]:
            raced["done"] = True
            await original(rev, {**content, "people": [{"id": "kim", **OPS_PEOPLE}]}, "other", now)
        return await original(rev, content, by, now)

    store.write = write_after_someone_else
    assert put(api, "/people/olga", OPS_PEOPLE).status_code == 200
    people = {p["id"] for p in api.get("/v1/oncall", headers=AGENT).json()["people"] if p["source"] == "api"}
    assert people == {"kim", "olga"}, "the second write started over from the first one's result"
