"""Triage's collections on the real server: groups count every report once, severity changes are guarded."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.triage.adapters import fingerprints
from services.triage.adapters.fingerprints import Member, MongoFingerprintGroups
from services.triage.adapters.triage_records import MongoTriageRecords

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)


def member(i: int, users: int = 1, at: datetime = START, reporter: str | None = None, verified: bool = True) -> Member:
    return Member(ticket_id=f"t{i}", number=f"INC-{i:06d}", reported_at=at + timedelta(seconds=i), users=users,
                  reporter_id=reporter or f"r{i}", verified=verified)


async def test_concurrent_reports_of_one_fingerprint_are_each_counted_once(db):
    groups = MongoFingerprintGroups(db)
    results = await asyncio.gather(*(groups.register("fp", member(i, users=i + 1), WINDOW) for i in range(12)))
    assert sum(r.is_primary for r in results) == 1
    assert sum(r.newly_joined for r in results) == 11
    document = await db.triage_fingerprints.find_one({"_id": "fp"})
    assert document["reports"] == 12
    primary_claim = int(document["primary_ticket_id"][1:]) + 1
    assert document["users_affected"] == primary_claim + 11, "the primary's claim, and one per other reporter"
    members = await db.triage_fingerprint_members.find({}).to_list()
    assert sorted(m["ticket_id"] for m in members) == sorted(f"t{i}" for i in range(12))
    assert {m["primary_ticket_id"] for m in members} == {document["primary_ticket_id"]}
    again = await groups.register("fp", member(3, users=4), WINDOW)
    assert not again.newly_joined and again.group.reports == 12


async def test_a_report_after_the_window_opens_a_new_group(db):
    groups = MongoFingerprintGroups(db)
    await groups.register("fp", member(1), WINDOW)
    joined = await groups.register("fp", member(2), WINDOW)
    assert joined.newly_joined and joined.group.primary_ticket_id == "t1"
    later = await groups.register("fp", member(3, at=START + timedelta(days=2)), WINDOW)
    assert later.is_primary and later.group.primary_ticket_id == "t3" and later.group.reports == 1
    document = await db.triage_fingerprints.find_one({"_id": "fp"})
    assert document["recent_ids"] == ["t3"] and document["users_affected"] == 1 and document["reports"] == 1
    members = await db.triage_fingerprint_members.find({"primary_ticket_id": "t3"}).to_list()
    assert members == [], "a group of one needs no member documents (its primary is in the group)"


async def test_severity_changes_are_guarded_by_the_expected_severity(db):
    records = MongoTriageRecords(db)
    assert await records.record("t1", {"number": "INC-000001", "severity": "medium"}, []) is True
    first = await records.get("t1")
    assert first["severity"] == "medium" and first["changes"] == []
    assert await records.record("t1", {"number": "INC-000001", "severity": "low"}, []) is False
    assert (await records.get("t1"))["severity"] == "medium", "a repeat keeps the first"
    assert await records.change_severity("t1", "medium", {"severity": "high"}, {"to": "high"}, []) is True
    assert await records.change_severity("t1", "medium", {"severity": "critical"}, {"to": "critical"}, []) is False
    stored = await records.get("t1")
    assert stored["severity"] == "high" and stored["changes"] == [{"to": "high"}]


async def test_a_group_document_stays_small_however_many_join(db):
    groups = MongoFingerprintGroups(db)
    with_ring = fingerprints.RECENT
    fingerprints.RECENT = 5
    try:
        for i in range(20):
            await groups.register("storm", member(i), WINDOW)
    finally:
        fingerprints.RECENT = with_ring
    document = await db.triage_fingerprints.find_one({"_id": "storm"})
    assert document["reports"] == 20 and document["recent_ids"] == [f"t{i}" for i in range(15, 20)]
    assert await db.triage_fingerprint_members.count_documents({}) == 20
    again = await groups.register("storm", member(2), WINDOW)  # long out of the ring: its document counts
    assert not again.newly_joined and again.group.reports == 20


async def test_a_group_stored_with_member_arrays_is_joined_once_and_slimmed(db):
    await db.triage_fingerprints.insert_one({
        "_id": "old", "primary_ticket_id": "t0", "primary_number": "INC-000000", "opened_at": START,
        "last_report_at": START, "reports": 2, "users_affected": 2, "member_ids": ["t0", "t1"],
        "members": [{"ticket_id": "t0"}, {"ticket_id": "t1"}], "rev": 3})
    groups = MongoFingerprintGroups(db)
    assert not (await groups.register("old", member(1), WINDOW)).newly_joined
    joined = await groups.register("old", member(2), WINDOW)
    assert joined.newly_joined and joined.group.reports == 3
    document = await db.triage_fingerprints.find_one({"_id": "old"})
    assert "members" not in document and "member_ids" not in document
    assert document["recent_ids"] == ["t0", "t1", "t2"]


async def test_look_alike_reports_cannot_raise_someone_elses_ticket(db):
    groups = MongoFingerprintGroups(db)
    await groups.register("fp", member(0, users=3, reporter="victim"), WINDOW)
    for i in range(1, 6):  # one attacker, five look-alikes, each claiming a hundred million users
        await groups.register("fp", member(i, users=100_000_000, reporter="attacker"), WINDOW)
    for i in range(6, 9):  # unverified senders count for nothing
        await groups.register("fp", member(i, users=50, reporter=f"spoofed{i}", verified=False), WINDOW)
    document = await db.triage_fingerprints.find_one({"_id": "fp"})
    assert document["reports"] == 9
    assert document["users_affected"] == 3 + 1, "the victim's own claim and one distinct verified reporter"
    await groups.register("fp", member(9, reporter="colleague"), WINDOW)
    assert (await db.triage_fingerprints.find_one({"_id": "fp"}))["users_affected"] == 5
