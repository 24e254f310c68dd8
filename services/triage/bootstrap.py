"""Builds the triage service: the only place its objects are wired together."""

from __future__ import annotations

from functools import partial

import httpx
from fastapi import FastAPI

from services.triage.adapters import fingerprints, triage_records
from services.triage.adapters.rules_file import load_rules
from services.triage.domain.policy import TriagePolicy
from services.triage.service_layer.handlers import (
    apply_severity_override,
    triage_reported_ticket,
)
from services.triage.settings import TriageSettings
from shared.clock import Clock, SystemClock
from shared.config_files import LoadedFile
from shared.config_view import install_config_route
from shared.http import create_service_app
from shared.identities import IntakeIdentities
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from shared.settings import load_settings
from shared.sla.config import load_service_levels


def build_app(
    settings: TriageSettings | None = None, clock: Clock | None = None, policy: TriagePolicy | None = None
) -> FastAPI:
    """Return the triage app: classifies ticket.reported, applies overrides; a bad rules file fails here."""
    settings = settings or load_settings(TriageSettings)
    clock = clock or SystemClock()
    loaded: list[LoadedFile] = []
    policy = policy or load_rules(load_service_levels(settings.service_levels_file), settings.triage_rules_file,
                                  loaded=loaded)
    runtime = ServiceRuntime("triage", settings)
    runtime.indexes += triage_records.INDEXES + fingerprints.INDEXES
    runtime.outbox_collections.append(triage_records.COLLECTION)

    async def wire(rt: ServiceRuntime) -> None:
        records = triage_records.MongoTriageRecords(rt.db, on_outbox=rt.relay.hint)
        groups = fingerprints.MongoFingerprintGroups(rt.db)
        rt.consume(
            CONSUMER_QUEUES["triage"],
            {
                "ticket.reported": partial(
                    triage_reported_ticket, policy=policy, records=records, groups=groups, clock=clock
                ),
                "ticket.severity_changed": partial(
                    apply_severity_override, policy=policy, records=records, clock=clock
                ),
            },
            inbox=False,  # the record is the inbox: one per ticket, holding the events it owes
        )

    runtime.on_startup(wire)
    app = create_service_app(runtime, title="Incidents triage", description="Classification and SLA targets")
    install_config_route(app, "triage", loaded, clock.now(), IntakeIdentities(httpx.AsyncClient(timeout=5.0),
                                                                              settings.intake_url))
    return app
