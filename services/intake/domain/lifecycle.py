"""The table of legal moves between the ticket statuses of KB-005: who may move a ticket where (pure)."""

from __future__ import annotations

from enum import StrEnum

from shared.contracts import Status


class Mover(StrEnum):
    """Who asks for a move: support staff, the reporter, or one of our services."""

    AGENT = "agent"
    REPORTER = "reporter"
    SYSTEM = "system"


AGENT, REPORTER, SYSTEM = Mover.AGENT, Mover.REPORTER, Mover.SYSTEM

TRANSITIONS: dict[tuple[Status, Status], frozenset[Mover]] = {
    (Status.OPEN, Status.IN_PROGRESS): frozenset({AGENT, SYSTEM}),
    (Status.OPEN, Status.WAITING_FOR_INFO): frozenset({AGENT}),
    (Status.OPEN, Status.ON_HOLD): frozenset({AGENT, SYSTEM}),
    (Status.OPEN, Status.RESOLVED): frozenset({AGENT}),
    (Status.OPEN, Status.CLOSED): frozenset({AGENT}),
    (Status.IN_PROGRESS, Status.WAITING_FOR_INFO): frozenset({AGENT}),
    (Status.IN_PROGRESS, Status.ON_HOLD): frozenset({AGENT, SYSTEM}),
    (Status.IN_PROGRESS, Status.RESOLVED): frozenset({AGENT, SYSTEM}),
    (Status.WAITING_FOR_INFO, Status.IN_PROGRESS): frozenset({AGENT, REPORTER}),
    (Status.WAITING_FOR_INFO, Status.ON_HOLD): frozenset({AGENT}),
    (Status.WAITING_FOR_INFO, Status.RESOLVED): frozenset({AGENT}),
    (Status.ON_HOLD, Status.IN_PROGRESS): frozenset({AGENT, SYSTEM}),
    (Status.ON_HOLD, Status.WAITING_FOR_INFO): frozenset({AGENT}),
    (Status.ON_HOLD, Status.RESOLVED): frozenset({AGENT, SYSTEM}),
    (Status.RESOLVED, Status.CLOSED): frozenset({AGENT, REPORTER, SYSTEM}),
    (Status.RESOLVED, Status.IN_PROGRESS): frozenset({AGENT, REPORTER}),
    (Status.CLOSED, Status.IN_PROGRESS): frozenset({AGENT}),
}
"""(from, to) -> who may make that move. Anything absent is illegal."""


class IllegalTransition(Exception):
    """A move that the table forbids for this mover; `allowed` lists what this mover may do instead."""

    def __init__(self, current: Status, wanted: Status, mover: Mover) -> None:
        self.current = current
        self.wanted = wanted
        self.mover = mover
        self.allowed = allowed_moves(current, mover)
        names = ", ".join(s.value for s in self.allowed) or "none"
        super().__init__(
            f"a {mover.value} cannot move a ticket from {current.value} to {wanted.value}; allowed: {names}"
        )


def allowed_moves(current: Status, mover: Mover) -> list[Status]:
    """Return the statuses this mover may move a ticket to from `current`, in lifecycle order."""
    return [to for to in Status if mover in TRANSITIONS.get((current, to), frozenset())]


def check_move(current: Status, wanted: Status, mover: Mover) -> None:
    """Return if the move is legal for this mover, else raise IllegalTransition."""
    if mover not in TRANSITIONS.get((current, wanted), frozenset()):
        raise IllegalTransition(current, wanted, mover)
