"""Notifier's message handler: turn one event into delivery documents, once per (event, recipient, channel).

Sending happens in the delivery loop (entrypoints/worker.py), never in the consumer: the handler only
stores what is owed, so a crash or a redelivered event cannot send twice.
"""

from __future__ import annotations

from collections.abc import Callable

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


async def notify(
    envelope: Envelope,
    event: BaseModel,
    *,
    entry: EventMessages,
    router: Router,
    renderer: TemplateRenderer,
    deliveries: Deliveries,
    clock: Clock,
    wake: Callable[[], None],
) -> list[Envelope]:
    """Store a pending delivery per routed recipient and channel; return no events (the loop emits them)."""
    notice = entry.translate(envelope.event_id, event)
    now = clock.now()
    created = 0
    for message in notice.messages:
        for recipient in router.recipients(message, notice):
            context = {**notice.context, "recipient_name": recipient.name, "role": recipient.role.value}
            try:
                content = renderer.content(message, recipient.channel.value, context, notice.number)
            except (LookupError, TemplateError, ValueError) as exc:
                raise PermanentError(f"cannot render {message} for {recipient.channel}: {exc}") from exc
            if await deliveries.create(new_delivery(notice, message, recipient, content, now)):
                created += 1
    if created:
        wake()
    return []
