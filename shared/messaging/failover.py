"""A robust AMQP connection that knows every node of a cluster and moves to the next when one fails.

aio-pika's RobustConnection reconnects to the one URL it was given. FailoverConnection holds the
list from AMQP_URL and, whenever an open connection is lost or an attempt gets no answer (aio-pika
calls the same close callback for both), points the next attempt at the next node, round the list, so
a node that stays down is skipped. Channels, their prefetch, publisher confirms, declared exchanges,
queues, bindings and consumers are restored on whichever node answers, as RobustConnection restores
them on its one node. With a single URL it behaves as RobustConnection.

What a lost node costs: a publish in flight raises (the outbox relay retries it; consumers drop the
duplicate a retried publish may make, by event_id) and unacked deliveries come back, marked
redelivered, to whichever consumer the queue picks next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aio_pika import RobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from pamqp.common import FieldTable
from yarl import URL

from shared.messaging.urls import node_address, split_amqp_urls

log = logging.getLogger(__name__)


class FailoverConnection(RobustConnection):
    """A RobustConnection over several node URLs, moving to the next one after every failed attempt or loss."""

    def __init__(self, urls: Sequence[URL], *, start: int = 0, loop: asyncio.AbstractEventLoop | None = None,
                 **kwargs: Any) -> None:
        if not urls:
            raise ValueError("FailoverConnection needs at least one URL")
        self._urls = tuple(urls)
        self._current = start % len(self._urls)
        super().__init__(self._urls[self._current], loop=loop, **kwargs)

    @property
    def node(self) -> str:
        """Return host:port of the node the connection is on (or tries next)."""
        return node_address(str(self.url))

    def _move_on(self, why: str) -> None:
        """Point the next connection attempt at the next URL of the list."""
        if len(self._urls) < 2:
            return
        left = self.node
        self._current = (self._current + 1) % len(self._urls)
        self.url = self._urls[self._current]
        log.warning("AMQP node %s %s; the next attempt goes to %s", left, why, self.node)

    async def _on_connection_close(self, closing: asyncio.Future) -> None:
        """Called by aio-pika when an open connection was lost and when an attempt failed: move to the next node."""
        if not (self._close_called or self.is_closed):
            self._move_on("was lost" if self.connected.is_set() else "did not answer")
        await super()._on_connection_close(closing)


def _shown(url: URL) -> str:
    """Return the URL as logs may show it: the password masked."""
    return str(url.with_password("******")) if url.password else str(url)


async def connect_failover(amqp_url: str, *, timeout: float | None = 30.0,
                           client_properties: FieldTable | None = None, **kwargs: Any) -> FailoverConnection:
    """Return a FailoverConnection on the first node of AMQP_URL that answers, trying them in order.

    Raises ConnectionError naming every node and why it failed when none answers (as connect_robust
    raises when its one node does not). `timeout` bounds each attempt, later reconnections included,
    so a node that accepts nothing cannot hold the connection from the next one.
    """
    urls = [URL(url) for url in split_amqp_urls(amqp_url)]
    failures = []
    for start in range(len(urls)):
        connection = FailoverConnection(urls, start=start, client_properties=client_properties, **kwargs)
        try:
            await connection.connect(timeout=timeout)
            return connection
        except CONNECTION_EXCEPTIONS as exc:
            failures.append(f"{_shown(urls[start])}: {type(exc).__name__}: {exc}")
            await connection.close()
    raise ConnectionError("no RabbitMQ node of AMQP_URL answered: " + "; ".join(failures))
