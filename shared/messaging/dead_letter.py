"""The one way a consumer gives up on a message: republish it to its DLQ with the reason, then ack it."""

from __future__ import annotations

from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

REASON_HEADER = "x-dead-letter-reason"


def delivery_attempts(message: AbstractIncomingMessage) -> int:
    """Return which delivery of the message this is (1 for the first), whatever a publisher put in the header."""
    count = (message.headers or {}).get("x-delivery-count", 0)
    return (count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 0) + 1


async def dead_letter(dlx: AbstractExchange, message: AbstractIncomingMessage, *, dead_letter_queue: str,
                      consumer: str, reason: str) -> None:
    """Republish the message unchanged to the dead-letter queue with the reason in headers, then ack it."""
    headers = dict(message.headers or {})
    headers.update({
        REASON_HEADER: reason[:1000],
        "x-original-routing-key": message.routing_key or "",
        "x-original-user-id": message.user_id or "",
        "x-consumer": consumer,
        "x-dead-lettered-at": datetime.now(UTC).isoformat(),
    })
    await dlx.publish(
        aio_pika.Message(body=message.body, headers=headers, content_type=message.content_type,
                         message_id=message.message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=dead_letter_queue, timeout=10)
    await message.ack()
