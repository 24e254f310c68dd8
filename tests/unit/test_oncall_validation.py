"""Invalid on-call configuration is refused with an error naming the field."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from services.escalation.domain.oncall import (
    Layer,
    Membership,
    OnCallConfigError,
    OnCallPolicy,
    Override,
    Person,
    PolicyStep,
    Restriction,
    Rotation,
    Schedule,
    ShiftLength,
    Target,
    WeeklyWindow,
    change_participants,
    directory,
    validate_policy,
    validate_schedule,
)
from tests.oncall_builders import BERLIN, at, rotation, schedule

T0 = at(2026, 1, 5, 9)
ADA = Person("ada", "Ada Lovelace", "ada@example.org", "Europe/London", slack="@ada", webhook="ops-hook")
BOB = Person("bob", "Bob", "bob@example.org", "America/New_York")
PEOPLE = directory([ADA, BOB])


def step(*targets: Target, delay: int = 5) -> PolicyStep:
    return PolicyStep(delay, targets)


CASES = {
    "empty rotation": (lambda: rotation(()), "rotation.participants"),
    "someone listed twice": (lambda: rotation(("ada", "ada")), "rotation.participants"),
    "empty membership change": (lambda: Membership(T0, ()), "changes.participants"),
    "membership changes overlap": (lambda: rotation(changes=[Membership(T0 + timedelta(days=2), ("ada",)),
                                                             Membership(T0 + timedelta(days=1), ("bob",))]),
                                   "rotation.changes"),
    "change at the start": (lambda: change_participants(rotation(), ("ada",), T0), "rotation.changes"),
    "zero-length shift": (lambda: ShiftLength.hours(0), "length.count"),
    "unknown shift kind": (lambda: ShiftLength("fortnights", 1), "length.kind"),
    "naive start": (lambda: rotation(start=datetime(2026, 1, 5, 9)), "rotation.start"),
    "zoned hand-off": (lambda: rotation(handoff=time(9, tzinfo=BERLIN)), "rotation.handoff"),
    "rotation zone": (lambda: rotation(time_zone="Europe/Atlantis"), "rotation.time_zone"),
    "person zone": (lambda: Person("x", "X", "x@example.org", "Mars/Olympus"), "person.time_zone"),
    "person e-mail": (lambda: Person("x", "X", "not-an-address", "UTC"), "person.email"),
    "blank person id": (lambda: Person(" ", "X", "x@example.org", "UTC"), "person.id"),
    "duplicate person": (lambda: directory([ADA, ADA]), "person.id"),
    "restriction zone": (lambda: Restriction("../etc/passwd", (WeeklyWindow(0, time(9), 0, time(17)),)),
                         "restriction.time_zone"),
    "no windows": (lambda: Restriction("UTC", ()), "restriction.windows"),
    "not a window": (lambda: Restriction("UTC", (("mon", "09:00"),)), "restriction.windows"),
    "empty window": (lambda: WeeklyWindow(0, time(9), 0, time(9)), "window.end"),
    "weekday out of range": (lambda: WeeklyWindow(7, time(9), 0, time(17)), "window.start_day"),
    "window time with zone": (lambda: WeeklyWindow(0, time(9), 0, time(17, tzinfo=BERLIN)), "window.end"),
    "window time as text": (lambda: WeeklyWindow(0, "09:00", 0, time(17)), "window.start"),
    "schedule zone": (lambda: Schedule("s", "t", "Nowhere/Town", (Layer(rotation()),)), "schedule.time_zone"),
    "schedule without layers": (lambda: Schedule("s", "t", "UTC", ()), "schedule.layers"),
    "same rotation twice": (lambda: schedule(rotation(), rotation()), "schedule.layers"),
    "override ends at its start": (lambda: Override.add("ada", T0, T0), "override.end"),
    "override ends before its start": (lambda: Override.remove("ada", T0, T0 - timedelta(hours=1)), "override.end"),
    "replace without the absent person": (lambda: Override("replace", "ada", T0, T0 + timedelta(hours=1)),
                                          "override.instead_of"),
    "unknown override kind": (lambda: Override("swap", "ada", T0, T0 + timedelta(hours=1)), "override.kind"),
    "zero delay": (lambda: step(Target.person("ada"), delay=0), "step.delay_minutes"),
    "step without targets": (lambda: step(), "step.targets"),
    "unknown target kind": (lambda: Target("pager", "ada"), "target.kind"),
    "policy without steps": (lambda: OnCallPolicy("p", "t", 2, (), lead="ada"), "policy.steps"),
    "negative repeats": (lambda: OnCallPolicy("p", "t", 2, (step(Target.person("ada")),), lead="ada", repeats=-1),
                         "policy.repeats"),
    "tier zero": (lambda: OnCallPolicy("p", "t", 0, (step(Target.person("ada")),), lead="ada"), "policy.tier"),
}


@pytest.mark.parametrize("build, field", CASES.values(), ids=CASES.keys())
def test_invalid_configuration_is_refused_naming_the_field(build, field):
    with pytest.raises(OnCallConfigError) as err:
        build()
    assert isinstance(err.value, ValueError)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_a_valid_schedule_and_policy_pass_and_are_returned():
    s = schedule(rotation(("ada", "bob")), overrides=[Override.replace("ada", "bob", T0, T0 + timedelta(hours=2))])
    assert validate_schedule(s, PEOPLE) is s
    p = OnCallPolicy("p", "platform", 2, (step(Target.schedule("sched"), Target.channel("#ops")),), lead="ada")
    assert validate_policy(p, {"sched": s}, PEOPLE) is p


@pytest.mark.parametrize("s, field", [
    (schedule(rotation(("ada", "zed"))), "layers[0].rotation.participants"),
    (schedule(rotation(("ada",), changes=[Membership(T0 + timedelta(days=1), ("zed",))])),
     "layers[0].rotation.changes[0].participants"),
    (schedule(rotation(("ada",)), overrides=[Override.add("zed", T0, T0 + timedelta(hours=1))]), "overrides[0].person"),
    (schedule(rotation(("ada",)), overrides=[Override.replace("zed", "bob", T0, T0 + timedelta(hours=1))]),
     "overrides[0].instead_of"),
], ids=["participant", "later participant", "override person", "override absentee"])
def test_a_schedule_naming_someone_unknown_is_refused(s, field):
    with pytest.raises(OnCallConfigError) as err:
        validate_schedule(s, PEOPLE)
    assert err.value.field == field and "'zed'" in str(err.value)


@pytest.mark.parametrize("targets, lead, field", [
    ((Target.schedule("missing"),), "ada", "steps[0].targets[0].ref"),
    ((Target.channel("#ops"), Target.person("zed")), "ada", "steps[0].targets[1].ref"),
    ((Target.person("ada"),), "zed", "lead"),
], ids=["missing schedule", "missing person", "missing lead"])
def test_a_policy_naming_a_missing_schedule_or_person_is_refused(targets, lead, field):
    p = OnCallPolicy("p", "platform", 2, (step(*targets),), lead=lead)
    with pytest.raises(OnCallConfigError) as err:
        validate_policy(p, {"sched": schedule(rotation(("ada",)))}, PEOPLE)
    assert err.value.field == field


def test_lists_are_kept_as_tuples_so_models_stay_hashable():
    r = Rotation("r", ["ada", "bob"], ShiftLength.days(), T0, changes=[Membership(T0 + timedelta(days=1), ["bob"])])
    assert r.participants == ("ada", "bob") and isinstance(r.changes, tuple)
    assert hash(r) == hash(Rotation("r", ("ada", "bob"), ShiftLength.days(), T0, changes=(
        Membership(T0 + timedelta(days=1), ("bob",)),)))
