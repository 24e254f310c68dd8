"""Turning an e-mail to the support address into a report or a comment (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr

from shared.contracts import IncidentType, Severity

TYPE_WORDS: list[tuple[IncidentType, tuple[str, ...]]] = [
    (IncidentType.SECURITY, ("security", "breach", "phishing", "unauthori", "suspicious")),
    (IncidentType.INFRASTRUCTURE, ("infrastructure", "server down", "outage", "database unavailable", "connectivity")),
    (IncidentType.ACCESS, ("access", "login", "log in", "password", "locked", "permission")),
    (IncidentType.PERFORMANCE, ("performance", "slow", "timeout", "latency")),
    (IncidentType.DATA, ("data", "missing", "corrupt", "sync")),
]
REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class MailPart:
    """An attachment found in an e-mail."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class IncomingMail:
    """What intake needs from one e-mail."""

    sender: str
    sender_name: str
    subject: str
    body: str
    attachments: list[MailPart] = field(default_factory=list)

    def ticket_number(self, prefix: str) -> str | None:
        """Return the ticket number the subject refers to (a reply), if any."""
        found = re.search(rf"\b{re.escape(prefix)}-\d{{6,}}\b", self.subject)
        return found.group(0) if found else None

    @property
    def critical(self) -> bool:
        """Return True when the subject says CRITICAL (the spec's emergency path)."""
        return re.search(r"\bCRITICAL\b", self.subject) is not None

    def title(self) -> str:
        """Return the subject without reply prefixes and the CRITICAL marker, as a ticket title."""
        title = REPLY_PREFIX.sub("", self.subject)
        title = re.sub(r"\[?\bCRITICAL\b\]?:?", "", title).strip(" -:")
        title = re.sub(r"\s+", " ", title)
        return (title or "E-mail report")[:200]

    def incident_type(self) -> IncidentType:
        """Return the incident type the subject (or body) names; feature issues when none does."""
        text = f"{self.subject}\n{self.body[:2000]}".lower()
        for incident_type, words in TYPE_WORDS:
            if any(word in text for word in words):
                return incident_type
        return IncidentType.FEATURE

    def report_fields(self) -> dict:
        """Return the ticket fields for a new report from this e-mail."""
        return {
            "title": self.title() if len(self.title()) >= 3 else "E-mail report",
            "type": self.incident_type().value,
            "description": (self.body.strip() or "(empty e-mail)")[:20_000],
            "kind": "incident",
            "reported_severity": Severity.CRITICAL.value if self.critical else None,
            "channel": "email",
            "users_affected": None,
            "production": None,
            "workaround_available": None,
            "component": None,
        }


def parse_mail(message: EmailMessage) -> IncomingMail:
    """Return the sender, subject, plain-text body and attachments of an e-mail."""
    name, address = parseaddr(str(message.get("From", "")))
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = body_part.get_content() if body_part is not None else ""
    if body_part is not None and body_part.get_content_type() == "text/html":
        body = re.sub(r"<[^>]+>", " ", body)
    attachments = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True) or b""
        attachments.append(MailPart(part.get_filename() or "attachment", part.get_content_type(), data))
    return IncomingMail(
        sender=address.lower(),
        sender_name=name or address.split("@")[0],
        subject=str(message.get("Subject", "")).strip(),
        body=_strip_quoted_reply(body),
        attachments=attachments,
    )


def _strip_quoted_reply(body: str) -> str:
    """Return the body without the quoted previous message of a reply."""
    lines = []
    for line in body.splitlines():
        if line.startswith(">") or re.match(r"^On .+ wrote:$", line.strip()):
            break
        lines.append(line)
    return "\n".join(lines).strip()
