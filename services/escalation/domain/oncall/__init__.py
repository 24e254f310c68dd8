"""On-call domain: people, rotations, restrictions, layered schedules with overrides, page chains (pure, no I/O).

Time is always passed in as aware datetimes; everything returned is UTC. See each module's docstring
for the rules it guarantees (DST hand-offs in `rotation`, windows in `restriction`, layer and override
precedence in `schedule`, firing keys in `policy`).
"""

from services.escalation.domain.oncall.errors import OnCallConfigError
from services.escalation.domain.oncall.people import Person, Shift, directory
from services.escalation.domain.oncall.policy import (
    Firing,
    OnCallPolicy,
    PolicyStep,
    Progress,
    Target,
    firings,
    progress,
    resolve,
)
from services.escalation.domain.oncall.queries import coverage_gaps, layer_shifts, on_call_at, shifts, shifts_for_person
from services.escalation.domain.oncall.restriction import Restriction, WeeklyWindow, business_hours, daily, weekends
from services.escalation.domain.oncall.rotation import Membership, Rotation, ShiftLength, change_participants
from services.escalation.domain.oncall.schedule import Layer, Override, Schedule, with_overrides
from services.escalation.domain.oncall.validate import validate_policy, validate_schedule

__all__ = [
    "Firing", "Layer", "Membership", "OnCallConfigError", "OnCallPolicy", "Override", "Person", "PolicyStep",
    "Progress", "Restriction", "Rotation", "Schedule", "Shift", "ShiftLength", "Target", "WeeklyWindow",
    "business_hours", "change_participants", "coverage_gaps", "daily", "directory", "firings", "layer_shifts",
    "on_call_at", "progress", "resolve", "shifts", "shifts_for_person", "validate_policy", "validate_schedule",
    "weekends", "with_overrides",
]
