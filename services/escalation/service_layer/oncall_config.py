"""Changing the stored on-call configuration (API and CLI): one checked, all-or-nothing write per change.

Each change is computed on the stored document, the result is combined with the file and checked whole
(every reference, every zone, every delay), and only then written, as one compare-and-set on the stored
revision; a concurrent change makes it start over from the fresh document. Items the file defines cannot
be changed here: the file wins, and the refusal names it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import ValidationError

from services.escalation.adapters.oncall_models import (
    OnCallDocument,
    OverrideModel,
    PersonModel,
    PolicyModel,
    ScheduleModel,
)
from services.escalation.domain.oncall.config import policy_key
from services.escalation.service_layer.oncall_catalog import OnCallCatalog, OnCallProblem, Snapshot, build
from shared.ids import new_id

ATTEMPTS = 20
OVERRIDES_KEPT_AFTER_END = timedelta(days=30)
"""Overrides that ended longer ago than this are dropped on the next write (shifts before then are history)."""
KINDS = {"people": "person", "schedules": "schedule", "policies": "policy", "overrides": "override"}


class FileOwned(Exception):
    """The item is defined in the on-call file, which wins: change it there."""


class NotFound(LookupError):
    """No stored item with that key."""


class KeptChanging(Exception):
    """The stored configuration changed under every attempt; retry."""


Change = Callable[[OnCallDocument], OnCallDocument]


def item_key(kind: str, item) -> str:
    """Return the key an item is stored, replaced and found by: its id, or `<team>/tier-<n>` for a policy."""
    return policy_key(item.team, item.tier) if kind == "policies" else item.id


def guard_file(catalog: OnCallCatalog, kind: str, key: str) -> None:
    """Raise FileOwned if the file defines this item."""
    file = catalog.file
    if file is not None and any(item_key(kind, item) == key for item in getattr(file.document, kind)):
        raise FileOwned(f"{KINDS[kind]} {key!r} is defined in the on-call file {file.path}, which wins over the "
                        "API: change it there")


def put_item(kind: str, item) -> Change:
    """Return the change that adds or replaces one item (by key), keeping the list order."""
    def change(document: OnCallDocument) -> OnCallDocument:
        items = list(getattr(document, kind))
        key = item_key(kind, item)
        index = next((i for i, old in enumerate(items) if item_key(kind, old) == key), None)
        if index is None:
            items.append(item)
        else:
            items[index] = item
        return document.model_copy(update={kind: items})
    return change


def _delete(kind: str, key: str) -> Change:
    """Return the change that removes one stored item (NotFound if it is not stored)."""
    def change(document: OnCallDocument) -> OnCallDocument:
        items = list(getattr(document, kind))
        kept = [item for item in items if item_key(kind, item) != key]
        if len(kept) == len(items):
            raise NotFound(f"no stored {KINDS[kind]} {key!r}")
        return document.model_copy(update={kind: kept})
    return change


def _prune(document: OnCallDocument, now: datetime) -> OnCallDocument:
    """Return the document without overrides that ended more than OVERRIDES_KEPT_AFTER_END ago."""
    kept = [o for o in document.overrides if o.end > now - OVERRIDES_KEPT_AFTER_END]
    return document if len(kept) == len(document.overrides) else document.model_copy(update={"overrides": kept})


async def apply(catalog: OnCallCatalog, change: Change, *, by: str, now: datetime) -> Snapshot:
    """Store change(stored document) if the result works with the file; return the new snapshot.

    Raises OnCallProblem (naming the field), FileOwned, NotFound or KeptChanging; nothing is stored then.
    """
    for attempt in range(ATTEMPTS):
        if attempt:
            await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # another writer won: let the herd spread out
        before = await catalog.snapshot(fresh=True)
        try:
            after = _prune(OnCallDocument.model_validate(change(before.stored).model_dump()), now)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise OnCallProblem(".".join(str(p) for p in first["loc"]), first["msg"]) from None
        config = build(catalog.file, after)
        if await catalog.store.write(before.rev, after.model_dump(mode="json"), by, now):
            snapshot = Snapshot(before.rev + 1, after, config, by)
            catalog.remember(snapshot)
            return snapshot
    raise KeptChanging("the on-call configuration kept changing; retry")


async def put_person(catalog: OnCallCatalog, person: PersonModel, *, by: str, now: datetime) -> Snapshot:
    """Add or replace a person."""
    guard_file(catalog, "people", person.id)
    return await apply(catalog, put_item("people", person), by=by, now=now)


async def put_schedule(catalog: OnCallCatalog, schedule: ScheduleModel, *, by: str, now: datetime) -> Snapshot:
    """Add or replace a schedule (its overrides stay)."""
    guard_file(catalog, "schedules", schedule.id)
    return await apply(catalog, put_item("schedules", schedule), by=by, now=now)


async def put_policy(catalog: OnCallCatalog, policy: PolicyModel, *, by: str, now: datetime) -> Snapshot:
    """Add or replace a team's policy for a tier."""
    guard_file(catalog, "policies", policy_key(policy.team, policy.tier))
    return await apply(catalog, put_item("policies", policy), by=by, now=now)


async def add_override(catalog: OnCallCatalog, override: OverrideModel, *, by: str, now: datetime) -> Snapshot:
    """Add an override to a schedule, wherever the schedule is defined (overrides are the API's)."""
    guard_file(catalog, "overrides", override.id)
    return await apply(catalog, put_item("overrides", override), by=by, now=now)


async def delete(catalog: OnCallCatalog, kind: str, key: str, *, by: str, now: datetime) -> Snapshot:
    """Remove a stored item; refused (naming the field) when something still refers to it."""
    guard_file(catalog, kind, key)
    return await apply(catalog, _delete(kind, key), by=by, now=now)


async def replace_all(catalog: OnCallCatalog, document: OnCallDocument, *, by: str, now: datetime) -> Snapshot:
    """Replace every stored item with the document's (items the file defines are refused, naming the first)."""
    for kind in KINDS:
        for item in getattr(document, kind):
            guard_file(catalog, kind, item_key(kind, item))
    return await apply(catalog, lambda _stored: document, by=by, now=now)


def new_override_id() -> str:
    """Return an id for an override added without one."""
    return f"ovr-{new_id().lower()}"
