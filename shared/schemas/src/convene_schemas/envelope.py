"""CloudEvents 1.0 over Kafka, binary content mode, through the official CloudEvents SDK.

One function turns an event model into a Kafka message (:func:`to_kafka_message`), one turns
a Kafka message back into a model (:func:`from_kafka_message`). Headers:

==================  ======================================================
``ce_specversion``  ``1.0``
``ce_id``           the event id: stable across retries (the outbox keeps it)
``ce_source``       ``/convene/<service>``
``ce_type``         ``com.convene.<service>.<EventName>``
``ce_time``         the event's ``occurred_at`` (RFC 3339, UTC)
``ce_subject``      the aggregate id (also the message key)
``ce_accountid``    extension: the account (tenant) id
``ce_dataversion``  extension: the data schema's major version (integer)
``ce_traceparent``  extension: W3C trace context, when there is one
``content-type``    ``application/json``
==================  ======================================================
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from convene_schemas.base import Event, event_class, known_versions

CONTENT_TYPE = "application/json"
ACCOUNT_ID_EXTENSION = "accountid"
DATA_VERSION_EXTENSION = "dataversion"
TRACEPARENT_EXTENSION = "traceparent"

_FORMAT = JSONFormat()


class InvalidEvent(Exception):
    """A message that can never be processed as it is: it belongs on the dead-letter topic.

    ``reason`` is a short machine-readable code used in the DLQ headers.
    """

    reason = "invalid_event"


class UndecodableEvent(InvalidEvent):
    """Headers or body are not a CloudEvents 1.0 binary-mode message with a JSON body."""

    reason = "undecodable"


class UnknownEventType(InvalidEvent):
    """The ``ce_type`` is not in this package's catalogue."""

    reason = "unknown_type"


class UnknownEventVersion(InvalidEvent):
    """The ``ce_dataversion`` is a major version this package does not know."""

    reason = "unknown_version"


class EventValidationFailed(InvalidEvent):
    """The body does not validate against the event's model."""

    reason = "validation_failed"


@dataclass(frozen=True)
class KafkaRecord:
    """A message ready for a Kafka producer: topic, key, value and headers as bytes."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    def headers_dict(self) -> dict[str, bytes]:
        return dict(self.headers)


@dataclass(frozen=True)
class Envelope:
    """A decoded message: the CloudEvents attributes and the parsed event model."""

    id: str
    type: str
    source: str
    time: datetime
    subject: str
    account_id: str
    data_version: int
    traceparent: str | None
    event: Event


def new_event_id() -> str:
    """A fresh event id. Assign it once, when the event is raised, and keep it."""
    return str(uuid.uuid4())


def source_of(service: str) -> str:
    """The ``ce_source`` of a service."""
    return f"/convene/{service}"


def to_kafka_message(
    event: Event,
    *,
    event_id: str,
    traceparent: str | None = None,
) -> KafkaRecord:
    """Turn an event model into a Kafka message in CloudEvents binary content mode.

    ``event_id`` must be the id the event was given when it was raised (the outbox stores
    it), so a retried publish carries the same ``ce_id`` and consumers can drop duplicates.
    """
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source_of(event.SERVICE),
        "type": event.EVENT_TYPE,
        "time": event.occurred_at,
        "subject": event.aggregate_id,
        "datacontenttype": CONTENT_TYPE,
        ACCOUNT_ID_EXTENSION: event.account_id,
        DATA_VERSION_EXTENSION: str(event.SCHEMA_VERSION),
    }
    if traceparent:
        attributes[TRACEPARENT_EXTENSION] = traceparent
    cloud_event = CloudEvent(attributes, event.model_dump(mode="json"))
    message = ce_kafka.to_binary(cloud_event, _FORMAT, key_mapper=lambda _: event.aggregate_id)
    key = message.key.encode() if isinstance(message.key, str) else message.key
    assert key is not None
    return KafkaRecord(
        topic=event.TOPIC,
        key=key,
        value=message.value,
        headers=list(message.headers.items()),
    )


def _headers_mapping(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
) -> dict[str, bytes]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, bytes] = {}
    for name, value in items:
        if isinstance(value, str):
            value = value.encode()
        result[name] = value
    return result


def from_kafka_message(
    value: bytes | None,
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
    key: bytes | None = None,
) -> Envelope:
    """Turn a Kafka message in CloudEvents binary content mode back into an event model.

    Consumer semantics: unknown data fields are ignored. Raises a subclass of
    :class:`InvalidEvent` for anything that can never be processed (dead-letter it).
    """
    header_map = _headers_mapping(headers)
    if header_map.get("ce_specversion") != b"1.0":
        raise UndecodableEvent("ce_specversion header is missing or not 1.0")
    content_type = header_map.get("content-type", b"").split(b";")[0].strip()
    if content_type != CONTENT_TYPE.encode():
        raise UndecodableEvent(f"content-type must be {CONTENT_TYPE}, got {content_type!r}")
    if value is None:
        raise UndecodableEvent("message has no body")
    try:
        json.loads(value)
        cloud_event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value),
            _FORMAT,
            CloudEvent,
        )
    except (ValueError, UnicodeDecodeError, BaseCloudEventException) as exc:
        raise UndecodableEvent(f"not a CloudEvents binary-mode JSON message: {exc}") from exc

    attributes = cloud_event.get_attributes()
    event_type = str(attributes["type"])
    raw_version = attributes.get(DATA_VERSION_EXTENSION)
    try:
        data_version = int(raw_version) if raw_version is not None else 1
    except ValueError as exc:
        raise UndecodableEvent(f"ce_dataversion {raw_version!r} is not an integer") from exc

    model = event_class(event_type, data_version)
    if model is None:
        versions = known_versions(event_type)
        if not versions:
            raise UnknownEventType(f"unknown event type {event_type!r}")
        raise UnknownEventVersion(
            f"{event_type} version {data_version} is unknown (known: {versions})"
        )
    data = cloud_event.get_data()
    if not isinstance(data, dict):
        raise EventValidationFailed(f"{event_type} body must be a JSON object")
    try:
        event = model.parse_data(data)
    except ValidationError as exc:
        raise EventValidationFailed(f"{event_type} v{data_version}: {exc}") from exc

    account_id = attributes.get(ACCOUNT_ID_EXTENSION)
    if account_id is not None and account_id != event.account_id:
        raise EventValidationFailed("ce_accountid does not match the event's account_id")
    return Envelope(
        id=str(attributes["id"]),
        type=event_type,
        source=str(attributes["source"]),
        time=attributes.get("time") or event.occurred_at,
        subject=str(attributes.get("subject") or event.aggregate_id),
        account_id=event.account_id,
        data_version=data_version,
        traceparent=attributes.get(TRACEPARENT_EXTENSION),
        event=event,
    )
