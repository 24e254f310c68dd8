"""The timer-replicas benchmark's own arithmetic: its clocks fall due when it says, and it counts every duplicate."""

from __future__ import annotations

from datetime import timedelta

from bench.timer_replicas import due_copy, order_of_rounds, tally
from services.escalation.domain.timers import pending
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.service_layer.clock_updates import ClockUpdater
from shared.clock import FakeClock
from shared.contracts import Severity
from tests.escalation_harness import Scenario
from tests.fakes_escalation import FakeClocks

SECOND = timedelta(seconds=1)


async def template() -> tuple[Scenario, dict]:
    """Return a scenario and a high ticket's clock record, as the benchmark's template is made."""
    s = Scenario()
    await s.open(severity=Severity.HIGH, tier=1, team="service-desk")
    return s, s.doc()


async def test_a_copy_fires_exactly_its_first_warning_at_the_instant_it_was_given():
    s, base = await template()
    due = s.start + timedelta(days=2, seconds=7)
    document, keys = due_copy(base, due, s.policy)
    assert keys == ["resolution.0.warning.75"]
    assert document["_id"] != base["_id"] and document["next_due_at"] == due
    later = [at for at, key in pending(document, s.policy) if key not in keys]
    assert min(later) - due > timedelta(hours=1), "later steps stay out of the way of later rounds"

    clock, store = FakeClock(due - SECOND), FakeClocks()
    await store.create(document)
    loop = TimerLoop(ClockUpdater(store, s.policy, clock), store, clock)
    assert await loop.run_once() == []
    clock.set(due)
    assert await loop.run_once() == keys


def test_tally_counts_a_step_fired_by_two_replicas_and_measures_lateness_from_its_first_firing():
    s = Scenario()
    due = s.start
    expected = {("t1", "resolution.0.warning.75"): due, ("t2", "resolution.0.warning.75"): due,
                ("t3", "resolution.0.warning.75"): due}
    at = due.timestamp()
    fires = [{"ticket": "t1", "keys": ["resolution.0.warning.75"], "at": at + 0.5, "replica": 1},
             {"ticket": "t1", "keys": [], "at": at + 0.6, "replica": 2},  # lost the claim: no duplicate
             {"ticket": "t2", "keys": ["resolution.0.warning.75"], "at": at + 0.7, "replica": 2},
             {"ticket": "t2", "keys": ["resolution.0.warning.75"], "at": at + 0.9, "replica": 1},
             {"ticket": "other", "keys": ["x"], "at": at, "replica": 1}]
    figures = tally(expected, fires)
    assert figures["duplicates"] == 1 and figures["duplicate_steps"] == [["t2", "resolution.0.warning.75"]]
    assert (figures["fired"], figures["not_fired"]) == (2, 1)
    assert figures["p99_s"] == 0.7, "a duplicate's lateness is not the step's"
    assert figures["steps_fired_per_replica"] == {"1": 2, "2": 1}
    assert figures["attempts_that_fired_nothing"] == 1


def test_rounds_alternate_so_both_counts_meet_the_same_drift():
    assert order_of_rounds(2, 3) == [1, 2, 2, 1, 1, 2]
