"""Notifier's message handler: turn one event into delivery documents, once per (event, recipient, channel).

Sending happens in the delivery loop (entrypoints/worker.py), never in the consumer: the handler
stores each delivery already leased to the loop and hands it over, so the loop sends it at once
without polling or claiming. A redelivered event creates nothing (the ids are taken), and a crash
before the send leaves the delivery to come due when its lease runs out: nothing is sent twice or lost.
"""

from __future__ import annotations

from typing import Any, Protocol

from jinja2 import TemplateError
from pydantic import BaseModel

from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.deliveries import new_delivery
from services.notifier.domain.messages import EventMessages, Notice
from services.notifier.domain.routing import Recipient, Role, Router
from shared.ack_links import AckLinks
from shared.clock import Clock
from shared.contracts import Envelope
from shared.messaging.consumer import PermanentError


class Worker(Protocol):
    """What takes new deliveries off the handler's hands (the delivery loop)."""

    def leased(self, document: dict[str, Any]) -> dict[str, Any]: ...

    def start(self, document: dict[str, Any]) -> None: ...


async def notify(
    envelope: Envelope,
    event: BaseModel,
    *,
    entry: EventMessages,
    router: Router,
    renderer: TemplateRenderer,
    deliveries: Deliveries,
    clock: Clock,
    worker: Worker,
    ack_links: AckLinks | None = None,
) -> list[Envelope]:
    """Store a pending delivery per routed recipient and channel and start them; return no events (the loop emits them)."""
    notice = entry.translate(envelope.event_id, event)
    now = clock.now()
    created: list[dict[str, Any]] = []
    for message in notice.messages:
        for recipient in router.recipients(message, notice):
            if recipient.key.startswith("person.") and not renderer.exists(message, recipient.channel.value, "txt"):
                continue  # a person named directly has an address on a channel this message has no template for
            context = {**notice.context, "recipient_name": recipient.name, "role": recipient.role.value,
                       "ack_url": ack_url(ack_links, notice, recipient, now)}
            try:
                content = renderer.content(message, recipient.channel.value, context, notice.number)
            except (LookupError, TemplateError, ValueError) as exc:
                raise PermanentError(f"cannot render {message} for {recipient.channel}: {exc}") from exc
            document = worker.leased(new_delivery(notice, message, recipient, content, now))
            if await deliveries.create(document):
                created.append(document)
    for document in created:  # only once all are stored: a failure above redelivers the event
        worker.start(document)
    return []


ACKNOWLEDGING_ROLES = (Role.ON_CALL, Role.LEAD)


def ack_url(links: AckLinks | None, notice: Notice, recipient: Recipient, now) -> str:
    """Return this recipient's own acknowledge link for a page, or "" (not a page, a team channel, or no links)."""
    if links is None or not notice.acknowledgeable or recipient.role not in ACKNOWLEDGING_ROLES or not notice.ticket_id:
        return ""
    return links.url(ticket_id=notice.ticket_id, number=notice.number or "", page_id=notice.context["page_id"],
                     step=notice.context.get("step"), person=recipient.key, name=recipient.name, now=now)
