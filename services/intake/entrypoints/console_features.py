"""The console's feature-request board (`/console/features`): requests by votes, and where each stands."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.domain.actions import FEATURE_STATUS_LABELS, FEATURE_STATUSES
from services.intake.domain.views import words_of
from services.intake.entrypoints.console_web import require_staff
from services.intake.entrypoints.portal_web import portal_of

router = APIRouter(include_in_schema=False)
SHORTCUTS = (("g", "Back to the queue"), ("?", "Show these shortcuts"))


@router.get("/console/features")
async def board(request: Request) -> Response:
    """Open feature requests, most votes first, filtered by status and words; each with its status control."""
    await require_staff(request)
    params = request.query_params
    wanted = params.get("status") if params.get("status") in FEATURE_STATUSES else None
    query = (params.get("q") or "").strip()[:100]
    words = set(words_of(query))
    entries = await request.app.state.views.feature_entries()
    matching = [e for e in entries if not words or words <= set(words_of(e.get("title") or ""))]
    counts = Counter(e.get("feature_status") or "under_review" for e in matching)
    shown = [e for e in matching if wanted is None or (e.get("feature_status") or "under_review") == wanted]
    shown.sort(key=lambda e: (e.get("votes", 0), e["id"]), reverse=True)
    filters = {k: v for k, v in (("status", wanted), ("q", query)) if v}
    return await portal_of(request).render(request, "console/features.html", {
        "features": shown[:200], "counts": counts, "wanted": wanted, "query": query, "total": len(matching),
        "statuses": [(s, FEATURE_STATUS_LABELS[s]) for s in FEATURE_STATUSES], "labels": FEATURE_STATUS_LABELS,
        "back": "/console/features" + (f"?{urlencode(filters)}" if filters else ""), "shortcuts": SHORTCUTS})
