"""The ticket a source opens: title, description, type, component and severity from its alert (pure).

Labels, annotations and details are copied as text; nothing in them is read as a template, a
query or a field name. The only values interpreted are the source's severity word (through the
integration's mapping) and a `component` label.
"""

from __future__ import annotations

from typing import Any

from services.intake.domain.alert_groups import ALERTS_ON_TICKET, Notification, pairs_document, to_millis
from services.intake.domain.events_v2 import Event
from services.intake.domain.integrations import Integration
from shared.contracts import Severity

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
COMPONENT_MAX = 100


def cut(text: str, limit: int) -> str:
    """Return text no longer than limit, marked with an ellipsis where it was cut."""
    text = " ".join(text.split()) if limit <= TITLE_MAX else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pairs_text(pairs: Any) -> str:
    """Return labels or annotations as `name=value` text."""
    return ", ".join(f"{name}={value}" for name, value in pairs)


def most_severe(severities: list[Severity | None]) -> Severity | None:
    """Return the most severe of the given severities (None if there are none)."""
    known = [s for s in severities if s is not None]
    return min(known, key=lambda s: s.level) if known else None


def report_fields(integration: Integration, *, title: str, description: str, severity: Severity | None,
                  component: str | None, source: dict[str, Any], started_at: Any = None) -> dict[str, Any]:
    """Return the fields of a ticket an integration opens; a mapped severity is pinned (triage keeps it)."""
    component = (component or integration.component or "").strip()[:COMPONENT_MAX] or None
    return {
        "kind": "incident", "title": cut(title, TITLE_MAX) or f"Alert from {integration.name}",
        "description": cut(description, DESCRIPTION_MAX) or "(no description)",
        "type": integration.default_type.value, "reported_severity": severity.value if severity else None,
        "severity_pinned": severity is not None, "component": component, "users_affected": None,
        "production": None, "workaround_available": None, "started_at": started_at,
        "source": {**integration.source(), **source},
    }


def alertmanager_fields(integration: Integration, notification: Notification, alerts: list[dict[str, Any]],
                        key_shown: str) -> dict[str, Any]:
    """Return the fields of the ticket an Alertmanager group opens."""
    common = dict(notification.common_labels)
    annotations = dict(notification.common_annotations)
    firing = [a for a in notification.alerts if a.status == "firing"] or list(notification.alerts)
    first = firing[0] if firing else None
    title = (annotations.get("summary") or (first and first.annotations and dict(first.annotations).get("summary"))
             or " ".join(filter(None, [common.get("alertname") or (first and first.label("alertname")),
                                       f"({pairs_text(notification.group_labels)})"
                                       if notification.group_labels else ""])))
    severity = integration.severity_for(common.get("severity")) or most_severe(
        [integration.severity_for(a.label("severity")) for a in firing])
    lines = [f"Alertmanager group from {integration.name} (receiver {notification.receiver or '-'}).",
             f"Group labels: {pairs_text(notification.group_labels) or '-'}"]
    if annotations.get("description"):
        lines.append(annotations["description"])
    lines.append(f"Alerts ({len(firing)} firing of {len(notification.alerts)}):")
    for alert in notification.alerts[:ALERTS_ON_TICKET]:
        notes = dict(alert.annotations)
        detail = notes.get("summary") or notes.get("description") or ""
        lines.append(f"- [{alert.status}] {pairs_text(alert.labels)}" + (f": {detail}" if detail else ""))
    if len(notification.alerts) > ALERTS_ON_TICKET:
        lines.append(f"… and {len(notification.alerts) - ALERTS_ON_TICKET} more")
    if notification.external_url:
        lines.append(f"Alertmanager: {notification.external_url}")
    component = common.get("component") or (first.label("component") if first else None)
    source = {"key": key_shown, "receiver": notification.receiver, "external_url": notification.external_url,
              "group_labels": pairs_document(notification.group_labels),
              "common_labels": pairs_document(notification.common_labels),
              "common_annotations": pairs_document(notification.common_annotations)}
    return report_fields(integration, title=title or "", description="\n".join(lines), severity=severity,
                         component=component, source=source, started_at=to_millis(first.starts_at) if first else None)


def event_fields(integration: Integration, event: Event, dedup_key: str) -> dict[str, Any]:
    """Return the fields of the ticket an Events API trigger opens."""
    lines = [event.summary or "", "", f"Source: {event.source}"]
    for label, value in (("Component", event.component), ("Group", event.group), ("Class", event.event_class),
                         ("Severity at the source", event.severity), ("Client", event.client),
                         ("Client URL", event.client_url)):
        if value:
            lines.append(f"{label}: {value}")
    if event.custom_details:
        lines += ["", "Details:", event.custom_details]
    for link in event.links:
        lines.append(f"Link: {link.get('text') or ''} {link['href']}".replace("Link:  ", "Link: "))
    source = {"key": dedup_key, "source": event.source, "component": event.component, "group": event.group,
              "class": event.event_class, "severity": event.severity, "custom_details": event.custom_details,
              "links": list(event.links), "images": list(event.images), "client": event.client,
              "client_url": event.client_url, "timestamp": event.timestamp}
    return report_fields(integration, title=event.summary or "", description="\n".join(lines),
                         severity=integration.severity_for(event.severity), component=event.component,
                         source=source, started_at=to_millis(event.timestamp))
