"""Notifier's message handlers: turn events into deliveries, each at most once."""

from __future__ import annotations

import time

from shared.clock import Clock
from shared.contracts import Envelope, NotificationDelivered, TicketTriaged, make_envelope
from services.notifier.adapters.deliveries import MongoDeliveries
from services.notifier.adapters.email import EmailSender, compose
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.messages import Notification, acknowledgement
from services.notifier.settings import NotifierSettings

PRODUCER = "notifier"


async def acknowledge_reporter(
    envelope: Envelope,
    event: TicketTriaged,
    *,
    deliveries: MongoDeliveries,
    sender: EmailSender,
    renderer: TemplateRenderer,
    settings: NotifierSettings,
    clock: Clock,
) -> list[Envelope]:
    """E-mail the reporter the ticket number and expected response time; emit notification.delivered."""
    notification = acknowledgement(envelope.event_id, event)
    if notification is None:
        return []
    attempts = await deliver_email(
        notification, ticket_id=event.ticket_id, number=event.number,
        deliveries=deliveries, sender=sender, renderer=renderer, settings=settings, clock=clock,
    )
    if attempts == 0:
        return []
    delivered = NotificationDelivered(
        delivery_id=notification.delivery_id,
        source_event_id=envelope.event_id,
        message=notification.message,
        channel=notification.channel,
        recipient=notification.recipient,
        attempts=attempts,
    )
    return [make_envelope(delivered, producer=PRODUCER, occurred_at=clock.now(),
                          ticket_id=envelope.ticket_id, correlation_id=envelope.correlation_id)]


async def deliver_email(
    notification: Notification,
    *,
    ticket_id: str,
    number: str,
    deliveries: MongoDeliveries,
    sender: EmailSender,
    renderer: TemplateRenderer,
    settings: NotifierSettings,
    clock: Clock,
) -> int:
    """Send unless already delivered; return the attempt count that succeeded, or 0 if it was sent before.

    Raises on failure after recording the attempt, so the consumer retries or dead-letters.
    """
    record = await deliveries.open(
        notification.delivery_id,
        {"ticket_id": ticket_id, "message": notification.message, "channel": notification.channel,
         "recipient": notification.recipient, "created_at": clock.now(), "updated_at": clock.now()},
    )
    if record["state"] == "delivered":
        return 0
    text = renderer.render(notification.message, "email", "txt", notification.context)
    if text is None:
        raise LookupError(f"no text template for {notification.message}")
    html = renderer.render(notification.message, "email", "html", notification.context)
    email = compose(
        sender=settings.mail_from,
        recipient=notification.recipient,
        subject=notification.subject,
        text=text,
        html=html,
        message_id=notification.message_id(settings.mail_domain),
        headers={"X-Ticket-Number": number, "X-Incidents-Delivery": notification.delivery_id},
    )
    started = time.perf_counter()
    try:
        await sender.send(email)
    except Exception as exc:
        await deliveries.record_attempt(notification.delivery_id, at=clock.now(), outcome="failed",
                                        error=repr(exc)[:500], duration_seconds=time.perf_counter() - started)
        raise
    await deliveries.record_attempt(notification.delivery_id, at=clock.now(), outcome="delivered",
                                    error=None, duration_seconds=time.perf_counter() - started)
    return len(record.get("attempts", [])) + 1
