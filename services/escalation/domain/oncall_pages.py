"""On-call page chains on a ticket's clock record: the team's policy for the tier pages whoever is on call (pure).

When a ticket that pages reaches a team with an on-call policy for its tier, the chain replaces the static
repeat-the-role pages. The record keeps `oncall`:

    {"id": page id, "policy": "<team>/tier-<n>", "team", "tier", "reason", "started_at",
     "steps": [{"delay_minutes", "targets": [{"kind", "ref"}]}], "repeats", "lead",
     "fired": [firing keys], "paged": [{"step": firing key, "people": [person ids]}], "active",
     "acknowledged": None | {...}}

(Firing keys hold dots, so they are values, never document keys.)

The policy's timetable (steps, delays, repeats, lead) is copied when the chain starts, so editing a policy
never moves a running chain's steps. Whom a step pages is decided when it fires, from the configuration
as it is then: the people its schedules have on call at that moment (overrides included). A step that
reaches nobody (a coverage gap, or every target gone) hands on to the next step at once, and so does a
page that the notifier could not deliver to anyone it named.
"""

from __future__ import annotations

from typing import Any

from services.escalation.domain.effects import Context, Effects, facts
from services.escalation.domain.oncall import OnCallPolicy, PolicyStep, Target, firings, on_call_at
from services.escalation.domain.oncall.config import policy_key
from services.escalation.domain.oncall.people import Person
from services.escalation.domain.oncall.policy import CHANNEL, LEAD, SCHEDULE, Firing
from shared.contracts.escalation_events import EscalationPageRequested, PagedPerson

KIND = "oncall"
"""Timer keys of chain firings: `oncall.<page id>.<firing key>`."""


def snapshot(policy: OnCallPolicy) -> dict[str, Any]:
    """Return the parts of a policy a chain keeps: its timetable and targets (stored in the clock record)."""
    return {"policy": policy_key(policy.team, policy.tier), "team": policy.team, "tier": policy.tier,
            "steps": [{"delay_minutes": step.delay_minutes, "targets": [{"kind": t.kind, "ref": t.ref}
                                                                       for t in step.targets]}
                      for step in policy.steps],
            "repeats": policy.repeats, "lead": policy.lead}


def policy_of(chain: dict[str, Any]) -> OnCallPolicy:
    """Return the policy a chain was started with."""
    steps = tuple(PolicyStep(step["delay_minutes"], tuple(Target(t["kind"], t["ref"]) for t in step["targets"]))
                  for step in chain["steps"])
    return OnCallPolicy(chain["policy"], chain["team"], chain["tier"], steps, chain["lead"], chain["repeats"])


def chain_firings(chain: dict[str, Any]) -> list[Firing]:
    """Return every firing of the chain, in time order, ending with the lead."""
    return firings(policy_of(chain), chain["started_at"])


def start_chain(doc: dict[str, Any], policy: OnCallPolicy, page_id: str, reason: str, ctx: Context,
                fx: Effects) -> None:
    """Start the team's chain for this ticket now and page its first step at once."""
    doc["oncall"] = {"id": page_id, **snapshot(policy), "reason": reason, "started_at": ctx.now, "fired": [],
                     "paged": [], "active": True, "acknowledged": None}
    first = chain_firings(doc["oncall"])[0]
    fire(doc, first.key, ctx, fx)


def pending(doc: dict[str, Any]) -> list[tuple[Any, str]]:
    """Return (when, timer key) of every firing of an active chain not fired yet."""
    chain = doc.get("oncall")
    if not chain or not chain.get("active"):
        return []
    done = set(chain["fired"])
    return [(f.at, f"{KIND}.{chain['id']}.{f.key}") for f in chain_firings(chain) if f.key not in done]


def fire_timer(doc: dict[str, Any], timer_key: str, ctx: Context, fx: Effects) -> None:
    """Fire the chain step a timer key names (see `pending`)."""
    chain = doc["oncall"]
    fire(doc, timer_key.removeprefix(f"{KIND}.{chain['id']}."), ctx, fx)


def fire(doc: dict[str, Any], key: str, ctx: Context, fx: Effects, why: str | None = None) -> None:
    """Page one firing of the chain now (once), resolving its targets at this moment."""
    chain = doc["oncall"]
    if key in chain["fired"] or not chain.get("active"):
        return
    every = chain_firings(chain)
    firing = next(f for f in every if f.key == key)
    chain["fired"] = [*chain["fired"], key]
    people, channels, unknown = resolve(firing, ctx)
    chain["paged"] = [*chain["paged"], {"step": key, "people": [p.id for p in people]}]
    if key == LEAD:
        chain["active"] = False
    nobody = f"nobody to page at {describe(firing)}" + (f" ({', '.join(unknown)})" if unknown else "")
    if not people and not channels and key != LEAD:
        hand_on(doc, key, nobody, ctx, fx)
        return
    reason = why or (f"{chain['reason']}; not acknowledged, the team lead is notified" if key == LEAD
                     else chain["reason"] if key == every[0].key else f"{chain['reason']}; not acknowledged yet")
    fx.emit(EscalationPageRequested(
        **facts(doc), page_id=chain["id"], role="lead" if key == LEAD else "on_call",
        attempt=(firing.repeat if firing.repeat is not None else chain["repeats"]) + 1,
        max_attempts=chain["repeats"] + 1, reason=reason[:1000], requested_at=ctx.now, step=key,
        policy_id=chain["policy"], channels=channels,
        people=[paged_person(p) for p in people] if people or channels else None,  # None: the static lead contact
    ))


def hand_on(doc: dict[str, Any], after: str, why: str, ctx: Context, fx: Effects) -> None:
    """Page the firing that follows `after` now, ahead of its time (its own time then finds it fired)."""
    chain = doc["oncall"]
    keys = [f.key for f in chain_firings(chain)]
    following = next((k for k in keys[keys.index(after) + 1:] if k not in chain["fired"]), None)
    if following is not None:
        fire(doc, following, ctx, fx, why=f"{chain['reason']}; {why}")


def resolve(firing: Firing, ctx: Context) -> tuple[list[Person], list[str], list[str]]:
    """Return (people, team channels, targets that name nothing now) a firing pages at ctx.now."""
    config = ctx.oncall
    people: dict[str, Person] = {}
    channels: list[str] = []
    unknown: list[str] = []
    for target in firing.targets:
        if target.kind == CHANNEL:
            channels.append(target.ref)
            continue
        if config is None or (target.kind == SCHEDULE and target.ref not in config.schedules):
            unknown.append(f"{target.kind} {target.ref}")
            continue
        ids = on_call_at(config.effective(target.ref), ctx.now) if target.kind == SCHEDULE else [target.ref]
        for person_id in ids:
            if person_id in config.people:
                people.setdefault(person_id, config.people[person_id])
            else:
                unknown.append(f"person {person_id}")
    return list(people.values()), list(dict.fromkeys(channels)), unknown


def paged_at(chain: dict[str, Any], key: str) -> list[str]:
    """Return the ids of the people a firing of the chain paged ([] if it has not fired or reached nobody)."""
    return next((entry["people"] for entry in chain["paged"] if entry["step"] == key), [])


def describe(firing: Firing) -> str:
    """Return how a firing reads in a reason: 'step 2 of round 1' or 'the team lead'."""
    if firing.key == LEAD:
        return "the team lead"
    return f"step {(firing.index or 0) + 1} of round {(firing.repeat or 0) + 1}"


def paged_person(person: Person) -> PagedPerson:
    """Return the contract form of a person paged."""
    return PagedPerson(id=person.id, name=person.name, email=person.email, slack=person.slack, webhook=person.webhook)


def lead_of(doc: dict[str, Any], ctx: Context) -> Person | None:
    """Return the team lead of the ticket's team policy at its tier, if the configuration names one."""
    config = ctx.oncall
    policy = config.policy_for(doc.get("team"), doc.get("tier")) if config is not None else None
    return config.people.get(policy.lead) if config is not None and policy is not None else None


def acknowledged(doc: dict[str, Any], page_id: str, person_id: str, step: str | None, ctx: Context) -> None:
    """Record who acknowledged the chain from its page and stop it (a page of another chain stops nothing more)."""
    chain = doc.get("oncall")
    if not chain or chain["id"] != page_id or chain.get("acknowledged"):
        return
    chain["acknowledged"] = {"by": person_id, "step": step, "at": ctx.now}
    chain["active"] = False


def stop(doc: dict[str, Any]) -> None:
    """Stop the chain: someone responded on the ticket."""
    if doc.get("oncall") and doc["oncall"].get("active"):
        doc["oncall"] = {**doc["oncall"], "active": False}


def page_failed(doc: dict[str, Any], person_id: str, source_event_id: str, ctx: Context, fx: Effects) -> bool:
    """Hand on to the next step when a page to someone the latest firing named could not be delivered.

    Return False when no active chain paged that person (the static contact chain decides then).
    """
    chain = doc.get("oncall")
    if not chain or not chain.get("active") or not chain["fired"]:
        return bool(chain and chain.get("acknowledged"))
    latest = chain["fired"][-1]
    if person_id not in paged_at(chain, latest):
        return True
    key = f"{KIND}.{chain['id']}.undeliverable.{latest}"
    if key not in doc["fired"]:
        doc["fired"].append(key)
        hand_on(doc, latest, f"the page to {person_id} could not be delivered", ctx, fx)
    return True

