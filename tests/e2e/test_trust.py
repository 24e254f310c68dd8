"""Trust boundaries through the real gateway: keys that expire and are revoked, admins, vendor keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bench.system import wait_until
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def people(system):
    url = system.url("intake")
    return {"ada": Api(url, system.create_key("reporter", "Ada", "ada@example.com")),
            "ann": Api(url, system.create_key("agent", "Ann Agent", "ann@support.local")),
            "root": Api(url, system.create_key("admin", "Rita Admin", "rita@support.local"))}


def status_with(system, key: str, path: str = "/v1/me") -> int:
    return httpx.get(system.url("intake") + path, headers={"Authorization": f"Bearer {key}"}).status_code


def test_a_revoked_key_stops_at_once_and_the_list_never_shows_keys(system):
    key = system.create_key("reporter", "Leaver", "leaver@example.com")
    assert status_with(system, key) == 200
    listing = system.cli("keys", "list", "--role", "reporter")
    assert key not in listing and "Leaver" in listing
    key_id = next(line.split()[0] for line in listing.splitlines() if "Leaver" in line)
    assert "revoked" in system.cli("keys", "revoke", key_id)
    assert status_with(system, key) == 401
    assert "revoked" in next(line for line in system.cli("keys", "list").splitlines() if line.startswith(key_id))


def test_admins_manage_keys_and_agents_cannot(system, people):
    assert people["ann"].get("/v1/admin/keys", expect=403).json()["detail"] == "only admins manage keys and users"
    people["ada"].get("/v1/admin/keys", expect=403)
    soon = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    issued = people["root"].post("/v1/admin/keys", {"role": "agent", "name": "Temp", "expires_at": soon},
                                 expect=201).json()
    assert status_with(system, issued["key"]) == 200
    assert any(k["key_id"] == issued["key_id"] and k["state"] == "active"
               for k in people["root"].get("/v1/admin/keys").json())
    wait_until(lambda: status_with(system, issued["key"]) == 401, "the key to expire", 30)
    other = people["root"].post("/v1/admin/keys", {"role": "reporter", "name": "Bo"}, expect=201).json()
    revoked = people["root"].post(f"/v1/admin/users/{other['principal_id']}/revoke", expect=200).json()
    assert revoked["revoked"] == 1 and status_with(system, other["key"]) == 401
    assert people["ann"].post("/v1/admin/keys", {"role": "admin", "name": "Me too"}).status_code == 403


def test_admins_can_do_what_agents_can(people):
    number = people["ada"].report(title="Admin takes it up")["number"]
    people["root"].post(f"/v1/tickets/{number}/acknowledge", expect=200)
    assert people["ada"].wait_for(number, lambda t: t["status"] == "in_progress")


def test_a_vendor_key_sees_only_what_was_handed_to_its_vendor(system, people):
    ada, ann = people["ada"], people["ann"]
    handed = ada.report(title="Card payments fail", type="data", component="payments-gateway",
                        description="Every card payment is declined by the gateway since 10:00.")
    mine = ada.report(title="Export fails for me")
    acme = Api(system.url("intake"), system.cli("keys", "create", "--role", "vendor", "--name", "Acme",
                                                "--vendor", "acme"))
    globex = Api(system.url("intake"), system.cli("keys", "create", "--role", "vendor", "--name", "Globex",
                                                  "--vendor", "globex"))
    ann.wait_for(handed["number"], lambda t: (t.get("vendor") or {}).get("id") == "acme", 60)
    wait_until(lambda: acme.get(f"/v1/tickets/{handed['number']}", expect=None).status_code == 200,
               "the vendor to see its hand-off", 30)
    acme.get(f"/v1/tickets/{mine['number']}", expect=404)
    globex.get(f"/v1/tickets/{handed['number']}", expect=404)
    listed = wait_until(lambda: [t["id"] for t in acme.get("/v1/tickets").json()["items"]] or None,
                        "the vendor's list", 30)
    assert listed == [handed["id"]]
    assert globex.get("/v1/tickets").json()["items"] == []
    refused = acme.post("/v1/tickets", {"title": "Vendor opens one", "type": "data", "description": "y"}, expect=403)
    assert "vendor" in refused.json()["detail"]
    assert acme.post(f"/v1/tickets/{mine['number']}/comments", {"body": "hi"}).status_code == 404


def test_votes_name_no_one_publicly_vendors_do_not_vote_and_closed_requests_take_none(system, people):
    ada, ann = people["ada"], people["ann"]
    bob = Api(system.url("intake"), system.create_key("reporter", "Bob Voter", "bob@example.com"))
    wanted = ada.report(kind="feature_request", type="feature", title="Dark mode please", use_case="night shifts")
    number = wanted["number"]
    bob.post(f"/v1/feature-requests/{number}/votes", expect=200)
    seen_by_owner = ada.ticket(number)
    assert seen_by_owner["votes"] == 1
    assert "Bob Voter" not in str(seen_by_owner["timeline"]), "the owner's timeline does not name voters"
    assert any("Bob Voter" in e["detail"] for e in ann.ticket(number)["timeline"]), "support staff see who voted"
    vendor = Api(system.url("intake"), system.cli("keys", "create", "--role", "vendor", "--name", "Acme Voter",
                                                  "--vendor", "acme"))
    assert vendor.post(f"/v1/feature-requests/{number}/votes").status_code == 403
    ann.post(f"/v1/tickets/{number}/status", {"status": "closed", "reason": "won't do"}, expect=200)
    carol = Api(system.url("intake"), system.create_key("reporter", "Carol", "carol@example.com"))
    refused = carol.post(f"/v1/feature-requests/{number}/votes", expect=409)
    assert "closed" in refused.json()["detail"]


def test_a_look_alike_report_learns_nothing_of_the_original_and_cannot_raise_it(system, people):
    ada, ann = people["ada"], people["ann"]
    mallory = Api(system.url("intake"), system.create_key("reporter", "Mallory", "mallory@example.com"))
    original = ada.report(title="Payroll export times out", type="performance", users_affected=3,
                          description="The payroll export never finishes.")
    ann.wait_for(original["number"], lambda t: t["severity"] is not None)
    copies = [mallory.report(title="Payroll export times out!", type="performance", users_affected=100_000_000,
                             description="Same here.") for _ in range(3)]
    grouped = ann.wait_for(copies[-1]["number"], lambda t: t.get("duplicate_of") is not None, 60)
    assert grouped["duplicate_of"]["number"] == original["number"], "support staff see the link"
    primary = ann.wait_for(original["number"], lambda t: (t.get("group") or {}).get("reports") == 4, 60)
    assert primary["group"]["users_affected"] == 4, "the original's 3 users and one more reporter, not 100 million"
    assert primary["severity"] in ("low", "medium"), "a look-alike's claim does not raise the original"
    for copy in copies:
        seen = mallory.get(f"/v1/tickets/{copy['number']}").text
        assert original["number"] not in seen and original["id"] not in seen
    assert copies[0]["number"] not in ada.get(f"/v1/tickets/{original['number']}").text
