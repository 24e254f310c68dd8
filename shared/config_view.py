"""`GET /v1/config`: the configuration files a service loaded at start, exactly as it read them (staff only).

The support console shows admins the triage rules, escalation policy and notification routing as the
running services loaded them, by asking each service rather than reading files itself: a file edited
after start, or mounted differently for one service, would otherwise be shown wrongly. The files hold
no secrets (endpoint URLs and signing secrets are named by environment variable, never written there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder

from shared.config_files import LoadedFile
from shared.identities import KeyRoles, require_staff
from shared.problems import Problem


def file_view(loaded: LoadedFile, loaded_at: datetime) -> dict[str, Any]:
    """Return one loaded file as the route shows it: what, where from, when, its hash, its text and its data."""
    return {"what": loaded.what, "source": loaded.source, "loaded_at": loaded_at.isoformat(), "sha256": loaded.sha256,
            "text": loaded.text, "data": jsonable_encoder(yaml.safe_load(loaded.text))}


def install_config_route(app: FastAPI, service: str, files: list[LoadedFile], loaded_at: datetime,
                         keys: KeyRoles | None) -> None:
    """Add `GET /v1/config` to a service app: its loaded files, for agents and admins (keys checked by intake)."""

    @app.get("/v1/config", tags=["operations"], summary="Configuration files as loaded at start (agents, admins)")
    async def loaded_config(request: Request) -> dict[str, Any]:
        if keys is None:
            raise Problem(503, "Not ready", "the service cannot check API keys yet")
        await require_staff(request, keys, "configuration files are")
        return {"service": service, "files": [file_view(f, loaded_at) for f in files]}
