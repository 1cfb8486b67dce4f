"""Tolerant parsing: what the watcher does with every kind of record the topic may carry."""

from __future__ import annotations

import json

import pytest
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.calendar_sync import Calendar, CalendarConnected
from meeting_samples import START, record, scheduled, with_body, with_header
from meeting_watcher.parsing import MeetingEvent, Skipped, read


def test_a_meeting_event_is_read_with_its_identity_and_state() -> None:
    event = scheduled("Globex discovery call")
    sent = record(event, event_id="evt-1")

    seen = read(sent.value, sent.headers, sent.key)

    assert seen == MeetingEvent(
        event_id="evt-1", event_type="MeetingScheduled", account_id="acc_7f3k2",
        meeting_id=event.meeting_id, version=0, occurred_at=event.occurred_at,
        title="Globex discovery call", start=START, canceled=False)


def test_unknown_fields_are_ignored_at_the_top_and_inside_nested_objects() -> None:
    sent = record(scheduled("Added fields"))

    def add_fields(body: dict) -> None:
        body["room_booking"] = {"room": "Aurora", "floor": 3}  # a field added in a later v1
        body["attendees"][0]["pronouns"] = "she/her"

    seen = read(with_body(sent, add_fields), sent.headers, sent.key)

    assert isinstance(seen, MeetingEvent) and seen.title == "Added fields"


def test_a_record_without_ce_dataversion_is_read_as_major_version_1() -> None:
    sent = record(scheduled("No version header"))

    seen = read(sent.value, with_header(sent, "ce_dataversion", None), sent.key)

    assert isinstance(seen, MeetingEvent) and seen.title == "No version header"


def test_a_header_without_a_value_does_not_stop_the_parser() -> None:
    sent = record(scheduled("Null header"))

    seen = read(sent.value, [*sent.headers, ("x-debug", None)], sent.key)

    assert isinstance(seen, MeetingEvent)


def _newer_type(sent):
    return sent.value, with_header(sent, "ce_type", b"com.convene.meetings.MeetingArchived")


def _newer_major(sent):
    return sent.value, with_header(sent, "ce_dataversion", b"2")


def _not_json(sent):
    return b'{"title": "cut off', sent.headers


def _not_utf8(sent):
    return b"\xff\xfe\x00{", sent.headers


def _json_array(sent):
    return b"[1, 2, 3]", sent.headers


def _no_body(sent):
    return None, sent.headers


def _no_headers(sent):
    return sent.value, []


def _not_cloudevents(sent):
    return sent.value, with_header(sent, "ce_specversion", b"0.3")


def _missing_field(sent):
    return with_body(sent, lambda body: body.pop("title")), sent.headers


def _inconsistent_snapshot(sent):
    return with_body(sent, lambda body: body.update(end=body["start"])), sent.headers


def _wrong_type(sent):
    return with_body(sent, lambda body: body.update(version="zero")), sent.headers


@pytest.mark.parametrize(("make", "reason"), [
    (_newer_type, "unknown_type"),
    (_newer_major, "unknown_version"),
    (_not_json, "undecodable"),
    (_not_utf8, "undecodable"),
    (_json_array, "validation_failed"),
    (_no_body, "undecodable"),
    (_no_headers, "undecodable"),
    (_not_cloudevents, "undecodable"),
    (_missing_field, "validation_failed"),
    (_inconsistent_snapshot, "validation_failed"),
    (_wrong_type, "validation_failed"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else v)
def test_a_record_that_cannot_be_read_is_skipped_with_its_reason(make, reason: str) -> None:
    sent = record(scheduled(), event_id="evt-bad")
    value, headers = make(sent)

    seen = read(value, headers, sent.key)

    assert isinstance(seen, Skipped), seen
    assert seen.reason == reason, seen.detail
    if headers:
        assert seen.event_id == "evt-bad"


def test_an_unknown_type_is_skipped_naming_the_type() -> None:
    sent = record(scheduled())

    seen = read(*_newer_type(sent), sent.key)

    assert isinstance(seen, Skipped)
    assert seen.event_type == "com.convene.meetings.MeetingArchived"


def test_a_known_event_of_another_topic_is_skipped() -> None:
    connected = CalendarConnected(
        account_id="acc_7f3k2", version=1, occurred_at=START, connection_id="conn_1",
        user_id="usr_alice", provider="google", account_email="alice@calendar.example",
        calendars=[Calendar(calendar_id="primary", name="Work", primary=True, access="owner",
                            active=True)],
        primary_calendar_id="primary", sync_enabled=True, purpose="all")
    sent = to_kafka_message(connected, event_id=new_event_id())

    seen = read(sent.value, sent.headers, sent.key)

    assert isinstance(seen, Skipped) and seen.reason == "not_a_meeting_event"


def test_the_detail_of_a_skip_stays_short() -> None:
    sent = record(scheduled())
    huge = json.dumps({"title": "x" * 100_000}).encode()

    seen = read(huge, sent.headers, sent.key)

    assert isinstance(seen, Skipped) and len(seen.detail) <= 500
