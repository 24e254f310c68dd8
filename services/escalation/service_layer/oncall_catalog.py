"""The on-call configuration in force: the file's items over the stored ones, checked, cached by revision.

Pages, the API and the gauges all ask `current()`. It rereads the stored document only when its revision
moved, and asks for the revision at most every `cache_seconds` (a change made in this process is seen at
once; one made elsewhere within `cache_seconds`). If the database cannot be reached, the last good
configuration keeps paging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from services.escalation.adapters.oncall_build import LocatedError, dotted, to_parts
from services.escalation.adapters.oncall_file import OnCallFile
from services.escalation.adapters.oncall_models import OnCallDocument
from services.escalation.adapters.oncall_store import OnCallStore, StoredConfig
from services.escalation.domain.oncall import OnCallConfigError
from services.escalation.domain.oncall.config import OnCallConfig, OnCallParts, combine

log = logging.getLogger(__name__)


class OnCallProblem(ValueError):
    """The combined configuration cannot work; `field` names the item and field, `where` the file line if any."""

    def __init__(self, field: str, problem: str, where: str | None = None) -> None:
        super().__init__(f"{where + ': ' if where else ''}{field}: {problem}")
        self.field = field
        self.problem = problem
        self.where = where


@dataclass(frozen=True)
class Snapshot:
    """The configuration at one stored revision: both documents and the combined, checked domain."""

    rev: int
    stored: OnCallDocument
    config: OnCallConfig
    updated_by: str | None = None


def stored_document(stored: StoredConfig) -> OnCallDocument:
    """Return the stored content as a document (an empty one if nothing is stored)."""
    return OnCallDocument.model_validate(stored.content) if stored.content else OnCallDocument()


def build(file: OnCallFile | None, stored: OnCallDocument) -> OnCallConfig:
    """Return the combined configuration; raise OnCallProblem naming the field (and the file line if it is there)."""
    try:
        parts = to_parts(stored)
    except LocatedError as exc:
        raise OnCallProblem(dotted(exc.loc), exc.problem) from None
    try:
        return combine(file.parts if file is not None else OnCallParts(), parts)
    except OnCallConfigError as exc:
        where = file.where(exc.field) if file is not None else None
        raise OnCallProblem(exc.field, exc.problem, where) from None


class OnCallCatalog:
    """The current on-call configuration of this process."""

    def __init__(self, store: OnCallStore, file: OnCallFile | None = None, *, cache_seconds: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.file = file
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._snapshot: Snapshot | None = None
        self._checked = float("-inf")

    async def snapshot(self, *, fresh: bool = False) -> Snapshot:
        """Return the configuration in force (reread if `fresh` or the stored revision moved)."""
        now = self._monotonic()
        cached = self._snapshot
        if cached is not None and not fresh and now - self._checked < self._cache_seconds:
            return cached
        try:
            if cached is not None and await self.store.revision() == cached.rev:
                self._checked = now
                return cached
            stored = await self.store.read()
        except Exception:
            if cached is None or fresh:
                raise
            log.exception("cannot read the on-call configuration; paging with the last one read")
            return cached
        try:
            document = stored_document(stored)
            snapshot = Snapshot(stored.rev, document, build(self.file, document), stored.updated_by)
        except (OnCallProblem, ValidationError):
            if cached is None:
                raise
            log.exception("the stored on-call configuration does not combine with the file; keeping the last good one")
            return cached
        self._snapshot, self._checked = snapshot, now
        return snapshot

    async def current(self) -> OnCallConfig | None:
        """Return the configuration pages use, or None when nothing defines any on-call policy or person."""
        config = (await self.snapshot()).config
        return config if config.people or config.schedules or config.policies else None

    def remember(self, snapshot: Snapshot) -> None:
        """Take a snapshot this process has just stored as the current one."""
        self._snapshot, self._checked = snapshot, self._monotonic()
