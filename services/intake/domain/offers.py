"""What a person may do to a ticket now: the console offers only these (pure).

Built from the same rules the actions enforce (the transition table in lifecycle.py and the checks in
actions.py), so a button shown is a move allowed and a move refused is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.intake.domain.actions import escalation_tiers, may_acknowledge
from services.intake.domain.lifecycle import Mover, allowed_moves
from shared.contracts import Status


@dataclass(frozen=True)
class Offers:
    """The actions the console shows for one ticket and one person."""

    acknowledge: bool = False
    assign: bool = False
    statuses: tuple[Status, ...] = ()
    """Plain status moves (asking for information and resolving have their own forms)."""
    ask_for_information: bool = False
    resolve: bool = False
    change_severity: bool = False
    comment: bool = False
    escalate_to: tuple[int, ...] = ()
    feature_status: bool = False


def offers_for(ticket: dict[str, Any], mover: Mover) -> Offers:
    """Return what this mover may do to the ticket as it stands; reporters and systems get nothing here."""
    if mover is not Mover.AGENT:
        return Offers()
    status = Status(ticket["status"])
    moves = allowed_moves(status, mover)
    open_ticket = status is not Status.CLOSED
    return Offers(
        acknowledge=may_acknowledge(ticket),
        assign=open_ticket,
        statuses=tuple(s for s in moves if s not in (Status.WAITING_FOR_INFO, Status.RESOLVED)),
        ask_for_information=Status.WAITING_FOR_INFO in moves,
        resolve=Status.RESOLVED in moves,
        change_severity=open_ticket,
        comment=True,
        escalate_to=tuple(escalation_tiers(ticket)),
        feature_status=ticket.get("kind") == "feature_request",
    )
