"""A ticket's timeline on the real database: entries stored packed, older ones paged out, nothing lost or repeated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.adapters.tickets import TIMELINE_KEPT, MongoTickets
from services.intake.domain.tickets import new_ticket_document

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def note(n: int) -> dict:
    return {"at": NOW, "action": "commented", "actor": {"type": "agent", "id": "a1", "name": "Ann"},
            "public": n % 2 == 0, "text": f"note {n}"}


async def test_entries_are_packed_and_a_long_timeline_pages_out_without_losing_or_repeating_one(db):
    store = MongoTickets(db)
    ticket = new_ticket_document(ticket_id="t1", number="INC-000001", fields={"title": "Export fails"},
                                 reporter={"id": "r1", "name": "Ada"}, now=NOW, outbox=[])
    await store.insert(ticket)
    raw = await db["tickets"].find_one({"_id": "t1"})
    assert raw["timeline"] and all(isinstance(entry, bytes) for entry in raw["timeline"]), "one value per entry"

    # the shape an older build stored: nested entries; they are read and extended alike
    nested = (await store.get("t1"))["timeline"]
    await db["tickets"].update_one({"_id": "t1"}, {"$set": {"timeline": nested}})
    first = len(nested)
    for batch in range(12):
        assert await store.change("t1", {}, {}, [note(batch * 10 + n) for n in range(10)], [])

    current = await store.get("t1")
    assert all(isinstance(entry, dict) for entry in current["timeline"])
    assert len(current["timeline"]) < 2 * TIMELINE_KEPT, "older entries moved to their pages"
    older = await store.older_timeline(current, current["timeline"][0]["seq"], 1000)
    seqs = sorted([entry["seq"] for entry in older] + [entry["seq"] for entry in current["timeline"]])
    assert seqs == list(range(seqs[0], seqs[0] + first + 120)), "every entry once, in order"
    texts = [entry.get("text") for entry in sorted(older + current["timeline"], key=lambda e: e["seq"])]
    assert texts[first:] == [f"note {n}" for n in range(120)]
