"""Builds the triage service: the only place its objects are wired together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import create_service_app
from shared.locks import KeyedLocks
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from services.triage.adapters import decisions, fingerprints
from services.triage.domain.policy import TriagePolicy
from services.triage.handlers import apply_severity_override, triage_reported_ticket
from services.triage.rules_file import load_policy
from services.triage.settings import TriageSettings


def build_app(
    settings: TriageSettings | None = None, clock: Clock | None = None, policy: TriagePolicy | None = None
) -> FastAPI:
    """Return the triage app: classifies ticket.reported, applies overrides; a bad rules file fails here."""
    settings = settings or TriageSettings()
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.triage_rules_file)
    runtime = ServiceRuntime("triage", settings)
    runtime.indexes += decisions.INDEXES + fingerprints.INDEXES
    decision_locks = runtime.document_locks[decisions.COLLECTION] = KeyedLocks()
    group_locks = runtime.document_locks[fingerprints.COLLECTION] = KeyedLocks()

    async def wire(rt: ServiceRuntime) -> None:
        records = decisions.MongoDecisions(rt.db, decision_locks)
        groups = fingerprints.MongoFingerprintGroups(rt.db, group_locks)
        rt.consume(
            CONSUMER_QUEUES["triage"],
            {
                "ticket.reported": partial(
                    triage_reported_ticket, policy=policy, decisions=records, groups=groups, clock=clock
                ),
                "ticket.severity_changed": partial(
                    apply_severity_override, policy=policy, decisions=records, clock=clock
                ),
            },
        )

    runtime.on_startup(wire)
    return create_service_app(runtime, title="Incidents triage", description="Classification and SLA targets")
