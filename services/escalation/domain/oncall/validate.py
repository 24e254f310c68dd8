"""Checks that span objects: every id a schedule or policy names exists (pure).

Each object checks its own fields when built (an invalid Rotation or Override cannot exist); these
functions check the references between them, raising OnCallConfigError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.escalation.domain.oncall.errors import OnCallConfigError
from services.escalation.domain.oncall.people import Person
from services.escalation.domain.oncall.policy import PERSON, SCHEDULE, OnCallPolicy
from services.escalation.domain.oncall.schedule import Schedule


def validate_schedule(schedule: Schedule, people: Mapping[str, Person]) -> Schedule:
    """Return the schedule if everyone its rotations (in every membership) and overrides name is in `people`."""
    for n, layer in enumerate(schedule.layers):
        rotation = layer.rotation
        for field, ids in [("participants", rotation.participants),
                           *((f"changes[{i}].participants", c.participants) for i, c in enumerate(rotation.changes))]:
            for person in ids:
                if person not in people:
                    raise OnCallConfigError(f"layers[{n}].rotation.{field}", f"no person {person!r}")
    for n, override in enumerate(schedule.overrides):
        for field, person in (("person", override.person), ("instead_of", override.instead_of)):
            if person is not None and person not in people:
                raise OnCallConfigError(f"overrides[{n}].{field}", f"no person {person!r}")
    return schedule


def validate_policy(policy: OnCallPolicy, schedules: Mapping[str, Schedule],
                    people: Mapping[str, Person]) -> OnCallPolicy:
    """Return the policy if every schedule and person its steps and lead name exists."""
    for n, step in enumerate(policy.steps):
        for m, target in enumerate(step.targets):
            if target.kind == SCHEDULE and target.ref not in schedules:
                raise OnCallConfigError(f"steps[{n}].targets[{m}].ref", f"no schedule {target.ref!r}")
            if target.kind == PERSON and target.ref not in people:
                raise OnCallConfigError(f"steps[{n}].targets[{m}].ref", f"no person {target.ref!r}")
    if policy.lead not in people:
        raise OnCallConfigError("lead", f"no person {policy.lead!r}")
    return policy
