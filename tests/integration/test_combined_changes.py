"""Events of one ticket written together leave the ticket and its views exactly as one write each, on the real
database (intake's Combiner: services/intake/service_layer/combining.py)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from services.intake.adapters.combined_changes import NotCombinable
from services.intake.adapters.tickets import VIEWS_PENDING, MongoTickets
from services.intake.adapters.views import COLLECTION as VIEWS
from services.intake.adapters.views import unpacked
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.combining import TicketEventCombiner
from services.intake.service_layer.event_handlers import handlers
from services.intake.service_layer.rebuild import rebuild_views
from shared.clock import FakeClock
from shared.contracts import NotificationDelivered, NotificationFailed, make_envelope
from shared.contracts.sla_events import SlaClock, SlaClockChanged
from shared.persistence import make_client
from tests.factories import REPORTED_AT, triaged

pytestmark = pytest.mark.integration
TICKET = "01KBZ0J5D7Q2W8V4X6Y9T3R1MN"
NOW = REPORTED_AT + timedelta(minutes=3, microseconds=123_456)  # microseconds: stored as milliseconds


def random_events(rng: random.Random, count: int) -> list[tuple[Any, Any]]:
    """Return (envelope, payload) pairs of the combinable kinds, with times to the microsecond."""
    found = []
    for n in range(count):
        at = REPORTED_AT + timedelta(seconds=rng.randint(1, 5000), microseconds=rng.randint(0, 999_999))
        kind = rng.choice(["triaged", "clock", "clock", "sent", "failed"])
        if kind == "triaged":
            payload = triaged(ticket_id=TICKET, severity=rng.choice(["critical", "high", "medium", "low"]),
                              tier=rng.randint(1, 3), response_due_at=at + timedelta(hours=1),
                              resolution_due_at=at + timedelta(hours=8))
        elif kind == "clock":
            state = rng.choice(["running", "paused", "stopped"])
            change = {"running": rng.choice(["started", "resumed", "retargeted"]), "paused": "paused",
                      "stopped": "stopped"}[state]
            clock = SlaClock(state=state, gen=n, business=rng.random() < 0.3, budget_seconds=3600.0, anchor_at=at,
                             remaining_seconds=rng.uniform(-100, 3600), allowance="1 hour",
                             due_at=at + timedelta(seconds=rng.randint(60, 7200)) if state == "running" else None)
            payload = SlaClockChanged(ticket_id=TICKET, number="INC-000001", target=rng.choice(["response", "resolution"]),
                                      change=change, clock=clock, reason="test", changed_at=at)
        elif kind == "sent":
            payload = NotificationDelivered(delivery_id=f"d{n}", source_event_id=f"s{n}", message="status_changed",
                                            channel="email", recipient="ada@example.com", attempts=1, role="reporter")
        else:
            payload = NotificationFailed(delivery_id=f"d{n}", source_event_id=f"s{n}", message="escalation_page",
                                         channel="webhook", recipient="pager", attempts=3, error="HTTP 503")
        found.append((make_envelope(payload, producer="test", occurred_at=at, ticket_id=TICKET), payload))
    return found


def chunks(rng: random.Random, items: list) -> list[list]:
    """Return the items split into consecutive runs of 1 to 5, as they might queue up behind each other."""
    found, start = [], 0
    while start < len(items):
        size = rng.randint(1, 5)
        found.append(items[start:start + size])
        start += size
    return found


async def new_store(db) -> tuple[MongoTickets, dict]:
    """Return a store holding the one ticket, and its event handlers."""
    store = MongoTickets(db)
    await store.insert(new_ticket_document(ticket_id=TICKET, number="INC-000001",
                                           fields={"title": "Checkout times out", "type": "performance"},
                                           reporter={"id": "r1", "name": "Ada"}, now=REPORTED_AT, outbox=[]))
    return store, handlers(store, FakeClock(NOW), lambda event: None)


async def views_of(db) -> dict:
    """Return the view documents with their entries unpacked, without the revision each was projected from (an
    entry is rewritten only when what it shows changes: a rebuild's revisions are the ticket's latest)."""
    found = {}
    async for document in db[VIEWS].find({}):
        entries = unpacked(document).get("entries")
        if isinstance(entries, dict):
            document["entries"] = {key: {k: v for k, v in entry.items() if k != "rev"} if isinstance(entry, dict)
                                   else entry for key, entry in entries.items()}
        found[document["_id"]] = document
    return found


async def settled(store: MongoTickets, db) -> tuple[dict, dict]:
    """Return the ticket without its revision bookkeeping and the views, after checking they equal a rebuild."""
    ticket = await db.tickets.find_one({"_id": TICKET})
    live = await views_of(db)
    await db[VIEWS].delete_many({})
    await rebuild_views(store)
    assert await views_of(db) == live, "views equal a rebuild from the ticket"
    ticket.pop("rev")
    ticket.pop(VIEWS_PENDING, None)
    return ticket, live


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_events_written_together_leave_what_one_write_each_leaves(mongodb_url, db_name, seed):
    rng = random.Random(seed)
    events = random_events(rng, 14)
    client = make_client(mongodb_url)
    one_db, together_db = client[f"{db_name}_one"], client[f"{db_name}_together"]
    try:
        one, one_handlers = await new_store(one_db)
        for envelope, payload in events:
            await one_handlers[envelope.event_type](envelope, payload)
        together, together_handlers = await new_store(together_db)
        combiner = TicketEventCombiner(together, lambda recorder: handlers(recorder, FakeClock(NOW), lambda e: None))
        runs = chunks(rng, events)
        assert any(len(run) > 1 for run in runs)
        for run in runs:
            if len(run) == 1:
                await together_handlers[run[0][0].event_type](*run[0])
            else:
                await combiner.apply(run)
        (one_ticket, one_views), (together_ticket, together_views) = (await settled(one, one_db),
                                                                      await settled(together, together_db))
        assert together_ticket == one_ticket
        assert together_views == one_views
        assert len(one_ticket["timeline"]) == 1 + len(events)
    finally:
        await client.drop_database(f"{db_name}_one")
        await client.drop_database(f"{db_name}_together")
        await client.close()


async def test_a_redelivered_event_among_them_writes_nothing_so_each_is_handled_on_its_own(db):
    store, own_handlers = await new_store(db)
    combiner = TicketEventCombiner(store, lambda recorder: handlers(recorder, FakeClock(NOW), lambda e: None))
    first, second, third = random_events(random.Random(7), 3)
    await combiner.apply([first, second])
    before = await db.tickets.find_one({"_id": TICKET})
    with pytest.raises(NotCombinable, match="already applied"):
        await combiner.apply([second, third])
    assert await db.tickets.find_one({"_id": TICKET}) == before, "nothing written"
    for envelope, payload in (second, third):  # what the consumer then does
        await own_handlers[envelope.event_type](envelope, payload)
    after = await db.tickets.find_one({"_id": TICKET})
    assert len(after["timeline"]) == 4 and after["applied_events"][-3:] == [e.event_id for e, _ in (first, second, third)]


async def test_a_handler_doing_more_than_one_plain_change_is_not_combined(db):
    store, _ = await new_store(db)
    combiner = TicketEventCombiner(store, lambda recorder: handlers(recorder, FakeClock(NOW), lambda e: None))
    before = await db.tickets.find_one({"_id": TICKET})
    other = random_events(random.Random(8), 2)
    moved = [(other[0][0].model_copy(update={"ticket_id": "another"}), other[0][1]), other[1]]
    with pytest.raises(NotCombinable):
        await combiner.apply(list(reversed(moved)))
    assert not combiner.accepts(other[0][0].model_copy(update={"event_type": "sla.measured"}))
    assert await db.tickets.find_one({"_id": TICKET}) == before
