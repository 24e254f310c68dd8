"""On-call domain: people, rotations, restrictions, layered schedules with overrides (pure, no I/O).

Time is always passed in as aware datetimes; everything returned is UTC. See each module's docstring
for the rules it guarantees (DST hand-offs in `rotation`, windows in `restriction`, layer and override
precedence in `schedule`).
"""

from services.escalation.domain.oncall.errors import OnCallConfigError
from services.escalation.domain.oncall.people import Person, Shift, directory
from services.escalation.domain.oncall.queries import coverage_gaps, layer_shifts, on_call_at, shifts, shifts_for_person
from services.escalation.domain.oncall.restriction import Restriction, WeeklyWindow, business_hours, daily, weekends
from services.escalation.domain.oncall.rotation import Membership, Rotation, ShiftLength, change_participants
from services.escalation.domain.oncall.schedule import Layer, Override, Schedule, with_overrides

__all__ = [
    "Layer", "Membership", "OnCallConfigError", "Override", "Person",
    "Restriction", "Rotation", "Schedule", "Shift", "ShiftLength", "WeeklyWindow",
    "business_hours", "change_participants", "coverage_gaps", "daily", "directory", "layer_shifts",
    "on_call_at", "shifts", "shifts_for_person",
    "weekends", "with_overrides",
]
