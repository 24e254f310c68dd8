"""Slack in: what a mention or `/incident` says, the ticket it opens and the answer (pure).

A mention in the integration's #critical-incidents channel opens a Critical ticket (KB-005:
critical issues are mentioned there); elsewhere triage decides from the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.intake.domain.alert_reports import cut, report_fields
from services.intake.domain.integrations import Integration
from shared.contracts import Severity

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
CHANNEL_REF = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
USAGE = "Say what is wrong, e.g. `/incident checkout returns 500 for every order`."


@dataclass(frozen=True)
class ChatReport:
    """Someone in Slack reporting a problem."""

    team_id: str
    channel_id: str
    user_id: str
    text: str
    user_name: str | None = None
    channel_name: str | None = None
    ts: str | None = None
    via: str = "mention"
    """mention (Events API app_mention) or command (slash command)."""


def plain_text(text: str) -> str:
    """Return Slack message text without bot mentions, with links and channel names as plain text."""
    text = MENTION.sub("", text)
    text = CHANNEL_REF.sub(lambda m: "#" + m.group(1), text)
    text = LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def escape(text: str) -> str:
    """Return text safe inside a Slack message (&, < and > escaped, so nothing becomes a link or mention)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_critical_channel(integration: Integration, report: ChatReport) -> bool:
    """Return True if the report was made in the integration's #critical-incidents channel."""
    return integration.critical_channel is not None and report.channel_id == integration.critical_channel


def chat_fields(integration: Integration, report: ChatReport) -> dict[str, Any]:
    """Return the fields of the ticket a Slack report opens (Critical and pinned in #critical-incidents)."""
    text = plain_text(report.text)
    first_line = text.splitlines()[0] if text else ""
    who = report.user_name or report.user_id
    where = f"#{report.channel_name}" if report.channel_name else report.channel_id
    description = f"{text}\n\nReported in Slack by {who} in {where}."
    severity = Severity.CRITICAL if is_critical_channel(integration, report) else None
    source = {"key": f"{report.team_id}:{report.channel_id}:{report.ts or ''}", "via": report.via,
              "team_id": report.team_id, "channel_id": report.channel_id, "channel_name": report.channel_name,
              "user_id": report.user_id, "user_name": report.user_name, "ts": report.ts}
    fields = report_fields(integration, title=cut(first_line, 200), description=description, severity=severity,
                           component=None, source=source)
    fields["source"]["state"] = "reported"
    return fields


def chat_reporter(report: ChatReport) -> dict[str, Any]:
    """Return the reporter of a Slack ticket: the Slack user (no e-mail is known)."""
    name = report.user_name or f"Slack user {report.user_id}"
    return {"id": f"slack:{report.team_id}:{report.user_id}"[:100], "name": name[:200], "email": None}


def answer(number: str, title: str, link: str, severity: str | None) -> str:
    """Return the Slack answer naming the ticket and linking to it."""
    critical = " as *Critical* (#critical-incidents)" if severity == Severity.CRITICAL else ""
    return f"Opened <{link}|{number}>{critical}: {escape(title)}"
