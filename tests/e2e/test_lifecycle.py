"""KB-005's ticket flows through the real services: report, acknowledge, ask, resolve, feedback."""

from __future__ import annotations

import pytest

from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def people(system):
    url = system.url("intake")
    return {
        "ada": Api(url, system.create_key("reporter", "Ada", "ada@example.com")),
        "bob": Api(url, system.create_key("reporter", "Bob", "bob@example.com")),
        "ann": Api(url, system.create_key("agent", "Ann Agent", "ann@support.local")),
    }


def actions_of(ticket):
    return [entry["action"] for entry in ticket["timeline"]]


def test_acknowledge_ask_for_info_answer_resolve_confirm(people):
    ada, ann = people["ada"], people["ann"]
    number = ada.report(severity=3, production=True)["number"]
    ada.wait_for(number, lambda t: t["severity"] is not None)

    ticket = ann.post(f"/v1/tickets/{number}/acknowledge", expect=200).json()
    assert ticket["status"] == "in_progress" and ticket["first_response_at"]

    asked = ann.post(f"/v1/tickets/{number}/status", {"status": "waiting_for_info", "reason": "Which browser?"}, expect=200)
    assert asked.json()["status"] == "waiting_for_info"
    ann.post(f"/v1/tickets/{number}/comments", {"body": "probably the CDN", "visibility": "internal"}, expect=201)

    answered = ada.post(f"/v1/tickets/{number}/comments", {"body": "Firefox 128"}, expect=201).json()
    assert answered["status"] == "in_progress"
    assert "probably the CDN" not in str(answered["timeline"])  # internal notes stay internal
    assert "probably the CDN" in str(ann.ticket(number)["timeline"])

    resolved = ann.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "Purged the CDN cache"}, expect=200)
    assert resolved.json()["resolution"]["proposed_solution"] == "Purged the CDN cache"
    closed = ada.post(f"/v1/tickets/{number}/feedback", {"feedback": "confirmed_fixed"}, expect=200).json()
    assert closed["status"] == "closed"
    assert {"reported", "triaged", "acknowledged", "status_changed", "commented", "resolved", "feedback"} <= set(actions_of(closed))


@pytest.mark.parametrize(("feedback", "status"), [("still_has_issues", "in_progress"), ("needs_more_info", "in_progress")])
def test_feedback_that_reopens(people, feedback, status):
    ada, ann = people["ada"], people["ann"]
    number = ada.report()["number"]
    ann.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "Retry the export"}, expect=200)
    ticket = ada.post(f"/v1/tickets/{number}/feedback", {"feedback": feedback, "comment": "Still 500 on big files"},
                      expect=200).json()
    assert ticket["status"] == status and ticket["reopened_count"] == 1


def test_illegal_move_is_409_naming_the_allowed_moves(people):
    ada, ann = people["ada"], people["ann"]
    number = ada.report()["number"]
    response = ada.post(f"/v1/tickets/{number}/status", {"status": "closed"}, expect=409)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["allowed"] == []
    ann.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "x"}, expect=200)
    response = ann.post(f"/v1/tickets/{number}/status", {"status": "on_hold"}, expect=409)
    assert response.json()["allowed"] == ["in_progress", "closed"]
    assert "resolved to on_hold" in response.json()["detail"]


def test_reporters_cannot_take_agent_actions(people):
    ada = people["ada"]
    number = ada.report()["number"]
    for path, body in [("acknowledge", None), ("resolve", {"proposed_solution": "x"}),
                       ("severity", {"severity": "low", "reason": "x"}), ("assign", {"assignee": "me"})]:
        response = ada.post(f"/v1/tickets/{number}/{path}", body)
        assert response.status_code == 403, (path, response.text)


def test_priority_bump_and_agent_severity_override(people):
    ada, ann = people["ada"], people["ann"]
    number = ada.report(severity="low")["number"]
    ada.wait_for(number, lambda t: t["severity"] is not None)
    ada.post(f"/v1/tickets/{number}/priority-bump", {"reason": "Payroll runs tonight", "requested_severity": 2}, expect=200)
    ticket = ann.post(f"/v1/tickets/{number}/severity", {"severity": "high", "reason": "payroll deadline"}, expect=200).json()
    assert ticket["severity"] == "high" and ticket["severity_source"] == "agent"
    assert {"priority_bump_requested", "severity_changed"} <= set(actions_of(ticket))


def test_feature_requests_are_voted_once_per_user_and_listed_by_votes(people):
    ada, bob, ann = people["ada"], people["bob"], people["ann"]
    small = ada.report(kind="feature_request", type="feature", title="Dark mode", use_case="night shifts")["number"]
    big = bob.report(kind="feature_request", type="feature", title="CSV import", use_case="bulk load",
                     importance="high")["number"]
    for api in (ada, bob, ann):
        api.post(f"/v1/feature-requests/{big}/votes", expect=200)
    ada.post(f"/v1/feature-requests/{small}/votes", expect=200)
    assert ada.post(f"/v1/feature-requests/{big}/votes").status_code == 409
    listed = [(f["number"], f["votes"]) for f in ada.get("/v1/feature-requests").json()]
    assert listed.index((big, 3)) < listed.index((small, 1))


def test_history_filters_pages_and_visibility(people):
    ada, bob, ann = people["ada"], people["bob"], people["ann"]
    mine = {ada.report(title=f"Filter probe {i}", type="access")["number"] for i in range(5)}
    bob.report(title="Filter probe bob", type="access")
    seen, cursor = [], None
    while True:
        params = {"q": "filter probe", "type": "access", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ada.get("/v1/tickets", params=params).json()
        seen += [t["number"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(seen) == mine and seen == sorted(seen, reverse=True)
    everyone = ann.get("/v1/tickets", params={"q": "filter probe", "limit": 100}).json()["items"]
    assert len(everyone) == 6
    assert ada.get("/v1/tickets", params={"status": "closed", "q": "filter probe"}).json()["items"] == []
    assert ada.get("/v1/tickets", params={"limit": 1000}, expect=422).json()["detail"].startswith("limit")


def test_attachments_upload_download_and_limits(people):
    ada, bob, ann = people["ada"], people["bob"], people["ann"]
    number = ada.report()["number"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2000  # ~0.5 MB, spans several chunks
    created = ada.post(f"/v1/tickets/{number}/attachments", content=png, params={"filename": "screen.png"},
                       headers={"Content-Type": "image/png"}, expect=201).json()
    assert created["size"] == len(png)
    assert ann.get(created["href"]).content == png
    bob.get(created["href"], expect=404)
    assert ada.post(f"/v1/tickets/{number}/attachments", content=b"MZ", params={"filename": "x.exe"},
                    headers={"Content-Type": "application/x-msdownload"}).status_code == 415
    assert ada.post(f"/v1/tickets/{number}/attachments", content=b"x", params={"filename": "../etc/passwd"},
                    headers={"Content-Type": "text/plain"}).status_code == 422
    assert [a["filename"] for a in ada.get(f"/v1/tickets/{number}/attachments").json()] == ["screen.png"]


def test_idempotency_key_replays_and_refuses_a_different_body(people):
    ada = people["ada"]
    body = {"title": "Idempotent report", "type": "access", "description": "once"}
    first = ada.post("/v1/tickets", body, headers={"Idempotency-Key": "abc-123"}, expect=201)
    again = ada.post("/v1/tickets", body, headers={"Idempotency-Key": "abc-123"}, expect=201)
    assert again.json()["number"] == first.json()["number"]
    other = ada.post("/v1/tickets", {**body, "description": "twice"}, headers={"Idempotency-Key": "abc-123"}, expect=422)
    assert "different body" in other.json()["detail"]


def test_the_reporter_is_emailed_what_support_does_and_nothing_internal(people, mailbox):
    box, _ = mailbox
    ada, ann = people["ada"], people["ann"]
    number = ada.report(title="Mail lifecycle probe")["number"]
    ann.post(f"/v1/tickets/{number}/acknowledge", expect=200)
    ann.post(f"/v1/tickets/{number}/comments", {"body": "secret internal note", "visibility": "internal"}, expect=201)
    ann.post(f"/v1/tickets/{number}/status", {"status": "waiting_for_info", "reason": "Which export format?"}, expect=200)
    ann.post(f"/v1/tickets/{number}/comments", {"body": "We are looking at the CSV writer."}, expect=201)
    ann.post(f"/v1/tickets/{number}/resolve", {"proposed_solution": "Fixed the CSV writer"}, expect=200)

    def about(word):
        return lambda m: number in (m["Subject"] or "") and word in (m["Subject"] or "")

    asked = box.wait_for(about("more information"))
    assert "Which export format?" in asked.get_body(("plain",)).get_content()
    comment = box.wait_for(about("New comment"))
    assert "We are looking at the CSV writer." in comment.get_body(("plain",)).get_content()
    proposed = box.wait_for(about("Proposed solution"))
    text = proposed.get_body(("plain",)).get_content()
    assert "Fixed the CSV writer" in text and "Still Has Issues" in text
    moved = box.wait_for(about("In Progress"))
    assert moved["To"] == "ada@example.com"
    mine = [m for m in box.messages() if number in (m["Subject"] or "")]
    assert not any("secret internal note" in m.get_body(("plain",)).get_content() for m in mine)
    assert len([m for m in mine if "New comment" in m["Subject"]]) == 1
