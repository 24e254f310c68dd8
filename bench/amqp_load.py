"""Load on one AMQP connection for the cluster test and benchmark: confirmed publishes, consumed and accounted for.

ConfirmedStream publishes numbered persistent messages one at a time, each retried until the broker
confirms it (as the outbox relay does), and consumes them; it records what became of every id, so a
caller can show that nothing confirmed was lost while a node went away. `round_trip` measures how
many confirmed messages a queue carries per second.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError

PUBLISH_FAILURES = (*CONNECTION_EXCEPTIONS, DeliveryError, asyncio.TimeoutError)
"""What a publish raises while its node goes away: the outbox relay retries after each."""


def _message(message_id: str, size: int = 0) -> aio_pika.Message:
    return aio_pika.Message(message_id.encode().ljust(size, b"."), message_id=message_id,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


class ConfirmedStream:
    """Publishes with confirms and consumes; records what happened to each message id."""

    def __init__(self, routing_key: str, *, pause: float = 0.002) -> None:
        self.routing_key = routing_key
        self.pause = pause
        self.confirmed: list[str] = []
        self.attempted: set[str] = set()
        self.republished: set[str] = set()
        """Ids whose publish raised and was sent again: the broker may hold two copies."""
        self.deliveries: dict[str, list[bool]] = defaultdict(list)
        """id -> the redelivered flag of each delivery."""
        self.handled: list[str] = []
        """Ids in the order first delivered (handled once per id, as the services' inbox does)."""
        self.longest_gap = 0.0
        """The longest time, in seconds, between two consecutive confirms: what an outage cost publishers."""

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Record a delivery and acknowledge it."""
        message_id = message.message_id or ""
        self.deliveries[message_id].append(bool(message.redelivered))
        if len(self.deliveries[message_id]) == 1:
            self.handled.append(message_id)
        await message.ack()

    async def publish(self, exchange: AbstractExchange, until: Callable[[], bool]) -> None:
        """Publish numbered messages, each retried until confirmed, until `until()` is true."""
        number = 0
        last_confirm = time.monotonic()
        while not until():
            message_id = f"m-{number:07d}"
            number += 1
            self.attempted.add(message_id)
            while True:
                try:
                    await exchange.publish(_message(message_id), routing_key=self.routing_key, timeout=10)
                    break
                except PUBLISH_FAILURES:
                    self.republished.add(message_id)
                    await asyncio.sleep(0.05)
            now = time.monotonic()
            self.longest_gap = max(self.longest_gap, now - last_confirm)
            last_confirm = now
            self.confirmed.append(message_id)
            await asyncio.sleep(self.pause)  # a steady stream, not a burst that ends before the fault

    def lost(self) -> list[str]:
        """Return the confirmed ids never delivered."""
        handled = set(self.handled)
        return [message_id for message_id in self.confirmed if message_id not in handled]

    def all_delivered(self) -> bool:
        """Return whether every confirmed id was delivered."""
        return not self.lost()

    def duplicates(self) -> int:
        """Return how many deliveries repeated an id already delivered."""
        return sum(len(flags) - 1 for flags in self.deliveries.values())

    def unexplained_duplicates(self) -> list[str]:
        """Return ids delivered twice though no later delivery was marked redelivered and no publish was retried."""
        return [message_id for message_id, flags in self.deliveries.items()
                if len(flags) > 1 and not any(flags[1:]) and message_id not in self.republished]


async def round_trip(exchange: AbstractExchange, queue: AbstractQueue, routing_key: str, count: int, *,
                     window: int = 64, size: int = 512) -> float:
    """Return the seconds from the first publish until `count` messages, each confirmed, were consumed and acked.

    Up to `window` publishes await their confirms at once, as a service's outbox relay keeps several
    in flight.
    """
    consumed = 0
    done = asyncio.get_running_loop().create_future()

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal consumed
        await message.ack()
        consumed += 1
        if consumed >= count and not done.done():
            done.set_result(None)

    tag = await queue.consume(on_message)
    slots = asyncio.Semaphore(window)

    async def publish_one(number: int) -> None:
        async with slots:
            await exchange.publish(_message(f"r-{number:07d}", size), routing_key=routing_key, timeout=30)

    started = time.monotonic()
    try:
        await asyncio.gather(*(publish_one(number) for number in range(count)))
        await asyncio.wait_for(done, 300)
        return time.monotonic() - started
    finally:
        await queue.cancel(tag)
