"""Shelves: bounded buckets for history and reporter summaries, and pages read from them newest first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from ulid import ULID

from services.intake.domain.shelves import Shelf, Shelving, directory_updates, shelves_in, within
from services.intake.domain.views import build_views, day_id, mine_id, sla_id
from services.intake.service_layer.queries import TicketFilter, _page, newest_on_shelves

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def ticket(minute: int, reporter: str = "r1") -> dict:
    created = START + timedelta(minutes=minute)
    return {"_id": str(ULID.from_timestamp(created.timestamp())), "created_at": created,
            "reporter": {"id": reporter}}


def test_a_group_fills_its_shelf_to_the_size_then_opens_the_next():
    shelving = Shelving(history_size=3, reporter_size=2)
    placed = [shelving.place(ticket(n)) for n in range(7)]
    assert [p["history_rank"] for p in placed] == [0, 1, 2, 0, 1, 2, 0]
    assert len({p["history"] for p in placed}) == 3
    assert [p["reporter_rank"] for p in placed] == [0, 1, 0, 1, 0, 1, 0]
    assert placed[0]["history"].startswith("2026-11-02-"), "a history shelf holds one day"


def test_a_new_day_or_reporter_opens_its_own_shelf():
    shelving = Shelving()
    first, next_day, other = (shelving.place(ticket(0)), shelving.place(ticket(24 * 60)),
                              shelving.place(ticket(1, reporter="r2")))
    assert first["history"] != next_day["history"] and next_day["history"].startswith("2026-11-03-")
    assert first["reporter"] == next_day["reporter"] != other["reporter"]


def test_a_process_continues_the_newest_shelf_it_learns_and_never_one_from_before_shelves():
    shelving = Shelving(history_size=3, reporter_size=3)
    shelving.learn("reporter:r1", Shelf("01KEYOPENEDBYANOTHERPROCESS", "01A", "01B", 1))
    assert shelving.place(ticket(0))["reporter"] == "01KEYOPENEDBYANOTHERPROCESS"
    shelving.learn("reporter:r1", Shelf("2026", "01A", "01B", 0))  # a year document of old tickets
    assert shelving.place(ticket(1))["reporter"] != "2026"


def test_tickets_from_before_shelves_stay_on_their_day_and_year_documents():
    old = ticket(0)
    assert (day_id(old), sla_id(old), mine_id(old)) == ("day:2026-11-02", "sla:2026-11-02", "mine:r1:2026")


def test_a_directory_records_each_shelf_s_range_and_a_rebuild_computes_the_same():
    shelving = Shelving(history_size=2, reporter_size=2)
    tickets = []
    for n in range(5):
        t = {**ticket(n), "number": f"INC-{n:06d}", "title": "export slow", "status": "open"}
        t["shelves"] = shelving.place(t)
        tickets.append(t)
    built = build_views(tickets)
    shelves = shelves_in(built["reporter:r1"])
    assert [(s.first, s.last, s.rank) for s in shelves] == [
        (tickets[4]["_id"], tickets[4]["_id"], 0), (tickets[2]["_id"], tickets[3]["_id"], 1),
        (tickets[0]["_id"], tickets[1]["_id"], 1)]
    assert set(directory_updates(tickets[0])) == {"days:2026-11", "reporter:r1"}
    assert within(shelves, tickets[2]["_id"], None) == shelves[2:], "only shelves with ids below the cursor"


class ShelfViews:
    """An in-memory stand-in for MongoViews.entries (unit tests only)."""

    def __init__(self, shelves: dict[str, list[dict]]) -> None:
        self.shelves = shelves
        self.reads = 0

    async def entries(self, doc_ids):
        found = []
        for doc_id in doc_ids:
            self.reads += 1
            found += self.shelves.get(doc_id, [])
        return found


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 500), max_size=6), min_size=1, max_size=12), st.integers(1, 5),
       st.one_of(st.none(), st.integers(0, 500)), st.sampled_from([None, "open", "closed"]))
def test_a_page_read_from_shelves_is_the_newest_of_all_entries(layout, limit, cursor, status):
    ids = {n: f"{n:04d}" for shelf in layout for n in shelf}
    shelves, documents, everything, seen = [], {}, [], set()
    for number, members in enumerate(layout):
        mine = set(members) - seen  # a ticket is on one shelf
        seen |= mine
        entries = [{"id": ids[n], "status": "open" if n % 3 else "closed", "created_at": START} for n in mine]
        if entries:
            everything += entries
            documents[f"day:s{number}"] = entries
            shelves.append(Shelf(f"s{number}", min(e["id"] for e in entries), max(e["id"] for e in entries), 0))
    shelves.sort(key=lambda shelf: shelf.last, reverse=True)
    wanted, before = TicketFilter(status=status), (f"{cursor:04d}" if cursor is not None else None)
    found = asyncio.run(newest_on_shelves(ShelfViews(documents), "day:", shelves, wanted, before, limit))
    page = _page(found, wanted, before, limit, None)
    expected = _page(everything, wanted, before, limit, None)
    assert page == expected
