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
from services.notifier.domain.messages import EventMessages
from services.notifier.domain.routing import Router
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
) -> list[Envelope]:
    """Store a pending delivery per routed recipient and channel and start them; return no events (the loop emits them)."""
    notice = entry.translate(envelope.event_id, event)
    now = clock.now()
    created: list[dict[str, Any]] = []
    for message in notice.messages:
        for recipient in router.recipients(message, notice):
            context = {**notice.context, "recipient_name": recipient.name, "role": recipient.role.value}
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
