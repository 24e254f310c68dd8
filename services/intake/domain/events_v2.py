"""The PagerDuty Events API v2, read as PagerDuty reads it: what an event says, or why it is invalid (pure).

Fields and limits are PagerDuty's (developer docs, "Send an Alert Event"): `routing_key`,
`event_action` trigger/acknowledge/resolve, `dedup_key` (at most 255 characters), and for a
trigger `payload.summary` (at most 1024), `payload.source`, `payload.severity` (critical, error,
warning, info), optional `timestamp`, `component`, `group`, `class`, `custom_details`, plus
`links`, `images`, `client` and `client_url`. Errors name the field, as PagerDuty's do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_BODY_BYTES = 512 * 1024
"""PagerDuty's size limit of one event."""
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_TEXT = 1024
MAX_CONTEXTS = 50
MAX_DETAILS_TEXT = 16_000
"""custom_details are kept as JSON text up to this length (data, never field names)."""


@dataclass(frozen=True)
class Event:
    """One valid Events API v2 event."""

    routing_key: str
    action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = None
    summary: str | None = None
    source: str | None = None
    severity: str | None = None
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    event_class: str | None = None
    custom_details: str | None = None
    links: tuple[dict[str, str], ...] = ()
    images: tuple[dict[str, str], ...] = ()
    client: str | None = None
    client_url: str | None = None


class InvalidEvent(ValueError):
    """An event PagerDuty would refuse; `errors` name each field and what is wrong with it."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def routing_key_of(body: Any) -> str:
    """Return the event's routing key, or raise InvalidEvent if there is none to authenticate with."""
    if not isinstance(body, dict):
        raise InvalidEvent(["the event must be a JSON object"])
    key = body.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        raise InvalidEvent(["'routing_key' is missing or blank"])
    return key.strip()


def parse_event(body: Any) -> Event:
    """Return the event a decoded JSON body describes, or raise InvalidEvent listing every problem."""
    routing_key = routing_key_of(body)
    errors: list[str] = []
    action = body.get("event_action")
    if not isinstance(action, str) or not action.strip():
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(ACTIONS)}")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > MAX_DEDUP_KEY):
        errors.append(f"'dedup_key' must be a string of at most {MAX_DEDUP_KEY} characters")
    elif isinstance(dedup_key, str) and not dedup_key.strip():
        dedup_key = None
    if action in ("acknowledge", "resolve") and dedup_key is None:
        errors.append(f"'dedup_key' is required to {action} an alert")
    fields: dict[str, Any] = {}
    if action == "trigger":
        fields = _trigger_fields(body.get("payload"), errors)
        fields["links"] = _contexts(body.get("links"), "links", "href", ("href", "text"), errors)
        fields["images"] = _contexts(body.get("images"), "images", "src", ("src", "href", "alt"), errors)
        fields["client"] = _optional_text(body, "client", "client", errors)
        fields["client_url"] = _url(body.get("client_url"), "client_url", errors)
    if errors:
        raise InvalidEvent(errors)
    return Event(routing_key=routing_key, action=action, dedup_key=dedup_key, **fields)


def _trigger_fields(payload: Any, errors: list[str]) -> dict[str, Any]:
    """Return the payload fields of a trigger, adding what is wrong to errors."""
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        return {}
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"'payload.summary' is longer than {MAX_SUMMARY} characters")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    elif len(source) > MAX_TEXT:
        errors.append(f"'payload.source' is longer than {MAX_TEXT} characters")
    severity = payload.get("severity")
    if severity not in SEVERITIES:
        errors.append(f"'payload.severity' must be one of {', '.join(SEVERITIES)}")
    return {
        "summary": summary.strip() if isinstance(summary, str) else None,
        "source": source.strip() if isinstance(source, str) else None,
        "severity": severity if severity in SEVERITIES else None,
        "timestamp": _timestamp(payload.get("timestamp"), errors),
        "component": _optional_text(payload, "component", "payload.component", errors),
        "group": _optional_text(payload, "group", "payload.group", errors),
        "event_class": _optional_text(payload, "class", "payload.class", errors),
        "custom_details": _details(payload.get("custom_details")),
    }


def _optional_text(container: dict[str, Any], key: str, name: str, errors: list[str]) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        errors.append(f"'{name}' must be a string of at most {MAX_TEXT} characters")
        return None
    return value.strip() or None


def _timestamp(value: Any, errors: list[str]) -> datetime | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.append("'payload.timestamp' must be an ISO 8601 timestamp, e.g. 2015-07-17T08:42:58.315+0000")
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _details(value: Any) -> str | None:
    """Return custom_details as JSON text (cut to MAX_DETAILS_TEXT): kept as data, whatever its keys."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text[:MAX_DETAILS_TEXT]


def _url(value: Any, name: str, errors: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2000 or not value.lower().startswith(("https://", "http://")):
        errors.append(f"'{name}' must be an http(s) URL of at most 2000 characters")
        return None
    return value


def _contexts(value: Any, name: str, required: str, keys: tuple[str, ...], errors: list[str]) -> tuple[dict, ...]:
    """Return links or images as plain dicts of strings; name each bad entry in errors."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_CONTEXTS:
        errors.append(f"'{name}' must be a list of at most {MAX_CONTEXTS} objects")
        return ()
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append(f"'{name}[{index}]' must be an object")
            continue
        if item.get(required) is None:
            errors.append(f"'{name}[{index}].{required}' is missing")
            continue
        entry = {}
        for key in keys:
            text, where = item.get(key), f"{name}[{index}].{key}"
            if text is None:
                continue
            if key in ("href", "src"):
                if (url := _url(text, where, errors)) is not None:
                    entry[key] = url
            elif not isinstance(text, str) or len(text) > MAX_TEXT:
                errors.append(f"'{where}' must be a string of at most {MAX_TEXT} characters")
            else:
                entry[key] = text
        found.append(entry)
    return tuple(found)
