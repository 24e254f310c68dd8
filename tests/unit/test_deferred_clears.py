"""Deferred clears of a ticket's views mark: done when due, dropped only when a later write took the mark over."""

from __future__ import annotations

import asyncio

import pytest

from services.intake.adapters.deferred_clears import DeferredClears


class Marks:
    """The clear the store would do, recorded; marks in `failing` raise as an unreachable database would."""

    def __init__(self) -> None:
        self.cleared: list[tuple[str, int]] = []
        self.failing: set[int] = set()
        self.done = asyncio.Event()

    async def clear(self, ticket_id: str, mark: int) -> None:
        if mark in self.failing:
            raise ConnectionError("database unreachable")
        self.cleared.append((ticket_id, mark))
        self.done.set()


async def running(clears: DeferredClears, delay: float = 0.01) -> asyncio.Task:
    task = asyncio.create_task(clears.run(delay))
    await asyncio.sleep(0)
    assert clears.active
    return task


async def stopped(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_nothing_is_deferred_unless_run_runs():
    clears = DeferredClears(Marks().clear)
    assert not clears.active
    with pytest.raises(AssertionError):
        clears.defer("t1", 1)


async def test_an_owed_clear_is_done_when_due():
    marks = Marks()
    clears = DeferredClears(marks.clear)
    task = await running(clears)
    clears.defer("t1", 3)
    assert clears.owed("t1") == [3]
    await asyncio.wait_for(marks.done.wait(), 5)
    assert marks.cleared == [("t1", 3)] and clears.owed("t1") == []
    await stopped(task)


async def test_a_write_begun_after_a_clear_was_owed_takes_it_over_and_one_begun_before_does_not():
    marks = Marks()
    clears = DeferredClears(marks.clear)
    task = await running(clears, delay=60)
    began_before = clears.now()
    clears.defer("t1", 1)  # the first write's views are written
    clears.take_over("t1", began_before)  # a write that read the ticket before those views were written
    assert clears.owed("t1") == [1], "its views may have been overtaken: the clear must stay"
    began_after = clears.now()
    clears.take_over("t1", began_after)
    assert clears.owed("t1") == []
    clears.defer("t1", 2)
    clears.defer("t2", 7)
    clears.take_over("t2", clears.now())
    await stopped(task)
    assert marks.cleared == [("t1", 2)], "only the owed clear is done when the process stops"
    assert not clears.active


async def test_a_failed_clear_is_logged_and_later_ones_still_happen(caplog):
    marks = Marks()
    marks.failing.add(1)
    clears = DeferredClears(marks.clear)
    task = await running(clears)
    clears.defer("t1", 1)
    clears.defer("t2", 2)
    await asyncio.wait_for(marks.done.wait(), 5)
    await stopped(task)
    assert marks.cleared == [("t2", 2)]
    assert "could not clear" in caplog.text
