"""On-call page chains on a fake timeline: steps, repeats, the lead, acknowledgement, late timers."""

from __future__ import annotations

from datetime import timedelta

from services.escalation.domain.oncall import (
    OnCallPolicy,
    Override,
    PolicyStep,
    Target,
    firings,
    progress,
    resolve,
)
from shared.clock import FakeClock
from tests.oncall_builders import at, rotation, schedule

M = timedelta(minutes=1)
START = at(2026, 1, 5, 10)


def policy(repeats: int = 1) -> OnCallPolicy:
    return OnCallPolicy("platform-t2", "platform", 2, (
        PolicyStep(5, (Target.schedule("sched"),)),
        PolicyStep(10, (Target.person("bob"), Target.channel("#platform"))),
    ), lead="lead", repeats=repeats)


def run_timer(p: OnCallPolicy, until: timedelta, acknowledged_at: timedelta | None = None) -> list[tuple[int, str]]:
    """Drive a timer that sleeps until next_due_at; return (minute, key) of each firing, each once."""
    clock, fired, log = FakeClock(START), set(), []
    while True:
        acked = acknowledged_at is not None and clock.now() >= START + acknowledged_at
        state = progress(p, START, clock.now(), acknowledged=acked, fired=fired)
        for firing in state.due:
            fired.add(firing.key)
            log.append(((clock.now() - START) // M, firing.key))
        wake = state.next_due_at
        if acknowledged_at is not None and not acked:
            wake = min(wake or START + acknowledged_at, START + acknowledged_at)
        if wake is None or wake > START + until:
            return log
        clock.set(wake)


def test_steps_fire_in_order_each_once_then_repeat_then_the_lead():
    assert run_timer(policy(), until=timedelta(hours=2)) == [
        (0, "step.0.0"), (5, "step.0.1"), (15, "step.1.0"), (20, "step.1.1"), (30, "lead")]


def test_without_repeats_the_lead_follows_the_last_step():
    assert run_timer(policy(repeats=0), until=timedelta(hours=1)) == [(0, "step.0.0"), (5, "step.0.1"), (15, "lead")]


def test_acknowledging_stops_the_chain():
    assert run_timer(policy(), until=timedelta(hours=2), acknowledged_at=17 * M) == [
        (0, "step.0.0"), (5, "step.0.1"), (15, "step.1.0")]
    state = progress(policy(), START, START + 18 * M, acknowledged=True)
    assert (state.state, state.current.key, state.due, state.next_due_at) == ("acknowledged", "step.1.0", (), None)


def test_progress_reports_the_current_step_and_the_next_due_time():
    state = progress(policy(), START, START + 7 * M, fired={"step.0.0"})
    assert state.state == "paging"
    assert (state.current.repeat, state.current.index) == (0, 1)
    assert [f.key for f in state.due] == ["step.0.1"]
    assert state.due[0].targets == (Target.person("bob"), Target.channel("#platform"))
    assert state.next_due_at == START + 15 * M


def test_before_the_start_nothing_is_due_and_after_the_lead_nothing_follows():
    before = progress(policy(), START, START - M)
    assert (before.state, before.current, before.due, before.next_due_at) == ("waiting", None, (), START)
    after = progress(policy(), START, START + 3 * 60 * M, fired={f.key for f in firings(policy(), START)})
    assert (after.state, after.current.key, after.due, after.next_due_at) == ("exhausted", "lead", (), None)
    assert after.current.targets == (Target.person("lead"),)


def test_a_late_timer_gets_every_missed_firing_in_order():
    state = progress(policy(), START, START + 22 * M, fired={"step.0.0"})
    assert [(f.key, (f.at - START) // M) for f in state.due] == [("step.0.1", 5), ("step.1.0", 15), ("step.1.1", 20)]
    assert state.current.key == "step.1.1"


def test_firing_keys_are_stable_and_unique():
    keys = [f.key for f in firings(policy(repeats=2), START)]
    assert keys == [f.key for f in firings(policy(repeats=2), START)]
    assert len(set(keys)) == len(keys) == 7


def test_resolve_pages_whoever_the_schedule_has_on_call_including_overrides():
    s = schedule(rotation(("ada", "bob")), overrides=[Override.add("bob", START, START + 30 * M)])
    targets = (Target.schedule("sched"), Target.person("bob"), Target.channel("#platform"))
    assert resolve(targets, START + M, {"sched": s}) == [
        Target.person("ada"), Target.person("bob"), Target.channel("#platform")]
    assert resolve(targets, START + 40 * M, {"sched": s})[0] == Target.person("ada")
