"""Conditional single-document updates that cannot lose a concurrent write.

A guarded write reads the document by `_id`, checks the caller's condition in Python
(shared.matching), and writes back with the read revision as a compare-and-set, incrementing it.

Two modes, chosen per lock set (KeyedLocks.exclusive_writer):
- compare-and-set (default; MongoDB): the write filters on `{_id, rev}`, so a write by another
  process in between matches nothing and the update is retried.
- exclusive writer (the docstore): FerretDB v1 over SQLite only finds documents quickly by an
  exact `_id` filter (any other filter scans the collection), and applies updates as
  read-modify-write. There every writer of a document runs in one process and is serialised by
  the per-document lock, so the write filters on `_id` alone. Services therefore run as a single
  replica each on the docstore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from shared.locks import KeyedLocks
from shared.matching import matches

REVISION = "rev"


async def update_by_id(collection: AsyncCollection, document_id: Any, update: dict[str, Any]) -> bool:
    """Apply update to the document with this _id; return False if there is none (fast on the docstore too)."""
    return await collection.find_one_and_update({"_id": document_id}, update) is not None


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


class LostRace(RuntimeError):
    """The document kept changing under a guarded update; the caller may retry later."""


async def guarded_update(
    collection: AsyncCollection,
    document_id: Any,
    condition: dict[str, Any],
    update: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
    *,
    locks: KeyedLocks | None = None,
) -> bool:
    """Apply update if condition holds; return False if it does not, True once written.

    update may be a function of the current document, called for each attempt, for changes that
    depend on it (such as keeping an array to its last N items: the docstore ignores `$slice`).
    Raises LookupError if the document does not exist and LostRace if it never settles.
    """
    return await guarded_change(collection, document_id, condition, update, locks=locks) is not None


async def guarded_change(
    collection: AsyncCollection,
    document_id: Any,
    condition: dict[str, Any],
    update: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
    *,
    locks: KeyedLocks | None = None,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Like guarded_update, but return (document before, document after) once written, or None if the condition fails."""
    if locks is None:
        locks = KeyedLocks()
    async with locks.hold(document_id):
        for _ in range(MAX_ATTEMPTS):
            current = await collection.find_one({"_id": document_id})
            if current is None:
                raise LookupError(f"{collection.name} {document_id} does not exist")
            if not matches(current, condition):
                return None
            after = await write_at_revision(collection, current, update(current) if callable(update) else update,
                                            locks)
            if after is not None:
                return current, after
    raise LostRace(f"{collection.name} {document_id} changed {MAX_ATTEMPTS} times during one update")


async def write_at_revision(collection: AsyncCollection, before: dict[str, Any], update: dict[str, Any],
                            locks: KeyedLocks) -> dict[str, Any] | None:
    """Apply update if the document is still at `before`'s revision (bumping it); return it after, or None.

    One command. The caller holds `locks.hold(before["_id"])` since reading `before`: where this
    process is the documents' only writer (locks.exclusive_writer) that alone keeps the revision,
    and the filter is the `_id` the docstore looks up fast; otherwise the filter also names the revision.
    """
    change = {**update, "$inc": {**update.get("$inc", {}), REVISION: 1}}
    target = {"_id": before["_id"]}
    if not locks.exclusive_writer:
        target[REVISION] = before.get(REVISION)
    # findAndModify, not update: on the docstore it finds the document through the _id index,
    # where a plain update scans the collection
    return await collection.find_one_and_update(target, change, return_document=ReturnDocument.AFTER)
