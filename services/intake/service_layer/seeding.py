"""Seeding a database with many realistic tickets quickly, for benchmarks: `incidents seed`.

Realistic means copies of real tickets: the templates are tickets already in the database, reported,
triaged and worked through the running system (bench/store.py makes them), so every copy has the
fields, timeline, SLA clocks and outcomes the services really write. Each copy gets a new id,
number, reporter, title and creation time, with every moment in it shifted by the same amount.
The copies go in with bulk inserts, and their view entries are computed by the same projection
the live writes use (domain/views.py) and written once per view document, so lists, search and
reports see exactly what they would have seen had the tickets come through the API.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.intake.adapters.api_keys import MongoApiKeys
from services.intake.adapters.tickets import HIDDEN, MongoTickets, unpacked
from services.intake.domain.principals import Role
from services.intake.domain.shelves import Shelving
from services.intake.domain.views import view_updates
from shared.contracts import OPEN_STATUSES, Status, format_number
from shared.ids import new_id
from shared.update_merging import merge_into

BATCH = 1000
WORDS = (
    "login checkout export import invoice payment report dashboard search upload download api gateway "
    "webhook email notification password reset profile billing subscription order cart mobile android "
    "ios browser chrome firefox safari pdf csv excel sync backup restore database timeout latency slow "
    "error crash blank page button broken missing wrong total tax currency language translation date "
    "calendar schedule reminder archive filter sort pagination permission role admin team user account "
    "token session cookie redirect loop certificate dns outage degraded intermittent queue worker job "
    "cron import mapping field validation duplicate attachment image thumbnail video audio printer label"
).split()


@dataclass(frozen=True)
class SeedPlan:
    """How many tickets to store, how many of them still open, for how many reporters, over how many days."""

    count: int
    open_count: int
    reporters: int
    days: int = 365
    prefix: str = "INC"


@dataclass(frozen=True)
class Seeded:
    """What a seeding run stored."""

    tickets: int
    view_documents: int
    reporter_keys: dict[str, str]
    """reporter id -> API key, for the benchmark to act as them."""


def shifted(value: Any, delta: timedelta) -> Any:
    """Return value with every datetime in it moved by delta (dicts and lists are copied)."""
    if isinstance(value, datetime):
        return value + delta
    if isinstance(value, dict):
        return {key: shifted(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [shifted(item, delta) for item in value]
    return value


def title_of(rng: random.Random) -> str:
    """Return a plausible ticket title of three to six words."""
    words = rng.sample(WORDS, rng.randint(3, 6))
    return " ".join(words).capitalize()


def copy_of(template: dict[str, Any], *, ticket_id: str, number: str, created_at: datetime,
            reporter: dict[str, Any], title: str) -> dict[str, Any]:
    """Return a copy of a stored ticket as a new ticket created at created_at."""
    delta = created_at - template["created_at"]
    ticket = {key: shifted(value, delta) for key, value in template.items() if key not in HIDDEN}
    ticket.update(_id=ticket_id, number=number, reporter=reporter, title=title, outbox=[], applied_events=[],
                  rev=int(template.get("rev", 0)))
    return ticket


def creation_times(rng: random.Random, plan: SeedPlan, now: datetime) -> Iterator[tuple[datetime, bool]]:
    """Yield (created_at, still open) for every ticket, oldest first: open ones in the last 30 days."""
    finished = plan.count - plan.open_count
    moments = [(now - timedelta(days=1, seconds=rng.uniform(0, (plan.days - 1) * 86400)), False)
               for _ in range(finished)]
    moments += [(now - timedelta(seconds=rng.uniform(60, 30 * 86400)), True) for _ in range(plan.open_count)]
    yield from sorted(moments)


class Seeder:
    """Stores copies of the database's triaged tickets."""

    def __init__(self, tickets: MongoTickets, api_keys: MongoApiKeys, rng: random.Random) -> None:
        self.tickets = tickets
        self.api_keys = api_keys
        self.rng = rng

    async def templates(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Return (open, finished) triaged tickets to copy; raise LookupError if either kind is missing."""
        open_ones, finished = [], []
        async for ticket in self.tickets.collection.find({"severity": {"$ne": None}}).limit(500):
            unpacked(ticket)
            if not (ticket.get("sla") or {}).get("clocks"):
                continue
            (open_ones if ticket["status"] in OPEN_STATUSES else finished).append(ticket)
        if not open_ones or not finished:
            raise LookupError("seeding copies real tickets: store at least one triaged open ticket and one "
                              "resolved or closed ticket first (bench/store.py does)")
        closed = [t for t in finished if t["status"] == Status.CLOSED]
        return open_ones, closed or finished

    async def reporters(self, count: int, now: datetime) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Create count reporter identities with API keys; return their ticket reporter fields and keys."""
        found, keys = [], {}
        for index in range(count):
            name, email = f"Seeded Reporter {index}", f"seeded-{index}@example.com"
            key, principal = await self.api_keys.create(Role.REPORTER, name, email, now)
            found.append({"id": principal.id, "name": name, "email": email})
            keys[principal.id] = key
        return found, keys

    async def seed(self, plan: SeedPlan, now: datetime) -> Seeded:
        """Store plan.count copies and their view entries; return what was stored."""
        open_templates, finished_templates = await self.templates()
        people, keys = await self.reporters(plan.reporters, now)
        first_number = await self.tickets.reserve_sequence(plan.count)
        views: dict[str, dict[str, Any]] = {}
        shelving = Shelving()  # a fresh group starts a new shelf: seeded shelves never mix with live ones
        batch: list[dict[str, Any]] = []
        for offset, (created_at, still_open) in enumerate(creation_times(self.rng, plan, now)):
            template = self.rng.choice(open_templates if still_open else finished_templates)
            ticket = copy_of(template, ticket_id=new_id(created_at),
                             number=format_number(plan.prefix, first_number + offset), created_at=created_at,
                             reporter=self.rng.choice(people), title=title_of(self.rng))
            ticket["shelves"] = shelving.place(ticket)
            batch.append(ticket)
            merge_into(views, view_updates(None, ticket))
            if len(batch) >= BATCH:
                await self.tickets.insert_copies(batch)
                batch = []
        await self.tickets.insert_copies(batch)
        await self.tickets.views.apply(views)
        return Seeded(tickets=plan.count, view_documents=len(views), reporter_keys=keys)
