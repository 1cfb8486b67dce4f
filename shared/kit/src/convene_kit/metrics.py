"""Prometheus metrics the kit maintains for every service.

Services add their own metrics (emails sent, provider calls, ...) with prometheus-client
directly; they land in the same default registry and so on the same ``/metrics`` page.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

EVENTS_CONSUMED = Counter(
    "convene_events_consumed_total",
    "Events a handler processed successfully.",
    ["topic", "type"],
)
EVENTS_FAILED = Counter(
    "convene_events_failed_total",
    "Handler attempts that raised, by error kind: infrastructure (retried in place), bug "
    "(retried later, never dead-lettered) or message (rejected: dead-lettered).",
    ["topic", "type", "kind"],
)
EVENTS_DEAD_LETTERED = Counter(
    "convene_events_dead_lettered_total",
    "Messages sent to the dead-letter topic, by reason.",
    ["topic", "type", "reason"],
)
RATE_LIMITED_TOTAL = Counter(
    "convene_rate_limited_total",
    "Requests a rate limiter of this replica refused (answered 429), by limiter.",
    ["limiter"],
)
DLQ_BRAKE_ENGAGED = Gauge(
    "convene_dlq_brake_engaged",
    "1 while the DLQ brake holds a partition: dead-lettering and consuming it stopped.",
    ["topic", "partition"],
)
DLQ_BRAKE_ENGAGEMENTS = Counter(
    "convene_dlq_brake_engagements_total",
    "Times the DLQ brake engaged on a partition of the topic.",
    ["topic"],
)
EVENTS_SKIPPED = Counter(
    "convene_events_skipped_total",
    "Valid events of a type this service does not handle (committed and skipped).",
    ["topic", "type"],
)
EVENTS_DUPLICATE = Counter(
    "convene_events_duplicate_total",
    "Events dropped because their id was already processed by this consumer group.",
    ["topic", "type"],
)
HANDLER_LATENCY = Histogram(
    "convene_event_handler_seconds",
    "Time spent in an event handler, retries included.",
    ["topic", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EVENTS_PUBLISHED = Counter(
    "convene_events_published_total",
    "Events published to Kafka (acknowledged by the broker).",
    ["topic"],
)

PRODUCER_RENEWALS = Counter(
    "convene_kafka_producer_renewals_total",
    "Kafka producers replaced after failing for good (OutOfOrderSequenceNumber and kin).",
)
CONSUMER_LAG = Gauge(
    "convene_consumer_lag",
    "Records of a partition this replica holds not yet processed: the partition's high-water "
    "mark (as last fetched) minus the next offset to process; updated with every commit round.",
    ["topic", "partition"],
)
OUTBOX_BACKLOG = Gauge(
    "convene_outbox_backlog",
    "Outbox entries waiting to be published, per collection (measured by the relay).",
    ["collection"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "convene_outbox_oldest_entry_age_seconds",
    "Age of the oldest unpublished outbox entry, per collection.",
    ["collection"],
)
OUTBOX_RELAYED = Counter(
    "convene_outbox_relayed_total",
    "Outbox entries the relay sweep published (entries a crash left behind).",
    ["collection"],
)
HTTP_LATENCY = Histogram(
    "convene_http_request_seconds",
    "HTTP request latency by route template and status.",
    ["method", "route", "status"],
)


def generate_latest() -> bytes:
    """The text exposition of every metric in the default registry."""
    return _generate_latest(REGISTRY)


__all__ = [
    "CONTENT_TYPE_LATEST",
    "DLQ_BRAKE_ENGAGED",
    "DLQ_BRAKE_ENGAGEMENTS",
    "EVENTS_CONSUMED",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_DUPLICATE",
    "EVENTS_FAILED",
    "EVENTS_PUBLISHED",
    "EVENTS_SKIPPED",
    "HANDLER_LATENCY",
    "HTTP_LATENCY",
    "OUTBOX_BACKLOG",
    "OUTBOX_OLDEST_AGE",
    "OUTBOX_RELAYED",
    "generate_latest",
]

STORE_OPERATIONS = Counter(
    "convene_store_operations_total",
    "Store round trips by command (find, insert, update, ...) and collection.",
    ["command", "collection"],
)
