"""Ticket statuses of KB-005 and the table of legal moves: who may move a ticket where (pure)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The six statuses of the spec, in lifecycle order."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_INFO = "waiting_for_info"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Mover(StrEnum):
    """Who asks for a move: support staff, the reporter, or one of our services."""

    AGENT = "agent"
    REPORTER = "reporter"
    SYSTEM = "system"


A, R, S = Mover.AGENT, Mover.REPORTER, Mover.SYSTEM

TRANSITIONS: dict[tuple[Status, Status], frozenset[Mover]] = {
    (Status.OPEN, Status.IN_PROGRESS): frozenset({A, S}),
    (Status.OPEN, Status.WAITING_FOR_INFO): frozenset({A}),
    (Status.OPEN, Status.ON_HOLD): frozenset({A, S}),
    (Status.OPEN, Status.RESOLVED): frozenset({A}),
    (Status.OPEN, Status.CLOSED): frozenset({A}),
    (Status.IN_PROGRESS, Status.WAITING_FOR_INFO): frozenset({A}),
    (Status.IN_PROGRESS, Status.ON_HOLD): frozenset({A, S}),
    (Status.IN_PROGRESS, Status.RESOLVED): frozenset({A, S}),
    (Status.WAITING_FOR_INFO, Status.IN_PROGRESS): frozenset({A, R}),
    (Status.WAITING_FOR_INFO, Status.ON_HOLD): frozenset({A}),
    (Status.WAITING_FOR_INFO, Status.RESOLVED): frozenset({A}),
    (Status.ON_HOLD, Status.IN_PROGRESS): frozenset({A, S}),
    (Status.ON_HOLD, Status.WAITING_FOR_INFO): frozenset({A}),
    (Status.ON_HOLD, Status.RESOLVED): frozenset({A, S}),
    (Status.RESOLVED, Status.CLOSED): frozenset({A, R, S}),
    (Status.RESOLVED, Status.IN_PROGRESS): frozenset({A, R}),
    (Status.CLOSED, Status.IN_PROGRESS): frozenset({A}),
}
"""(from, to) -> who may make that move. Anything absent is illegal."""

PAUSED = frozenset({Status.WAITING_FOR_INFO, Status.ON_HOLD})
"""Statuses in which SLA clocks do not run."""


class IllegalTransition(Exception):
    """A move that the table forbids for this mover; `allowed` lists what this mover may do instead."""

    def __init__(self, current: Status, target: Status, mover: Mover) -> None:
        self.current = current
        self.target = target
        self.mover = mover
        self.allowed = allowed_moves(current, mover)
        names = ", ".join(s.value for s in self.allowed) or "none"
        super().__init__(
            f"a {mover.value} cannot move a ticket from {current.value} to {target.value}; allowed: {names}"
        )


def allowed_moves(current: Status, mover: Mover) -> list[Status]:
    """Return the statuses this mover may move a ticket to from `current`, in lifecycle order."""
    return [to for to in Status if mover in TRANSITIONS.get((current, to), frozenset())]


def check_move(current: Status, target: Status, mover: Mover) -> None:
    """Return if the move is legal for this mover, else raise IllegalTransition."""
    if mover not in TRANSITIONS.get((current, target), frozenset()):
        raise IllegalTransition(current, target, mover)
