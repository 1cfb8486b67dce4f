"""One process, one service: FastAPI for HTTP and FastStream for Kafka, started and stopped
together.

Start-up order: store (ping, indexes) -> broker (producer, then every subscriber joins its
group) -> background tasks (outbox relay sweep, processed-event pruning). Shutdown, on
SIGTERM/SIGINT through uvicorn, runs in reverse: background tasks stop; consumers stop
retrying (an uncommitted record stays uncommitted); the broker stops its subscribers,
waiting up to ``shutdown_grace_s`` for in-flight handlers, whose outcomes are committed one
record at a time as they finish; the producer is flushed and closed; the store closes last,
because in-flight handlers still write to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

import uvicorn
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_kit.consumer import DeadLetterBrakeEngaged, EventConsumer
from convene_kit.http import ReadinessCheck
from convene_kit.idempotency import ProcessedEvents
from convene_kit.logging import configure_logging
from convene_kit.relay import OutboxRelay
from convene_kit.settings import ServiceSettings
from convene_kit.store import MongoStore

logger = logging.getLogger(__name__)

BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class ServiceRuntime:
    """Owns the lifecycle of a service's store, broker, consumers and background tasks.

    It builds nothing: the service's bootstrap builds what it runs and hands it over, the
    outbox relay with :meth:`OutboxRelay.from_settings` over the publisher the service's
    writes use (``relay=None`` when no document carries an outbox).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        broker: KafkaBroker,
        store: MongoStore,
        consumer: EventConsumer | None = None,
        relay: OutboxRelay | None = None,
        processed_events: ProcessedEvents | None = None,
        background: Iterable[BackgroundTask] = (),
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.store = store
        self.consumer = consumer
        self.relay = relay
        self.processed_events = processed_events or (
            consumer.processed_events if consumer else None
        )
        if self.processed_events is not None:
            store.declare(*ProcessedEvents.indexes(self.processed_events.collection.name))
        self._background = list(background)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False

    async def start(self) -> None:
        """Connect the store, create indexes, start the broker and the background tasks."""
        self._stopping.clear()
        await self.store.connect()
        await self.store.ensure_indexes()
        await self.broker.start()
        tasks: list[BackgroundTask] = list(self._background)
        if self.relay is not None:
            tasks.append(self.relay.run)
        if self.processed_events is not None:
            interval = self.settings.processed_event_prune_interval_s
            pruning = self.processed_events
            tasks.append(lambda stopping: pruning.run_pruning(stopping, interval))
        self._tasks = [asyncio.create_task(task(self._stopping)) for task in tasks]
        self.started = True
        logger.info("service %s started", self.settings.service_name)

    async def stop(self) -> None:
        """Stop consuming, let in-flight handlers finish, flush the producer, close the store."""
        self._stopping.set()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks = []
        if self.consumer is not None:
            await self.consumer.stop()
        try:
            await self.broker.stop()  # subscribers first (graceful), then the producer
        finally:
            await self.store.close()
            self.started = False
        logger.info("service %s stopped", self.settings.service_name)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI | None = None) -> AsyncIterator[None]:
        """FastAPI lifespan: start on entry, stop on exit (``create_app(lifespan=...)``)."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def kafka_ready(self) -> bool:
        """True if a broker answers a metadata request within the readiness timeout."""
        return await self.broker.ping(timeout=self.settings.readiness_timeout_s)

    async def store_ready(self) -> None:
        """Raises unless the store answers a ping within the readiness timeout."""
        await self.store.ping(self.settings.readiness_timeout_s)

    async def consumers_ready(self) -> bool:
        """True when every subscriber has joined its group and holds partitions; raises
        :class:`DeadLetterBrakeEngaged` (shown under ``consumers``) while the DLQ brake
        holds a partition, until its record is processed or the service restarts."""
        if self.consumer is None:
            return True
        if isinstance(self.consumer, EventConsumer):
            braked = self.consumer.braked_partitions()
            if braked:
                raise DeadLetterBrakeEngaged(
                    "dead-lettering stopped on " + "; ".join(f"{tp}: {why}"
                                                              for tp, why in braked.items()))
        return self.consumer.all_assigned()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """The checks for ``create_app(readiness_checks=...)``: kafka, store, consumers."""
        checks: dict[str, ReadinessCheck] = {
            "kafka": self.kafka_ready,
            "store": self.store_ready,
        }
        if self.consumer is not None and self.consumer.subscribers:
            checks["consumers"] = self.consumers_ready
        return checks


def serve(app: Any, settings: ServiceSettings, **uvicorn_options: Any) -> None:
    """Run the app with uvicorn until SIGTERM/SIGINT; logs as JSON lines.

    Uvicorn turns the signal into the lifespan shutdown, which stops the runtime.
    """
    configure_logging(settings.service_name, settings.log_level)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        **uvicorn_options,
    )
    uvicorn.Server(config).run()
