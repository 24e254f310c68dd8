"""Merging updates by `_id` (shared/update_merging.py) and writing them by group commit (shared/group_commit.py)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.group_commit import GroupCommit
from shared.update_merging import merge_into, merged_update, upserts

PATHS = ("entries.a", "entries.b", "entries.c", "first.x", "ids")


def applied(document: dict[str, Any], update: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return the document after the update, as MongoDB applies these operators (the reference for the merge)."""
    result = copy.deepcopy(document)
    for operator, fields in update.items():
        for path, value in fields.items():
            *parents, leaf = path.split(".")
            target = result
            for name in parents:
                target = target.setdefault(name, {})
            if operator == "$set":
                target[leaf] = value
            elif operator == "$unset":
                target.pop(leaf, None)
            elif operator == "$addToSet":
                values = value["$each"] if isinstance(value, dict) else [value]
                existing = target.setdefault(leaf, [])
                existing.extend(v for v in values if v not in existing)
                # the set's order is first-added, so compare sets below
            elif operator in ("$min", "$max"):
                keep = min if operator == "$min" else max
                target[leaf] = keep(target[leaf], value) if leaf in target else value
    return result


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """Return the document with lists as sets (an $addToSet's order is not part of its meaning here)."""
    return {key: canonical(value) if isinstance(value, dict) else sorted(value) if isinstance(value, list) else value
            for key, value in document.items()}


@st.composite
def updates(draw) -> dict[str, dict[str, Any]]:
    """Draw one update of the kinds the read models send: entries set or unset, posting ids added, extremes."""
    update: dict[str, dict[str, Any]] = {}
    for path in draw(st.lists(st.sampled_from(PATHS[:3]), max_size=3, unique=True)):
        if draw(st.booleans()):
            update.setdefault("$set", {})[path] = draw(st.integers(0, 9))
        else:
            update.setdefault("$unset", {})[path] = ""
    if draw(st.booleans()):
        update["$addToSet"] = {"ids": draw(st.sampled_from(["t1", "t2", {"$each": ["t2", "t3"]}]))}
    if draw(st.booleans()):
        update[draw(st.sampled_from(["$min", "$max"]))] = {"first.x": draw(st.integers(0, 9))}
    return update


@given(st.lists(updates(), min_size=1, max_size=6), st.dictionaries(st.sampled_from(["entries", "ids"]),
                                                                     st.just({}), max_size=1))
def test_a_merged_update_has_the_effect_of_its_updates_in_order(sequence, start):
    start = {"entries": {"a": 1}, "ids": ["t1"], **{k: v for k, v in start.items() if k == "entries"}}
    one_by_one = start
    for update in sequence:
        one_by_one = applied(one_by_one, update)
    merged = sequence[0]
    try:
        for update in sequence[1:]:
            merged = merged_update(merged, update)
    except ValueError:
        used = {operator for update in sequence for operator in update if "first.x" in update[operator]}
        assert used >= {"$min", "$max"}, "refused only for two different extremes on one path"
        return
    assert canonical(applied(start, merged)) == canonical(one_by_one)
    for operator_fields in merged.values():
        assert operator_fields, "no empty operator (MongoDB refuses them)"
    set_paths, unset_paths = set(merged.get("$set", {})), set(merged.get("$unset", {}))
    assert not set_paths & unset_paths, "a path both set and unset is refused by MongoDB"


def test_merging_leaves_its_inputs_as_they_were():
    first, second = {"$set": {"entries.a": 1}}, {"$unset": {"entries.a": ""}, "$addToSet": {"ids": "t1"}}
    kept = copy.deepcopy((first, second))
    assert merged_update(first, second) == {"$unset": {"entries.a": ""}, "$addToSet": {"ids": {"$each": ["t1"]}}}
    assert (first, second) == kept


def test_an_operator_it_does_not_understand_is_refused_not_merged_wrongly():
    with pytest.raises(ValueError, match=r"\$inc"):
        merged_update({"$inc": {"n": 1}}, {"$inc": {"n": 1}})


def test_merge_into_folds_many_documents_updates():
    combined: dict[str, dict[str, Any]] = {}
    merge_into(combined, {"d1": {"$min": {"first": 5}}, "d2": {"$set": {"x": 1}}})
    merge_into(combined, {"d1": {"$min": {"first": 3}, "$max": {"last": 7}}})
    assert combined == {"d1": {"$min": {"first": 3}, "$max": {"last": 7}}, "d2": {"$set": {"x": 1}}}


def test_only_pure_removals_do_not_create_a_missing_document():
    assert not upserts({"$unset": {"entries.a": ""}})
    assert upserts({"$unset": {"entries.a": ""}, "$set": {"entries.b": 1}})
    assert upserts({"$addToSet": {"ids": "t1"}})


class Store:
    """A write function that records each batch and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def write(self, updates: dict[str, Any]) -> None:
        self.batches.append(copy.deepcopy(updates))
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail


async def test_a_submit_while_nothing_is_in_flight_is_written_at_once():
    store = Store()
    commits = GroupCommit(store.write)
    await commits.submit({"d1": {"$set": {"a": 1}}})
    assert store.batches == [{"d1": {"$set": {"a": 1}}}]


async def test_submits_arriving_during_a_write_go_out_together_one_update_per_document():
    store = Store()
    store.gate.clear()
    commits = GroupCommit(store.write)
    first = asyncio.create_task(commits.submit({"d1": {"$set": {"a": 1}}}))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(commits.submit({"d1": {"$set": {f"e{i}": i}}, f"own{i}": {"$set": {"x": i}}}))
               for i in range(3)]
    await asyncio.sleep(0)
    assert len(store.batches) == 1 and not first.done()
    store.gate.set()
    await asyncio.gather(first, *waiting)
    assert store.batches[1] == {"d1": {"$set": {"e0": 0, "e1": 1, "e2": 2}},
                                **{f"own{i}": {"$set": {"x": i}} for i in range(3)}}
    assert len(store.batches) == 2


async def test_a_failed_write_fails_every_submitter_of_its_batch_and_the_next_batch_still_goes():
    store = Store()
    store.gate.clear()
    commits = GroupCommit(store.write)
    first = asyncio.create_task(commits.submit({"d1": {"$set": {"a": 1}}}))
    await asyncio.sleep(0)
    store.fail = RuntimeError("store down")
    store.gate.set()
    with pytest.raises(RuntimeError, match="store down"):
        await first
    store.fail = None
    await commits.submit({"d1": {"$set": {"a": 2}}})
    assert store.batches[-1] == {"d1": {"$set": {"a": 2}}}


async def test_a_submitter_that_stops_waiting_does_not_stop_the_write():
    store = Store()
    store.gate.clear()
    commits = GroupCommit(store.write)
    task = asyncio.create_task(commits.submit({"d1": {"$set": {"a": 1}}}))
    await asyncio.sleep(0)
    task.cancel()
    store.gate.set()
    await asyncio.sleep(0.01)
    assert store.batches == [{"d1": {"$set": {"a": 1}}}]
    await commits.submit({"d2": {"$set": {"b": 1}}})
    assert store.batches[-1] == {"d2": {"$set": {"b": 1}}}


async def test_updates_that_cannot_be_merged_or_would_make_a_batch_too_big_wait_for_a_batch_of_their_own():
    store = Store()
    store.gate.clear()
    commits = GroupCommit(store.write, max_documents=2)
    tasks = [asyncio.create_task(commits.submit({"d0": {"$set": {"a": 0}}}))]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert store.batches == [{"d0": {"$set": {"a": 0}}}], "in flight"
    for updates in ({"d1": {"$inc": {"n": 1}}},   # waits (another document: no merging needed)
                    {"d1": {"$inc": {"n": 1}}},   # cannot be merged with the first: a batch of its own
                    {"d2": {"$set": {"a": 2}}},   # joins it (two documents)
                    {"d3": {"$set": {"a": 3}}},   # a third document would be too many: the next batch
                    {"d3": {"$set": {"b": 3}}}):  # merged there
        tasks.append(asyncio.create_task(commits.submit(updates)))
        await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(*tasks)
    assert store.batches == [{"d0": {"$set": {"a": 0}}}, {"d1": {"$inc": {"n": 1}}},
                             {"d1": {"$inc": {"n": 1}}, "d2": {"$set": {"a": 2}}},
                             {"d3": {"$set": {"a": 3, "b": 3}}}]
