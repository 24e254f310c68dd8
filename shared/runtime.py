"""The process shell every service shares: connections, consumers, outbox relay, background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from shared.messaging.consumer import Combiner, Consumer, Handler
from shared.messaging.failover import connect_failover
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import AmqpPublisher
from shared.messaging.topology import QueueSpec
from shared.metrics import PipelineMetrics, pipeline_metrics
from shared.persistence import IndexSpec, ensure_indexes, is_docstore, make_client, ping
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

Startup = Callable[["ServiceRuntime"], Awaitable[None]]


def _report_crash(task: asyncio.Task[Any]) -> None:
    """Log a background task that ended with an error; a silent stop would hide lost work."""
    if not task.cancelled() and task.exception() is not None:
        log.error("background task crashed", exc_info=task.exception(), extra={"x_task": task.get_name()})


class ServiceRuntime:
    """Owns one service's connections and long-running tasks; built in bootstrap, started by the app."""

    def __init__(self, name: str, settings: CommonSettings, registry: CollectorRegistry | None = None) -> None:
        self.name = name
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics: PipelineMetrics = pipeline_metrics(self.registry)
        self.indexes: list[IndexSpec] = [IndexSpec(self.inbox_name, [("handled_at", 1)])]
        self.outbox_collections: list[str] = []
        self.recovered_collections: set[str] = set()
        self.settled_marks: dict[str, str] = {}
        """collection -> the field the relay clears with the published events (see OutboxRelay)."""
        """Outbox collections the service recovers itself at start (the relay skips its start-up scan of them)."""
        """Collections whose documents carry an `outbox` the relay must scan for. Inbox records need no
        scan: one is written before its message is acked, so a crash means redelivery, and the consumer
        then publishes what the record still owes."""
        self._consumers: list[tuple[QueueSpec, dict[str, Handler], bool, Combiner | None]] = []
        self._startups: list[Startup] = []
        self._task_factories: list[Callable[[], Awaitable[Any]]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._client: Any = None
        self.db: AsyncDatabase | None = None
        self.connection: AbstractRobustConnection | None = None
        self.publisher: AmqpPublisher | None = None
        self.relay: OutboxRelay | None = None
        self.docstore = False

    @property
    def inbox_name(self) -> str:
        """Return the collection recording which events this service has handled."""
        return f"{self.name}_inbox"

    def consume(self, spec: QueueSpec, handlers: dict[str, Handler], *, inbox: bool = True,
                combiner: Combiner | None = None) -> None:
        """Register handlers for a queue; consuming starts with the runtime.

        inbox=False: the handlers are idempotent on their own and return no events (see Consumer.handle);
        only then may a combiner handle one ticket's queued events together.
        """
        self._consumers.append((spec, handlers, inbox, combiner))

    def on_startup(self, hook: Startup) -> None:
        """Run hook after connections are up and before consuming starts."""
        self._startups.append(hook)

    def background(self, factory: Callable[[], Awaitable[Any]]) -> None:
        """Run factory() as a task for the life of the service."""
        self._task_factories.append(factory)

    async def start(self) -> None:
        """Connect to the database and broker, create indexes, start relay, consumers and tasks."""
        settings = self.settings
        self._client = make_client(settings.mongodb_url)
        self.db = self._client[settings.mongodb_db]
        await ping(self.db)
        self.docstore = await is_docstore(self.db)
        # the relay's start-up scan asks for documents owing events (shared.messaging.outbox.PENDING)
        outbox_indexes = [IndexSpec(name, [("outbox.event_id", 1)], options={"sparse": True})
                          for name in self.outbox_collections]
        await ensure_indexes(self.db, [*self.indexes, *outbox_indexes])
        # AMQP_URL names one node or every node of a cluster: the connection moves to the next one
        # that answers whenever its node is lost, and restores channels and consumers there
        self.connection = await connect_failover(settings.amqp_url, client_properties={"connection_name": self.name})
        publish_channel = await self.connection.channel(publisher_confirms=True)
        self.publisher = await AmqpPublisher.create(
            publish_channel,
            on_published=lambda env: self.metrics.events_published.labels(env.event_type).inc(),
        )
        self.relay = OutboxRelay(
            [self.db[name] for name in self.outbox_collections],
            self.publisher,
            self.metrics,
            poll_seconds=settings.outbox_poll_seconds,
            scan_at_start=set(self.outbox_collections) - self.recovered_collections,
            settled_marks=self.settled_marks,
        )
        for hook in self._startups:
            await hook(self)
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
        for factory in self._task_factories:
            task = asyncio.create_task(factory())
            task.add_done_callback(_report_crash)
            self._tasks.append(task)
        for spec, handlers, inbox, combiner in self._consumers:
            consumer = Consumer(
                name=self.name,
                spec=spec,
                handlers=handlers,
                inbox=self.db[self.inbox_name] if inbox else None,
                relay=self.relay,
                metrics=self.metrics,
                delivery_limit=settings.delivery_limit,
                combiner=combiner,
            )
            channel = await self.connection.channel(publisher_confirms=True)
            await consumer.start(channel, settings.amqp_prefetch)
        log.info("service started", extra={"x_service": self.name})

    async def stop(self) -> None:
        """Cancel tasks and close connections; safe to call more than once."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def readiness(self) -> dict[str, str]:
        """Return the state of each dependency: 'ok' or the error seen."""
        timeout = self.settings.readiness_timeout_seconds
        checks: dict[str, str] = {}
        try:
            if self.db is None:
                raise RuntimeError("not started")
            await asyncio.wait_for(ping(self.db), timeout)
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"unreachable: {exc!r}"[:300]
        connection = self.connection
        if connection is not None and not connection.is_closed and connection.connected.is_set():
            checks["broker"] = "ok"
        else:
            checks["broker"] = "unreachable"
        return checks
