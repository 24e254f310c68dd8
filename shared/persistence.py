"""MongoDB access: the async client factory, reachability check and index bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure


@dataclass(frozen=True)
class IndexSpec:
    """One index a service needs on one of its collections."""

    collection: str
    keys: list[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


T = TypeVar("T")

def make_client(url: str, *, timeout_ms: int = 5000) -> AsyncMongoClient:
    """Return an async client that yields aware UTC datetimes and fails fast when unreachable."""
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        retryWrites=True,
        appname="incidents",
    )


async def ping(db: AsyncDatabase) -> None:
    """Raise if the database does not answer a ping."""
    await db.command("ping")


async def is_docstore(db: AsyncDatabase) -> bool:
    """Return True if the server is FerretDB (the docstore) rather than MongoDB."""
    info = await db.client.admin.command("buildInfo")
    return any(key.lower().startswith("ferretdb") for key in info)


async def ensure_indexes(db: AsyncDatabase, specs: Iterable[IndexSpec]) -> None:
    """Create every index that is missing; existing ones are left as they are."""
    for spec in specs:
        options = dict(spec.options)
        if spec.name:
            options["name"] = spec.name
        await db[spec.collection].create_index(spec.keys, unique=spec.unique, **options)


async def while_unreachable(operation: Callable[[], Awaitable[T]], *, for_seconds: float,
                            pause_seconds: float = 0.5) -> T:
    """Return operation's result, retrying it while the database is unreachable, for up to for_seconds.

    For a write that records something already done outside (a message sent): giving up at the
    first refused connection would have the work done again once the database is back.
    """
    deadline = asyncio.get_running_loop().time() + for_seconds
    while True:
        try:
            return await operation()
        except ConnectionFailure:
            if asyncio.get_running_loop().time() + pause_seconds > deadline:
                raise
            await asyncio.sleep(pause_seconds)
