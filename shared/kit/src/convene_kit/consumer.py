"""Consuming catalogue events safely: typed handlers, commit after processing, retries,
dead letters only for the message's own faults, and a brake on dead-lettering.

Handlers. A service registers typed handlers in a :class:`Handlers` registry (one per
service, built in its ``handlers.py``)::

    handlers = Handlers()

    @handlers.on(MeetingScheduled)
    async def on_scheduled(event: MeetingScheduled, meta: EventMeta) -> None: ...

    @handlers.on(MeetingUpdated, MeetingRescheduled)     # typed for their common base
    async def on_changed(event: MeetingChange, meta: EventMeta) -> None: ...

A handler gets the decoded event, already of a class it is registered for (a type checker
refuses a function that does not accept every one of them), and an :class:`EventMeta` with
the envelope's attributes and the record's position. The older form, a mapping of event
class to ``handler(envelope)``, is still accepted by :func:`subscribe_events`.

Acknowledgement policy. Every subscriber uses ``AckPolicy.MANUAL`` and this module commits
explicitly, only positions whose records' outcomes are final (handled, dead-lettered,
skipped as a duplicate or as a type this service does not handle). Partitions are processed
concurrently, each in offset order, and commits are batched (:mod:`convene_kit.lanes`). Why not
``AckPolicy.ACK``: in FastStream 0.7.8 its middleware commits even when the handler raised
(``__aexit__`` acks on any non-HandlerException), and ``KafkaAckableMessage.ack()`` commits
every consumed position. ``NACK_ON_ERROR`` would seek back but gives no place for
backoff, bounded retries or dead-lettering. With ``MANUAL``, nothing is committed unless a
record's outcome is final, and no exception ever escapes the handler.

Per record:

1. decode with ``from_kafka_message``; an ``InvalidEvent`` (undecodable, unknown type or
   version, fails validation: text the store cannot hold, such as U+0000, or a time out of
   the supported range included, see ``convene_schemas.text`` and ``convene_schemas.base``)
   goes to ``<topic>.dlq`` with its original bytes (see :mod:`convene_kit.dlq`), then commit;
2. a valid event of a type this service has no handler for: commit and skip;
3. optionally drop ids the group already processed (:class:`ProcessedEvents`);
4. call the handler. What it raises decides what happens:

   * an infrastructure failure (:func:`is_infrastructure_error`, whatever was raised on
     top of it) is retried in place with exponential backoff, never committed, never
     dead-lettered; if retrying would exceed half of ``max.poll.interval``, or the
     service is shutting down, the consumer seeks back to the record (it is fetched
     again, nothing is committed);
   * the message's own fault: :class:`MessageRejected` raised by the handler, an
     exception of a class its registration declares (``on(..., rejects=(X,))``), or the
     store refusing the data itself (:func:`is_unstorable`: a document over the size limit,
     or FerretDB's PostgreSQL data exceptions, SQLSTATE class 22, which the contract's text
     and time rules should already have kept out), is dead-lettered at once, without retry
     (``dlq_reason`` ``rejected``, the original exception's class and message), and
     committed;
   * anything else is a bug, not the message's fault: logged at ERROR, counted
     (``convene_events_failed_total{kind="bug"}``), never dead-lettered, never committed.
     The record's partition is paused and its lane seeks back to the record, which is
     tried again after a backoff doubling from ``consumer_retry_initial_s`` up to
     ``consumer_retry_max_s``; the other partitions go on. A deploy with a bug stops the
     partitions it breaks instead of draining them into their DLQ, and the fix (or a
     rollback) resumes them where they stopped. (Records that did not come through a
     lane, as in FastStream's TestKafkaBroker, are retried in place like an outage.)

Which failures are the message's fault is decided per handler, in each service's
``handlers.py`` where the routing is. Today: meetings declares pydantic's
``ValidationError`` for ``CalendarEventChanged`` (provider data the contract lets through can
still make no valid meeting, e.g. an iCalendar UID longer than a meeting's: retrying never
helps); its bookings, read models and links declare nothing (booking-pages validated a
booking against the same field rules; a booking that makes no meeting is refused and
counted, a link to an unknown meeting is logged and dropped, neither raises), so whatever
they raise is a bug or an outage. records and notifications declare nothing either: their
events are complete snapshots already validated by the contract, and notifications turns
an address that cannot be mailed into ``EmailDeliveryFailed`` itself. A lost race for a
meeting version (``VersionConflict``) is neither: it is retried as a bug-kind failure and
succeeds on a later try. For every service, data the store refuses is the message's fault
(:func:`is_unstorable`): held as a bug it would stop the partition for good. The contract
refuses what the store is known to refuse (a NUL character, a time past what PostgreSQL and
Python represent) at decoding, so this is the net under it.

The brake (getsentry/arroyo's ``DlqLimit``). A DLQ is for the odd bad message; a stream of
them means something systemic (a producer's bad deploy, a schema mismatch, a handler
rejecting what it should not), and draining a topic into its DLQ then only moves the damage.
So for each partition this process counts the final outcomes of its last
``consumer_dlq_window`` records and its dead letters in a row. A dead letter that would make
more than ``consumer_dlq_max_consecutive`` in a row, or more than ``consumer_dlq_max_ratio``
of a full window, is not sent: the brake engages (ERROR log,
``convene_dlq_brake_engagements_total``, ``convene_dlq_brake_engaged`` = 1), the partition is
paused and its record is tried again with backoff, uncommitted, and ``/readyz`` fails
(``consumers``) until that record is processed (the condition clears) or the process
restarts. Counts live in the process: a restart, or another replica taking the partition,
starts afresh and may dead-letter up to one limit's worth before braking again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar, overload

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope, InvalidEvent, from_kafka_message
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo.errors import DocumentTooLarge, OperationFailure

from convene_kit.dlq import dead_letter
from convene_kit.idempotency import ProcessedEvents
from convene_kit.lanes import Lanes
from convene_kit.logging import log_context
from convene_kit.metrics import (
    DLQ_BRAKE_ENGAGED,
    DLQ_BRAKE_ENGAGEMENTS,
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    EVENTS_FAILED,
    EVENTS_SKIPPED,
    HANDLER_LATENCY,
)
from convene_kit.settings import ServiceSettings
from convene_kit.store import is_infrastructure_error

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
E1 = TypeVar("E1", bound=Event)
E2 = TypeVar("E2", bound=Event)
E3 = TypeVar("E3", bound=Event)
E4 = TypeVar("E4", bound=Event)

Handler = Callable[[Envelope], Awaitable[Any]]
"""The older, untyped handler form: gets the whole envelope (see :func:`subscribe_events`)."""

Rejects = tuple[type[Exception], ...]

PartitionKey = tuple[str, int]


@dataclasses.dataclass(frozen=True)
class EventMeta:
    """What a handler may need besides the event: the envelope's CloudEvents attributes and
    where the record was read (``topic`` is the physical topic, prefix included)."""

    event_id: str
    type: str
    source: str
    time: datetime
    subject: str
    account_id: str
    data_version: int
    traceparent: str | None
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, envelope: Envelope, record: ConsumerRecord | None = None) -> EventMeta:
        """The meta of ``envelope``, read from ``record`` (tests may leave it out: then the
        event's logical topic, partition and offset -1)."""
        return cls(
            event_id=envelope.id, type=envelope.type, source=envelope.source,
            time=envelope.time, subject=envelope.subject, account_id=envelope.account_id,
            data_version=envelope.data_version, traceparent=envelope.traceparent,
            topic=record.topic if record is not None else envelope.event.TOPIC,
            partition=record.partition if record is not None else -1,
            offset=record.offset if record is not None else -1,
        )


EventHandler = Callable[[E, EventMeta], Awaitable[Any]]
"""A typed handler: the event (of a class it is registered for) and its meta."""


class MessageRejected(Exception):
    """Raised by a handler: this message can never be applied, however often it is
    retried. It is dead-lettered at once (``dlq_reason`` = :attr:`reason`) and committed.

    A handler's registration may declare other exception classes that mean the same
    (``Handlers.on(..., rejects=...)``); those are re-raised as this, from the original.
    Anything else a handler raises is a bug or an outage and is retried, never
    dead-lettered.
    """

    reason = "rejected"

    @property
    def error(self) -> BaseException:
        """What the DLQ headers report: the declared exception it was raised from, if any."""
        return self.__cause__ if self.__cause__ is not None else self


_DATA_EXCEPTION = re.compile(r"\(SQLSTATE 22[0-9A-Z]{3}\)")


def is_unstorable(exc: BaseException) -> bool:
    """True when the store refused the data itself, which it does on every retry: a
    document over the BSON size limit, or (FerretDB on PostgreSQL) a data exception,
    SQLSTATE class 22, such as 22P05 for a NUL character in a string."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DocumentTooLarge):
            return True
        if isinstance(current, OperationFailure) and _DATA_EXCEPTION.search(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


class DeadLetterBrakeEngaged(Exception):
    """Readiness: the DLQ brake holds one or more partitions (see the module docstring)."""


@dataclasses.dataclass(frozen=True)
class _Route:
    call: Callable[[Envelope, EventMeta], Awaitable[Any]]
    name: str
    rejects: Rejects


class Handlers:
    """One service's event handlers by event class (see the module docstring)."""

    def __init__(self) -> None:
        self._routes: dict[type[Event], _Route] = {}

    @overload
    def on(self, c1: type[E1], /, *, rejects: Rejects = ()
           ) -> Callable[[EventHandler[E1]], EventHandler[E1]]: ...

    @overload
    def on(self, c1: type[E1], c2: type[E2], /, *, rejects: Rejects = ()
           ) -> Callable[[EventHandler[E1 | E2]], EventHandler[E1 | E2]]: ...

    @overload
    def on(self, c1: type[E1], c2: type[E2], c3: type[E3], /, *, rejects: Rejects = ()
           ) -> Callable[[EventHandler[E1 | E2 | E3]], EventHandler[E1 | E2 | E3]]: ...

    @overload
    def on(self, c1: type[E1], c2: type[E2], c3: type[E3], c4: type[E4], /, *,
           rejects: Rejects = ()
           ) -> Callable[[EventHandler[E1 | E2 | E3 | E4]], EventHandler[E1 | E2 | E3 | E4]]: ...

    @overload
    def on(self, *classes: type[E], rejects: Rejects = ()
           ) -> Callable[[EventHandler[E]], EventHandler[E]]: ...

    def on(self, *classes: type[Event], rejects: Rejects = ()
           ) -> Callable[[EventHandler[Any]], EventHandler[Any]]:
        """Decorator: the function handles events of ``classes`` (concrete catalogue
        classes, each with one handler). ``rejects``: exception classes that, raised by it,
        mean the message can never be applied (dead-lettered at once, see
        :class:`MessageRejected`). Returns the function unchanged."""
        if not classes:
            raise TypeError("on() needs at least one event class")
        for event_class in classes:
            if "EVENT_TYPE" not in event_class.__dict__:
                raise TypeError(f"{event_class.__name__} is no concrete event class: events are "
                                "routed by their exact class")

        def register(handler: EventHandler[Any]) -> EventHandler[Any]:
            async def call(envelope: Envelope, meta: EventMeta) -> Any:
                return await handler(envelope.event, meta)

            route = _Route(call, getattr(handler, "__qualname__", repr(handler)), tuple(rejects))
            for event_class in classes:
                self._add(event_class, route)
            return handler

        return register

    @classmethod
    def from_mapping(cls, handlers: Mapping[type[Event], Handler]) -> Handlers:
        """The older form: ``{event class: handler(envelope)}``, nothing declared rejected."""
        registry = cls()
        for event_class, handler in handlers.items():
            async def call(envelope: Envelope, meta: EventMeta, handler: Handler = handler) -> Any:
                return await handler(envelope)

            name = getattr(handler, "__qualname__", repr(handler))
            registry._add(event_class, _Route(call, name, ()))
        return registry

    def include(self, other: Handlers) -> None:
        """Add every route of ``other`` (a class handled twice is an error)."""
        for event_class, route in other._routes.items():
            self._add(event_class, route)

    def for_topic(self, topic: str) -> Handlers:
        """The routes of the classes travelling on logical ``topic``."""
        subset = Handlers()
        subset._routes = {c: r for c, r in self._routes.items() if c.TOPIC == topic}
        return subset

    def handles(self, event_class: type[Event]) -> bool:
        return event_class in self._routes

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def __contains__(self, event_class: object) -> bool:
        return event_class in self._routes

    async def handle(self, envelope: Envelope, meta: EventMeta | None = None) -> None:
        """Run the handler of ``envelope.event``'s class (``LookupError`` if none); a
        declared rejection is raised as :class:`MessageRejected` from the original."""
        route = self._routes.get(type(envelope.event))
        if route is None:
            raise LookupError(f"no handler for {type(envelope.event).__name__}")
        try:
            await route.call(envelope, meta or EventMeta.of(envelope))
        except MessageRejected:
            raise
        except Exception as exc:
            if route.rejects and isinstance(exc, route.rejects) \
                    and not is_infrastructure_error(exc):
                raise MessageRejected(f"{type(exc).__name__}: {exc}") from exc
            raise

    def _add(self, event_class: type[Event], route: _Route) -> None:
        existing = self._routes.get(event_class)
        if existing is not None and existing is not route:
            raise ValueError(f"{event_class.__name__} is handled twice: by {existing.name} "
                             f"and {route.name}")
        self._routes[event_class] = route


class Outcome(enum.Enum):
    """What became of one record; every outcome but RETRY_LATER is committed."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"
    RETRY_LATER = "retry_later"


class DeadLetterBrake:
    """Per partition: the last ``window`` final outcomes and the dead letters in a row;
    refuses a dead letter past the limits (getsentry/arroyo's ``DlqLimitState``)."""

    def __init__(self, *, max_consecutive: int, max_ratio: float, window: int) -> None:
        self.max_consecutive = max_consecutive
        self.max_ratio = max_ratio
        self.window = window
        self._recent: dict[PartitionKey, collections.deque[bool]] = {}
        self._dead_in_window: dict[PartitionKey, int] = {}
        self._in_a_row: dict[PartitionKey, int] = {}
        self.engaged: dict[PartitionKey, str] = {}  # partition -> why

    def refusal(self, key: PartitionKey) -> str | None:
        """Why one more dead letter on this partition is refused, or None if it is not."""
        in_a_row = self._in_a_row.get(key, 0) + 1
        if self.max_consecutive and in_a_row > self.max_consecutive:
            return (f"{in_a_row} dead letters in a row would pass the limit of "
                    f"{self.max_consecutive}")
        recent = self._recent.get(key) or collections.deque()
        if self.max_ratio < 1 and len(recent) + 1 >= self.window:
            dead = self._dead_in_window.get(key, 0) + 1
            if len(recent) == self.window and recent[0]:
                dead -= 1  # the oldest outcome leaves the window
            if dead / self.window > self.max_ratio:
                return (f"{dead} dead letters in the last {self.window} records would pass "
                        f"the limit of {self.max_ratio:g}")
        return None

    def record(self, key: PartitionKey, dead_lettered: bool) -> None:
        """Count a record's final outcome; a final outcome releases an engaged brake."""
        recent = self._recent.setdefault(key, collections.deque(maxlen=self.window))
        if len(recent) == self.window and recent[0]:
            self._dead_in_window[key] -= 1
        recent.append(dead_lettered)
        if dead_lettered:
            self._dead_in_window[key] = self._dead_in_window.get(key, 0) + 1
            self._in_a_row[key] = self._in_a_row.get(key, 0) + 1
        else:
            self._in_a_row[key] = 0
        if self.engaged.pop(key, None) is not None:
            DLQ_BRAKE_ENGAGED.labels(topic=key[0], partition=str(key[1])).set(0)
            logger.warning("DLQ brake on %s[%d] released: its record moved on", *key)

    def engage(self, key: PartitionKey, why: str) -> None:
        """Hold the partition (logged at ERROR and counted once per engagement)."""
        if key in self.engaged:
            return
        self.engaged[key] = why
        DLQ_BRAKE_ENGAGEMENTS.labels(topic=key[0]).inc()
        DLQ_BRAKE_ENGAGED.labels(topic=key[0], partition=str(key[1])).set(1)
        logger.error("DLQ brake engaged on %s[%d]: %s. Dead-lettering and consuming stop "
                     "on this partition; its record stays uncommitted and is retried until "
                     "it is processed or the service restarts", key[0], key[1], why)


class EventConsumer:
    """The subscribers of one service: one FastStream subscriber per topic, one group."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        *,
        processed_events: ProcessedEvents | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.group = settings.consumer_group
        self.processed_events = processed_events
        self.subscribers: list[Any] = []
        self.handlers = Handlers()
        self.brake = DeadLetterBrake(max_consecutive=settings.consumer_dlq_max_consecutive,
                                     max_ratio=settings.consumer_dlq_max_ratio,
                                     window=settings.consumer_dlq_window)
        self._stopping = asyncio.Event()
        self._retry_budget_s = settings.kafka_max_poll_interval_s / 2
        self._consumers: dict[PartitionKey, Any] = {}  # the Kafka consumer of a lane's records
        self._delays: dict[PartitionKey, tuple[int, float]] = {}  # held offset, its last delay
        self._resumes: dict[PartitionKey, asyncio.TimerHandle] = {}
        self.lanes = Lanes(self._process_to_the_end, depth=settings.consumer_lane_depth,
                           commit_interval_s=settings.consumer_commit_interval_s,
                           grace_s=settings.shutdown_grace_s)

    def subscribe(self, topic: str, handlers: Handlers | Mapping[type[Event], Handler]) -> Any:
        """Consume logical ``topic`` (prefix applied) dispatching to ``handlers`` by class."""
        if not isinstance(handlers, Handlers):
            handlers = Handlers.from_mapping(handlers)
        for event_class in handlers:
            if event_class.TOPIC != topic:
                raise ValueError(
                    f"{event_class.__name__} travels on {event_class.TOPIC}, not {topic}"
                )
        self.handlers.include(handlers)
        subscriber = self.broker.subscriber(
            self.settings.topic(topic),
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            max_poll_interval_ms=int(self.settings.kafka_max_poll_interval_s * 1000),
            parser=_tolerant_parser,
            decoder=_raw_body,
            listener=self.lanes,
            title=f"{self.settings.service_name}:{topic}",
        )

        async def on_message(body: Any, message: KafkaMessage) -> None:
            await self.handle_message(message)

        on_message.__name__ = f"consume_{topic.replace('.', '_')}"
        subscriber(on_message)
        self.subscribers.append(subscriber)
        return subscriber

    def begin_shutdown(self) -> None:
        """Stop retrying: records in retry are left uncommitted and redelivered later."""
        self._stopping.set()
        for handle in self._resumes.values():
            handle.cancel()
        self._resumes.clear()

    async def stop(self) -> None:
        """Take no more records, let those in hand finish, commit what was processed."""
        self.begin_shutdown()
        await self.lanes.stop()

    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned to this process's consumers."""
        assigned: set[TopicPartition] = set()
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is not None:
                assigned |= set(consumer.assignment())
        return assigned

    def all_assigned(self) -> bool:
        """True when every subscriber's consumer has joined its group and holds partitions."""
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                return False
            # TestKafkaBroker's fake consumer has no assignment: it is always "assigned".
            assignment = getattr(consumer, "assignment", None)
            if assignment is not None and not assignment():
                return False
        return True

    def braked_partitions(self) -> dict[str, str]:
        """``topic[partition]`` -> why, for every partition the DLQ brake holds."""
        return {f"{t}[{p}]": why for (t, p), why in sorted(self.brake.engaged.items())}

    async def handle_message(self, message: Any) -> None:
        """FastStream entry: hand the record to its partition's lane. Never raises.

        TestKafkaBroker's fake consumer (contract tests) processes it right here instead,
        so a test's ``publish`` returns once the handler has run.
        """
        record: ConsumerRecord = message.raw_message
        if isinstance(message.consumer, AIOKafkaConsumer):
            await self.dispatch(message.consumer, record)
        elif await self._process_to_the_end(record):
            await message.ack()

    async def dispatch(self, consumer: Any, record: ConsumerRecord) -> None:
        """Hand a record fetched by ``consumer`` to its partition's lane; a record held for
        a retry pauses its partition on ``consumer`` until the retry is due."""
        self._consumers[(record.topic, record.partition)] = consumer
        await self.lanes.dispatch(consumer, record)

    async def _process_to_the_end(self, record: ConsumerRecord) -> bool:
        """Process one record; True when its outcome is final (commit past it), False when
        it must be read again later (left uncommitted)."""
        try:
            outcome = await self.process(record)
        except asyncio.CancelledError:
            raise  # shutting down: nothing committed, the record is redelivered
        except Exception:
            logger.exception("unexpected failure processing %s[%d]@%d",
                             record.topic, record.partition, record.offset)
            outcome = Outcome.RETRY_LATER
            await self._sleep(self.settings.consumer_retry_initial_s)
        return outcome is not Outcome.RETRY_LATER

    async def process(self, record: ConsumerRecord) -> Outcome:
        """Decode, dispatch and retry one record; returns its outcome (commits nothing)."""
        outcome = await self._process(record)
        if outcome is not Outcome.RETRY_LATER:
            key = (record.topic, record.partition)
            self.brake.record(key, outcome is Outcome.DEAD_LETTERED)
            self._delays.pop(key, None)
        return outcome

    async def _process(self, record: ConsumerRecord) -> Outcome:
        headers = dict(record.headers or ())
        with log_context(
            traceparent=_text(headers.get("ce_traceparent")),
            correlation_id=_text(headers.get("ce_id")),
            account_id=_text(headers.get("ce_accountid")),
        ):
            try:
                envelope = from_kafka_message(record.value, list(record.headers or ()), record.key)
            except InvalidEvent as exc:
                logger.warning("dead-lettering invalid message from %s: %s", record.topic, exc)
                # "invalid", not the header's type: untrusted values make no metric labels.
                return await self._dead_letter(record, exc, exc.reason, "invalid", 0)
            if not self.handlers.handles(type(envelope.event)):
                EVENTS_SKIPPED.labels(topic=record.topic, type=envelope.type).inc()
                return Outcome.SKIPPED
            return await self._run_handler(record, envelope)

    async def _run_handler(self, record: ConsumerRecord, envelope: Envelope) -> Outcome:
        labels = {"topic": record.topic, "type": envelope.type}
        meta = EventMeta.of(envelope, record)
        started = time.monotonic()
        attempts = 0
        delay = self.settings.consumer_retry_initial_s
        while True:
            try:
                if self.processed_events and await self.processed_events.seen(envelope.id):
                    EVENTS_DUPLICATE.labels(**labels).inc()
                    return Outcome.DUPLICATE
                attempts += 1
                await self.handlers.handle(envelope, meta)
                if self.processed_events:
                    await self.processed_events.mark(envelope.id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_infrastructure_error(exc):
                    kind = "infrastructure"
                    logger.warning("handler failed (infrastructure, %s); retrying in %.2fs",
                                   type(exc).__name__, delay, exc_info=exc)
                elif isinstance(exc, MessageRejected) or is_unstorable(exc):
                    error = exc.error if isinstance(exc, MessageRejected) else exc
                    reason = exc.reason if isinstance(exc, MessageRejected) else "rejected"
                    EVENTS_FAILED.labels(**labels, kind="message").inc()
                    HANDLER_LATENCY.labels(**labels).observe(time.monotonic() - started)
                    logger.warning("%s rejected (%s: %s); dead-lettering it", envelope.id,
                                   type(error).__name__, error)
                    return await self._dead_letter(record, error, reason, envelope.type,
                                                   attempts)
                else:
                    kind = "bug"
                    logger.error("handler failed on %s %s (%s: not the message's fault, so "
                                 "not dead-lettered); retrying it, uncommitted", envelope.type,
                                 envelope.id, type(exc).__name__, exc_info=exc)
                EVENTS_FAILED.labels(**labels, kind=kind).inc()
                if kind == "bug" and self._hold(record):
                    HANDLER_LATENCY.labels(**labels).observe(time.monotonic() - started)
                    return Outcome.RETRY_LATER
                if time.monotonic() - started + delay > self._retry_budget_s:
                    logger.warning("retry budget spent; leaving %s uncommitted", envelope.id)
                    return Outcome.RETRY_LATER
                if await self._sleep(delay):
                    return Outcome.RETRY_LATER
                delay = min(delay * 2, self.settings.consumer_retry_max_s)
            else:
                HANDLER_LATENCY.labels(**labels).observe(time.monotonic() - started)
                EVENTS_CONSUMED.labels(**labels).inc()
                return Outcome.PROCESSED

    async def _dead_letter(
        self, record: ConsumerRecord, exc: BaseException, reason: str, event_type: str,
        attempts: int,
    ) -> Outcome:
        """Publish to the DLQ unless the brake refuses (then hold the record, uncommitted);
        an unreachable Kafka is retried like any infrastructure error."""
        key = (record.topic, record.partition)
        refusal = self.brake.refusal(key)
        if refusal is not None:
            self.brake.engage(key, refusal)
            if not self._hold(record):
                await self._sleep(self._next_delay(record))
            return Outcome.RETRY_LATER
        delay = self.settings.consumer_retry_initial_s
        started = time.monotonic()
        while True:
            try:
                await dead_letter(self.broker, record, group=self.group, reason=reason,
                                  error=exc, event_type=event_type, attempts=attempts,
                                  timeout_s=self.settings.kafka_publish_timeout_s)
                return Outcome.DEAD_LETTERED
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("publishing to the DLQ failed; retrying", exc_info=True)
                if time.monotonic() - started + delay > self._retry_budget_s:
                    return Outcome.RETRY_LATER
                if await self._sleep(delay):
                    return Outcome.RETRY_LATER
                delay = min(delay * 2, self.settings.consumer_retry_max_s)

    def _next_delay(self, record: ConsumerRecord) -> float:
        """The backoff before this record's next try: doubles while the same record of
        the partition keeps failing, from ``consumer_retry_initial_s`` to ``_max_s``."""
        key = (record.topic, record.partition)
        held = self._delays.get(key)
        if held is not None and held[0] == record.offset:
            delay = min(held[1] * 2, self.settings.consumer_retry_max_s)
        else:
            delay = self.settings.consumer_retry_initial_s
        self._delays[key] = (record.offset, delay)
        return delay

    def _hold(self, record: ConsumerRecord) -> bool:
        """Pause the record's partition and resume it after the backoff; the lane seeks
        back to the record (the caller returns RETRY_LATER), so it is fetched again then.
        False when the record came through no lane (nothing to pause)."""
        key = (record.topic, record.partition)
        consumer = self._consumers.get(key)
        if consumer is None or self._stopping.is_set():
            return False
        tp = TopicPartition(record.topic, record.partition)
        try:
            consumer.pause(tp)
        except Exception:  # no longer assigned: its new owner reads it
            logger.info("could not pause %s", tp, exc_info=True)
            return False
        delay = self._next_delay(record)
        previous = self._resumes.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._resumes[key] = asyncio.get_running_loop().call_later(
            delay, self._resume, key, consumer, tp)
        return True

    def _resume(self, key: PartitionKey, consumer: Any, tp: TopicPartition) -> None:
        self._resumes.pop(key, None)
        with contextlib.suppress(Exception):  # revoked or stopped meanwhile
            consumer.resume(tp)

    async def _sleep(self, seconds: float) -> bool:
        """Back off; returns True (early) if shutdown began meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True


def subscribe_events(
    broker: KafkaBroker,
    settings: ServiceSettings,
    topics: list[str],
    handlers: Handlers | Mapping[type[Event], Handler],
    *,
    processed_events: ProcessedEvents | None = None,
) -> EventConsumer:
    """Subscribe the service to logical ``topics``; each handler gets its class's events.

    ``handlers`` is the service's :class:`Handlers` (or the older mapping of event class to
    ``handler(envelope)``). Every handler's event class must travel on one of ``topics``.
    """
    registry = handlers if isinstance(handlers, Handlers) else Handlers.from_mapping(handlers)
    unrouted = [cls.__name__ for cls in registry if cls.TOPIC not in topics]
    if unrouted:
        raise ValueError(f"handlers for events on topics not subscribed: {unrouted}")
    consumer = EventConsumer(broker, settings, processed_events=processed_events)
    for topic in topics:
        consumer.subscribe(topic, registry.for_topic(topic))
    return consumer


def _text(raw: bytes | None) -> str | None:
    return raw.decode("utf-8", "replace") if raw is not None else None


async def _tolerant_parser(record: ConsumerRecord, original: Callable[..., Any]) -> Any:
    """FastStream's parser decodes every header as UTF-8 and raises on anything else,
    before any handler runs; such a message must still reach us (and the DLQ) intact."""
    try:
        return await original(record)
    except UnicodeDecodeError:
        headers = [(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers]
        shadow = dataclasses.replace(record, headers=headers)
        message = await original(shadow)
        message.raw_message = record
        return message


async def _raw_body(message: Any) -> bytes:
    """Hand the handler the undecoded body: decoding is ``from_kafka_message``'s job."""
    return bytes(message.body)
