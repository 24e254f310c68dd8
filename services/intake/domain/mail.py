"""Turning an e-mail to the support address into a report or a comment (pure).

Everything an e-mail brings is bounded here, before anything is stored, so nothing fails after a
ticket exists: the text of a report or comment is kept up to MAX_TEXT_CHARS characters (a longer
text is cut with a note, and attached in full as `message.txt` when it fits the attachment limit),
the sender's name up to MAX_NAME_CHARS, and attachment names are made safe and at most
MAX_FILENAME_CHARS long (the extension is kept).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from shared.contracts import IncidentType, Severity
from shared.contracts.addresses import parse_email_address

TYPE_WORDS: list[tuple[IncidentType, tuple[str, ...]]] = [
    (IncidentType.SECURITY, ("security", "breach", "phishing", "unauthori", "suspicious")),
    (IncidentType.INFRASTRUCTURE, ("infrastructure", "server down", "outage", "database unavailable", "connectivity")),
    (IncidentType.ACCESS, ("access", "login", "log in", "password", "locked", "permission")),
    (IncidentType.PERFORMANCE, ("performance", "slow", "timeout", "latency")),
    (IncidentType.DATA, ("data", "missing", "corrupt", "sync")),
]
REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)
MAX_TEXT_CHARS = 20_000
"""A report's description and a comment's body (the contracts' limit)."""
MAX_NAME_CHARS = 200
MAX_FILENAME_CHARS = 255
MAX_EXTENSION_CHARS = 16
MAX_SUBJECT_CHARS = 2_000
FULL_TEXT_FILENAME = "message.txt"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9 ._()-]+")


class UnreadableMail(ValueError):
    """An e-mail that can never be accepted as it is; the message says why (the reason of a 550)."""


@dataclass(frozen=True)
class MailPart:
    """An attachment found in an e-mail."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ClippedText:
    """An e-mail's text as stored, and the whole text as an attachment when it had to be cut."""

    text: str
    full_text: MailPart | None = None


@dataclass(frozen=True)
class IncomingMail:
    """What intake needs from one e-mail."""

    sender: str
    sender_name: str
    subject: str
    body: str
    attachments: list[MailPart] = field(default_factory=list)
    message_id: str | None = None
    addressed_to: tuple[str, ...] = ()
    """The addresses of the To and Cc headers (where a reply address may also be found)."""

    def ticket_number(self, prefix: str) -> str | None:
        """Return the ticket number the subject refers to (a reply), if any."""
        found = re.search(rf"\b{re.escape(prefix)}-\d{{6,}}\b", self.subject)
        return found.group(0) if found else None

    @property
    def critical(self) -> bool:
        """Return True when the subject says CRITICAL (the spec's emergency path)."""
        return re.search(r"\bCRITICAL\b", self.subject) is not None

    @property
    def sender_domain(self) -> str:
        """Return the domain of the From address, in lower case."""
        return self.sender.rpartition("@")[2].lower()

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

    def text(self, empty: str, attachment_limit: int) -> ClippedText:
        """Return the body as stored (at most MAX_TEXT_CHARS), `empty` when there is none."""
        return clip_text(self.body.strip() or empty, attachment_limit)

    def report_fields(self, description: str) -> dict:
        """Return the ticket fields for a new report from this e-mail, with its (clipped) description."""
        return {
            "title": self.title() if len(self.title()) >= 3 else "E-mail report",
            "type": self.incident_type().value,
            "description": description,
            "kind": "incident",
            "reported_severity": Severity.CRITICAL.value if self.critical else None,
            "channel": "email",
            "users_affected": None,
            "production": None,
            "workaround_available": None,
            "component": None,
        }


def clip_text(text: str, attachment_limit: int) -> ClippedText:
    """Return text cut to MAX_TEXT_CHARS with a note saying so; the whole text comes along when it fits the limit."""
    if len(text) <= MAX_TEXT_CHARS:
        return ClippedText(text)
    whole = text.encode("utf-8")
    if len(whole) <= attachment_limit:
        note = (f"\n\n[Cut here: the e-mail's text has {len(text):,} characters; a comment or report keeps "
                f"{MAX_TEXT_CHARS:,}. The whole text is attached as {FULL_TEXT_FILENAME}.]")
        full = MailPart(FULL_TEXT_FILENAME, "text/plain", whole)
    else:
        note = (f"\n\n[Cut here: the e-mail's text has {len(text):,} characters; a comment or report keeps "
                f"{MAX_TEXT_CHARS:,}, and the whole text is larger than an attachment may be.]")
        full = None
    return ClippedText(text[:MAX_TEXT_CHARS - len(note)].rstrip() + note, full)


def safe_filename(name: str | None) -> str:
    """Return an attachment name the API accepts: safe characters, at most MAX_FILENAME_CHARS, extension kept."""
    name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" ._")
    if not name:
        return "attachment"
    if not name[0].isalnum():
        name = "file" + name
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= MAX_EXTENSION_CHARS:
            name = stem[:MAX_FILENAME_CHARS - len(extension) - 1].rstrip(" ._") + "." + extension
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


def read_mail(raw: bytes) -> IncomingMail:
    """Return the parsed e-mail; raise UnreadableMail saying why it cannot be accepted."""
    try:
        message = message_from_bytes(raw, policy=policy.default)
        return parse_mail(message)
    except UnreadableMail:
        raise
    except Exception as exc:  # any defect of the MIME structure: the message is refused, not half-stored
        raise UnreadableMail(f"cannot read this message: {type(exc).__name__}: {exc}"[:300]) from exc


def parse_mail(message: EmailMessage) -> IncomingMail:
    """Return the sender, subject, plain-text body and attachments of an e-mail; raise UnreadableMail if unusable."""
    senders = message.get_all("From") or []
    if len(senders) != 1:
        raise UnreadableMail(f"a message needs exactly one From header, this one has {len(senders)}")
    name, address = _sender(senders[0])
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = body_part.get_content() if body_part is not None else ""
    if body_part is not None and body_part.get_content_type() == "text/html":
        body = re.sub(r"<[^>]+>", " ", body)
    attachments = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True) or b""
        attachments.append(MailPart(safe_filename(part.get_filename()), part.get_content_type()[:100], data))
    message_id = str(message.get("Message-ID", "")).strip() or None
    return IncomingMail(
        sender=address,
        sender_name=name,
        subject=_one_line(str(message.get("Subject", "")))[:MAX_SUBJECT_CHARS],
        body=_strip_quoted_reply(body),
        attachments=attachments,
        message_id=message_id,
        addressed_to=tuple(a for _, a in getaddresses([str(v) for key in ("To", "Cc")
                                                       for v in message.get_all(key) or []]) if a),
    )


def _sender(header: object) -> tuple[str, str]:
    """Return (display name, address) of the From header; raise UnreadableMail when it holds no valid address."""
    addresses = getattr(header, "addresses", None)
    if addresses is not None:
        if len(addresses) != 1 or not isinstance(addresses[0], Address) or not addresses[0].addr_spec:
            raise UnreadableMail("the From header must hold exactly one address")
        name, raw_address = addresses[0].display_name, addresses[0].addr_spec
    else:
        name, raw_address = parseaddr(str(header))
    try:
        address = parse_email_address(raw_address).lower()
    except ValueError as exc:
        raise UnreadableMail(f"the From address is missing or invalid: {exc}") from exc
    name = _one_line(name)[:MAX_NAME_CHARS].strip() or address.split("@")[0][:MAX_NAME_CHARS]
    return name, address


def _one_line(text: str) -> str:
    """Return text with control characters and runs of white space turned into single spaces."""
    return re.sub(r"\s+", " ", "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)).strip()


def _strip_quoted_reply(body: str) -> str:
    """Return the body without the quoted previous message of a reply."""
    lines = []
    for line in body.splitlines():
        if line.startswith(">") or re.match(r"^On .+ wrote:$", line.strip()):
            break
        lines.append(line)
    return "\n".join(lines).strip()
