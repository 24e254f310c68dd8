"""Conditional single-document updates that cannot lose a concurrent write.

Every guarded write reads the document's revision, then updates only if the revision is still
the same (and the caller's condition holds), incrementing it. On MongoDB this is plain
optimistic concurrency. On the docstore (FerretDB v1), whose updates are read-modify-write and
were seen here to write back a stale copy of a document under load, the revision filter is
evaluated against that same stale copy, so the stale write matches nothing and is retried.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.locks import KeyedLocks

REVISION = "rev"
MAX_ATTEMPTS = 20


class LostRace(RuntimeError):
    """The document kept changing under a guarded update; the caller may retry later."""


async def guarded_update(
    collection: AsyncCollection,
    document_id: Any,
    condition: dict[str, Any],
    update: dict[str, Any],
    *,
    locks: KeyedLocks | None = None,
) -> bool:
    """Apply update if condition holds; return False if it does not, True once written.

    Raises LookupError if the document does not exist and LostRace if it never settles.
    """
    if locks is None:
        locks = KeyedLocks()
    update = {**update, "$inc": {**update.get("$inc", {}), REVISION: 1}}
    async with locks.hold(document_id):
        for _ in range(MAX_ATTEMPTS):
            current = await collection.find_one({"_id": document_id, **condition}, {REVISION: 1})
            if current is None:
                if await collection.find_one({"_id": document_id}, {"_id": 1}) is None:
                    raise LookupError(f"{collection.name} {document_id} does not exist")
                return False
            revision = current.get(REVISION)
            result = await collection.update_one({"_id": document_id, REVISION: revision, **condition}, update)
            if result.modified_count == 1:
                return True
    raise LostRace(f"{collection.name} {document_id} changed {MAX_ATTEMPTS} times during one update")
