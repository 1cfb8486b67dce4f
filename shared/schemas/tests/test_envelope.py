"""CloudEvents over Kafka: every example round-trips; hand-written messages decode."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from convene_schemas.envelope import (
    EventValidationFailed,
    InvalidEvent,
    UndecodableEvent,
    UnknownEventType,
    UnknownEventVersion,
    from_kafka_message,
    to_kafka_message,
)
from convene_schemas.events.records import ContactUpserted
from convene_schemas.registry import load_registry
from pydantic import ValidationError

pytestmark = pytest.mark.contract

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# A message written by hand from the CloudEvents Kafka protocol binding (binary content
# mode, section 3.2): attributes as ce_-prefixed headers, datacontenttype as content-type,
# the data as the value, the key as the message key.
HAND_WRITTEN_HEADERS: list[tuple[str, bytes]] = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"9f1c2b7e-3a4d-4c1e-8f2a-5b6c7d8e9f01"),
    ("ce_source", b"/convene/records"),
    ("ce_type", b"com.convene.records.ContactUpserted"),
    ("ce_time", b"2026-03-03T14:02:11Z"),
    ("ce_subject", b"ct_01hzx3"),
    ("content-type", b"application/json"),
    ("ce_accountid", b"acc_7f3k2"),
    ("ce_dataversion", b"1"),
    ("ce_traceparent", TRACEPARENT.encode()),
]
HAND_WRITTEN_KEY = b"ct_01hzx3"
HAND_WRITTEN_VALUE = (
    b'{"account_id": "acc_7f3k2", "version": 3, "occurred_at": "2026-03-03T14:02:11Z",'
    b' "contact_id": "ct_01hzx3", "email": "dana.lee@globex.example", "email_valid": true,'
    b' "email_invalid_reason": null, "first_name": "Dana", "last_name": "Lee",'
    b' "time_zone": "America/New_York", "language": "en", "owner_user_id": "usr_alice"}'
)

EXAMPLES = [
    pytest.param(event, example, id=f"{event.name}:{example.name}")
    for _, event in load_registry().events()
    for example in event.examples
]


def _contact(**changes: Any) -> ContactUpserted:
    data = json.loads(HAND_WRITTEN_VALUE)
    data.update(changes)
    return ContactUpserted.model_validate(data, strict=False)


@pytest.mark.parametrize(("event", "example"), EXAMPLES)
def test_every_example_round_trips(event: Any, example: Any) -> None:
    original = event.model.model_validate(example.data, strict=False)
    record = to_kafka_message(original, event_id="e-1", traceparent=TRACEPARENT)
    assert record.topic == original.TOPIC
    assert record.key == original.aggregate_id.encode()
    envelope = from_kafka_message(record.value, record.headers, record.key)
    assert envelope.event == original
    assert type(envelope.event) is event.model
    assert (envelope.id, envelope.type, envelope.subject) == (
        "e-1",
        event.type,
        original.aggregate_id,
    )
    assert envelope.source == f"/convene/{original.SERVICE}"
    assert envelope.time == original.occurred_at
    assert envelope.account_id == original.account_id
    assert envelope.data_version == event.schema_version
    assert envelope.traceparent == TRACEPARENT


def test_hand_written_binding_message_decodes() -> None:
    envelope = from_kafka_message(HAND_WRITTEN_VALUE, HAND_WRITTEN_HEADERS, HAND_WRITTEN_KEY)
    assert isinstance(envelope.event, ContactUpserted)
    assert envelope.event.contact_id == "ct_01hzx3"
    assert envelope.event.email == "dana.lee@globex.example"
    assert envelope.id == "9f1c2b7e-3a4d-4c1e-8f2a-5b6c7d8e9f01"
    assert envelope.time == datetime(2026, 3, 3, 14, 2, 11, tzinfo=UTC)
    assert envelope.traceparent == TRACEPARENT


def test_produced_headers_are_those_the_binding_prescribes() -> None:
    record = to_kafka_message(
        _contact(), event_id="9f1c2b7e-3a4d-4c1e-8f2a-5b6c7d8e9f01", traceparent=TRACEPARENT
    )
    assert len(record.headers) == len(dict(record.headers)), "a header is repeated"
    assert dict(record.headers) == dict(HAND_WRITTEN_HEADERS)
    assert all(isinstance(value, bytes) for _, value in record.headers)
    assert record.key == HAND_WRITTEN_KEY
    assert json.loads(record.value) == json.loads(HAND_WRITTEN_VALUE)
    assert record.topic == "records.events.v1"


def test_no_traceparent_header_without_a_trace() -> None:
    record = to_kafka_message(_contact(), event_id="e-2")
    assert "ce_traceparent" not in dict(record.headers)
    assert from_kafka_message(record.value, record.headers).traceparent is None


def _headers_with(**changes: bytes | None) -> list[tuple[str, bytes]]:
    result = []
    for name, value in HAND_WRITTEN_HEADERS:
        if name in changes:
            value = changes[name]
        if value is not None:
            result.append((name, value))
    return result


@pytest.mark.parametrize(
    ("value", "headers", "error", "reason"),
    [
        pytest.param(
            b"{not json",
            HAND_WRITTEN_HEADERS,
            UndecodableEvent,
            "undecodable",
            id="undecodable-body",
        ),
        pytest.param(None, HAND_WRITTEN_HEADERS, UndecodableEvent, "undecodable", id="no-body"),
        pytest.param(
            HAND_WRITTEN_VALUE,
            _headers_with(ce_specversion=None),
            UndecodableEvent,
            "undecodable",
            id="missing-specversion",
        ),
        pytest.param(
            HAND_WRITTEN_VALUE,
            _headers_with(ce_type=b"com.convene.records.ContactMerged"),
            UnknownEventType,
            "unknown_type",
            id="unknown-type",
        ),
        pytest.param(
            HAND_WRITTEN_VALUE,
            _headers_with(ce_dataversion=b"2"),
            UnknownEventVersion,
            "unknown_version",
            id="unknown-major-version",
        ),
        pytest.param(
            HAND_WRITTEN_VALUE.replace(b'"contact_id": "ct_01hzx3", ', b""),
            HAND_WRITTEN_HEADERS,
            EventValidationFailed,
            "validation_failed",
            id="missing-required-field",
        ),
        pytest.param(
            HAND_WRITTEN_VALUE.replace(b'"email_valid": true', b'"email_valid": "perhaps"'),
            HAND_WRITTEN_HEADERS,
            EventValidationFailed,
            "validation_failed",
            id="wrong-type",
        ),
        pytest.param(
            HAND_WRITTEN_VALUE,
            _headers_with(ce_accountid=b"acc_other"),
            EventValidationFailed,
            "validation_failed",
            id="account-mismatch",
        ),
    ],
)
def test_messages_that_can_never_be_processed(
    value: bytes | None, headers: list[tuple[str, bytes]], error: type[InvalidEvent], reason: str
) -> None:
    with pytest.raises(error) as caught:
        from_kafka_message(value, headers, HAND_WRITTEN_KEY)
    assert caught.value.reason == reason
    assert isinstance(caught.value, InvalidEvent)


def test_consumers_ignore_unknown_fields_at_every_level() -> None:
    example = load_registry().topic("meetings.events.v1").events[0].examples[0].data
    newer = {**example, "added_in_a_later_release": {"x": 1}}
    newer["attendees"] = [{**a, "rsvp": "accepted"} for a in example["attendees"]]
    newer["location"] = {**example["location"], "dial_in_pin": "1234"}
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"e-3"),
        ("ce_source", b"/convene/meetings"),
        ("ce_type", b"com.convene.meetings.MeetingScheduled"),
        ("ce_time", b"2026-03-06T09:12:45Z"),
        ("ce_subject", b"mtg_01j8zq4"),
        ("content-type", b"application/json; charset=utf-8"),
        ("ce_accountid", b"acc_7f3k2"),
        ("ce_dataversion", b"1"),
    ]
    envelope = from_kafka_message(json.dumps(newer).encode(), headers)
    assert envelope.event.model_dump(mode="json") == example


def test_producers_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ContactUpserted(**_contact().model_dump(), nickname="Dee")


def test_producers_refuse_naive_datetimes() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ContactUpserted(
            **{**_contact().model_dump(), "occurred_at": datetime(2026, 3, 3, 14, 2, 11)}
        )


def test_producers_refuse_lax_types() -> None:
    with pytest.raises(ValidationError):
        ContactUpserted(**{**_contact().model_dump(), "version": "3"})


def test_times_are_normalised_to_utc() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 3, 15, 2, 11, tzinfo=ZoneInfo("Europe/Rome"))
    contact = ContactUpserted(**{**_contact().model_dump(), "occurred_at": local})
    assert contact.occurred_at == datetime(2026, 3, 3, 14, 2, 11, tzinfo=UTC)
    assert contact.model_dump(mode="json")["occurred_at"] == "2026-03-03T14:02:11Z"


def test_events_are_immutable() -> None:
    contact = _contact()
    with pytest.raises(ValidationError):
        contact.email = "other@example.com"  # type: ignore[misc]
