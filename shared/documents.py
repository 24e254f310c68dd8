"""Conditional single-document updates that cannot lose a concurrent write.

A guarded write reads the document by `_id`, checks the caller's condition in Python
(shared.matching), and writes back with the read revision as a compare-and-set, incrementing it:
the write filters on `{_id, rev}`, so a write by any other task or process in between matches
nothing and the update is retried from a fresh read. That is atomic on MongoDB and on the docstore,
whose gate applies write commands one at a time and checks such a filter itself (found by `_id`,
tools/docstore/guarded.go), so any number of replicas may write the same documents.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from shared.matching import matches

REVISION = "rev"


async def update_by_id(collection: AsyncCollection, document_id: Any, update: dict[str, Any]) -> bool:
    """Apply update to the document with this _id; return False if there is none (fast on the docstore too)."""
    return await update_one_returning(collection, {"_id": document_id}, update) is not None


async def update_one_returning(collection: AsyncCollection, query: dict[str, Any],
                               update: dict[str, Any]) -> dict[str, Any] | None:
    """Apply update to the one document query names by `_id`; return it as written, or None if none matched.

    Asking for the document after the write costs MongoDB nothing more, and the docstore's gate
    keeps what such a write returns (tools/docstore/doccache.go): the next read or guarded write of
    the document needs no lookup in FerretDB.
    """
    return await collection.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)


async def update_if(collection: AsyncCollection, document_id: Any, condition: dict[str, Any],
                    update: dict[str, Any]) -> dict[str, Any] | None:
    """Apply update (bumping the revision) if the document exists and condition holds; return it after, or None.

    One atomic command: MongoDB evaluates the filter and the update together, and so does the
    docstore's write gate for a filter of `_id` plus conditions (tools/docstore/guarded.go).
    """
    change = {**update, "$inc": {**update.get("$inc", {}), REVISION: 1}}
    return await collection.find_one_and_update({**condition, "_id": document_id}, change,
                                                return_document=ReturnDocument.AFTER)


MAX_ATTEMPTS = 20
BACKOFF_SECONDS = 0.002
"""The first pause after a lost race; each later one may be up to twice as long (random, so racers spread out)."""


async def pause_after_lost_race(attempt: int) -> None:
    """Wait a random while that grows with attempt (0: not at all), so writers racing for one document spread out."""
    if attempt:
        await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** min(attempt, 8)))


class LostRace(RuntimeError):
    """The document kept changing under a guarded update; the caller may retry later."""


async def guarded_update(
    collection: AsyncCollection,
    document_id: Any,
    condition: dict[str, Any],
    update: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
) -> bool:
    """Apply update if condition holds; return False if it does not, True once written.

    update may be a function of the current document, called for each attempt, for changes that
    depend on it (such as keeping an array to its last N items: the docstore ignores `$slice`).
    Raises LookupError if the document does not exist and LostRace if it never settles.
    """
    return await guarded_change(collection, document_id, condition, update) is not None


async def guarded_change(
    collection: AsyncCollection,
    document_id: Any,
    condition: dict[str, Any],
    update: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Like guarded_update, but return (document before, document after) once written, or None if the condition fails."""
    for attempt in range(MAX_ATTEMPTS):
        await pause_after_lost_race(attempt)
        current = await collection.find_one({"_id": document_id})
        if current is None:
            raise LookupError(f"{collection.name} {document_id} does not exist")
        if not matches(current, condition):
            return None
        after = await write_at_revision(collection, current, update(current) if callable(update) else update)
        if after is not None:
            return current, after
    raise LostRace(f"{collection.name} {document_id} changed {MAX_ATTEMPTS} times during one update")


async def write_at_revision(collection: AsyncCollection, before: dict[str, Any],
                            update: dict[str, Any]) -> dict[str, Any] | None:
    """Apply update if the document is still at `before`'s revision (bumping it); return it after, or None.

    One command, a compare-and-set on `{_id, rev}` (a document without a revision matches `rev: null`).
    """
    change = {**update, "$inc": {**update.get("$inc", {}), REVISION: 1}}
    target = {"_id": before["_id"], REVISION: before.get(REVISION)}
    # findAndModify, not update: the docstore's gate finds the document by `_id` and checks the
    # revision itself, where a plain update with conditions may scan the collection
    return await collection.find_one_and_update(target, change, return_document=ReturnDocument.AFTER)
