"""What the portal's forms post, turned into the API's own request models (one validation for both ways in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from services.intake.entrypoints.schemas import TicketCreate
from services.intake.service_layer.attachments import attachment_refusal, safe_filename

REPORT_FIELDS = ("title", "type", "severity", "description", "steps_to_reproduce", "trying_to_do", "what_happened",
                 "users_affected", "error_messages", "recent_changes", "component", "expected_behaviour",
                 "actual_behaviour", "use_case", "importance")
FIELD_NAMES = {"title": "Title", "type": "Type", "severity": "Severity", "description": "Description",
               "steps_to_reproduce": "Steps to reproduce", "users_affected": "How many users are affected",
               "started_at": "When did it start", "expected_behaviour": "Expected behaviour",
               "actual_behaviour": "Actual behaviour", "use_case": "Use case", "importance": "Importance",
               "trying_to_do": "What were you trying to do", "what_happened": "What happened instead",
               "error_messages": "Error messages", "recent_changes": "Recent changes", "system_info": "System info"}


def text(form: FormData, name: str, limit: int = 25_000) -> str:
    """Return a text field as posted (files and absent fields are empty), cut to limit."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def tristate(value: str) -> bool | None:
    """Return True for 'yes', False for 'no', None for anything else (not known)."""
    return {"yes": True, "no": False}.get(value)


def started_at(local: str, offset_minutes: str) -> datetime | str | None:
    """Return a `datetime-local` value in UTC, using the browser's offset (getTimezoneOffset) if it sent one."""
    if not local:
        return None
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        return local  # the model says what is wrong with it
    if moment.tzinfo is not None:
        return moment
    try:
        offset = int(offset_minutes) if offset_minutes else 0
    except ValueError:
        offset = 0
    offset = max(-16 * 60, min(16 * 60, offset))
    return (moment + timedelta(minutes=offset)).replace(tzinfo=UTC)


def report_body(form: FormData, *, kind: str, client_ip: str | None) -> dict[str, Any]:
    """Return the TicketCreate body of a posted Report Issue, Bug Report or Feature Request form."""
    body: dict[str, Any] = {"kind": kind}
    for name in REPORT_FIELDS:
        value = text(form, name).strip()
        if value:
            body[name] = value
    for name in ("production", "workaround_available"):
        known = tristate(text(form, name))
        if known is not None:
            body[name] = known
    when = started_at(text(form, "started_at"), text(form, "tz_offset"))
    if when is not None:
        body["started_at"] = when
    info = {key: text(form, key, 100).strip() for key in ("os", "browser")}
    info = {key: value for key, value in info.items() if value}
    if client_ip and client_ip != "unknown":
        info["ip"] = client_ip
    if info:
        body["system_info"] = info
    if kind == "feature_request":
        body.setdefault("type", "feature")
    if kind == "bug_report":
        body.setdefault("type", "feature")
    return body


def validate_report(body: dict[str, Any]) -> tuple[TicketCreate | None, dict[str, str]]:
    """Return the validated report, or None and a message per form field (the API's own rules)."""
    try:
        return TicketCreate.model_validate(body), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_input=False):
            location = [str(part) for part in error.get("loc", ())]
            field = location[0] if location else "form"
            message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
            if field in ("form", "") or len(location) == 0:
                field = "form"
            errors.setdefault(field, message)
        return None, errors


def uploads(form: FormData, name: str = "files") -> list[UploadFile]:
    """Return the files posted under name (empty file inputs are skipped)."""
    return [item for item in form.getlist(name) if isinstance(item, UploadFile) and item.filename]


async def read_uploads(files: list[UploadFile], *, allowed_types: tuple[str, ...], max_bytes: int,
                       max_files: int) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """Return (safe name, type, bytes) of each acceptable file and, for the others, why they are refused."""
    if len(files) > max_files:
        return [], [f"Attach at most {max_files} files at once."]
    kept, problems = [], []
    for upload in files:
        data = await upload.read()
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        name = safe_filename(upload.filename or "", "screenshot")
        refusal = attachment_refusal(content_type, len(data), allowed_types=allowed_types, max_bytes=max_bytes)
        if refusal is not None:
            problems.append(f"{name}: {refusal}")
        else:
            kept.append((name, content_type, data))
    return kept, problems
