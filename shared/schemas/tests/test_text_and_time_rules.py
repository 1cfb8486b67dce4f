"""The contract's boundary rules: storable text (no NUL, no control characters, line breaks
only in multi-line fields) and times in the supported range, for producers and consumers
alike, so a bad event is dead-lettered as invalid instead of poisoning a consumer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from convene_schemas.base import SUPPORTED_FROM, SUPPORTED_UNTIL, is_supported_time
from convene_schemas.envelope import EventValidationFailed, from_kafka_message, to_kafka_message
from convene_schemas.events.booking_pages import FormAnswer
from convene_schemas.events.common import Location
from convene_schemas.events.meetings import MeetingScheduled
from convene_schemas.registry import load_registry
from convene_schemas.text import disallowed_character, first_disallowed
from pydantic import ValidationError

EXAMPLES = [(event, example) for _, event in load_registry().events()
            for example in event.examples]


def strings(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every string in a JSON value."""
    if isinstance(data, str):
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from strings(value, (*path, index))


def with_value(data: Any, path: tuple[Any, ...], value: str) -> Any:
    copy = json.loads(json.dumps(data))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def meeting_data(**changes: Any) -> dict[str, Any]:
    event, example = next((e, x) for e, x in EXAMPLES if e.model is MeetingScheduled)
    return {**example.data, **changes}


@pytest.mark.parametrize(("text", "multiline", "refused"), [
    ("plain text, ünïcødé ✓ and emoji 🙂", False, None),
    ("nul\x00", False, "\x00"), ("nul\x00", True, "\x00"),
    ("a\nb", False, "\n"), ("a\r\n\tb", True, None), ("tab\t", False, "\t"),
    ("bell\x07", True, "\x07"), ("esc\x1b[0m", True, "\x1b"), ("del\x7f", True, "\x7f"),
    ("next line\x85", True, "\x85"), ("lone \ud800 surrogate", True, "\ud800"),
    ("\u2028 line separator is text", False, None),
])
def test_which_characters_text_can_hold(text: str, multiline: bool, refused: str | None) -> None:
    assert disallowed_character(text, multiline=multiline) == refused


def test_the_rule_reaches_into_lists_dicts_and_their_keys() -> None:
    assert first_disallowed(["ok", {"k": ("fine", "bad\x00")}]) == "\x00"
    assert first_disallowed({"ke\ny": "v"}, multiline=True) == "\n"  # keys are one line
    assert first_disallowed([1, None, 2.5, True]) is None


@pytest.mark.parametrize(("event", "example"), EXAMPLES,
                         ids=[f"{e.name}:{x.name}" for e, x in EXAMPLES])
def test_no_string_of_any_event_can_carry_a_nul(event: Any, example: Any) -> None:
    """Every string of every example, one at a time, with U+0000 appended: the consumer's
    parse refuses each (PostgreSQL behind FerretDB could store none of them)."""
    for path in strings(example.data):
        original = example.data
        for step in path:
            original = original[step]
        bad = with_value(example.data, path, original + "\x00")
        with pytest.raises(ValidationError):
            event.model.parse_data(bad)


def test_line_breaks_only_in_multi_line_fields() -> None:
    with pytest.raises(ValidationError, match="disallowed_character"):
        MeetingScheduled.parse_data(meeting_data(title="Review\r\nBcc: x@example.com"))
    meeting = MeetingScheduled.parse_data(
        meeting_data(attendee_description="<p>a</p>\r\n<p>b</p>"))
    assert meeting.attendee_description == "<p>a</p>\r\n<p>b</p>"
    assert Location(kind="in_person", value="Via Roma 1\n20121 Milano").value is not None
    assert FormAnswer(field="f", label="l", value="one\ntwo").value == "one\ntwo"
    with pytest.raises(ValidationError, match="disallowed_character"):
        Location(kind="in_person", value="Via Roma 1\x00")


def test_a_consumer_refuses_a_nul_as_an_invalid_event_to_dead_letter() -> None:
    record = to_kafka_message(MeetingScheduled.parse_data(meeting_data()), event_id="e-1")
    value = json.loads(record.value)
    value["title"] = "nul\x00title"
    with pytest.raises(EventValidationFailed, match="disallowed_character"):
        from_kafka_message(json.dumps(value).encode(), record.headers, record.key)


@pytest.mark.parametrize(("value", "supported"), [
    (SUPPORTED_FROM, True), (SUPPORTED_FROM - timedelta(seconds=1), False),
    (SUPPORTED_UNTIL - timedelta(seconds=1), True), (SUPPORTED_UNTIL, False),
    (datetime(8999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))), False),
    (datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))), False),  # no OverflowError
    (datetime.min.replace(tzinfo=timezone(timedelta(hours=5))), False),
    (datetime(2026, 3, 10, 15, 0), True),  # a naive wall time
    (datetime(9999, 12, 31, 23, 59), False),
])
def test_the_supported_range(value: datetime, supported: bool) -> None:
    assert is_supported_time(value) is supported


def test_a_producer_cannot_build_a_meeting_past_the_range() -> None:
    start = datetime(9999, 12, 31, 22, 59, tzinfo=timezone.utc)  # 23:59 in Rome
    with pytest.raises(ValidationError, match="date_out_of_range"):
        MeetingScheduled.parse_data(meeting_data(start=start.isoformat(),
                                                 end=(start + timedelta(minutes=30)).isoformat(),
                                                 duration_minutes=30))


@pytest.mark.parametrize("field", ["start", "end", "occurred_at"])
def test_a_consumer_refuses_a_time_out_of_range_as_an_invalid_event(field: str) -> None:
    record = to_kafka_message(MeetingScheduled.parse_data(meeting_data()), event_id="e-2")
    value = json.loads(record.value)
    value[field] = "9999-12-31T23:59:00Z"
    with pytest.raises(EventValidationFailed, match="date_out_of_range"):
        from_kafka_message(json.dumps(value).encode(), record.headers, record.key)
