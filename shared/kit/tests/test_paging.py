"""Opaque paging cursors: a round trip, and every kind of forged cursor refused."""

from __future__ import annotations

import base64

import pytest
from convene_kit.paging import InvalidCursor, cursor_time, decode_cursor, encode_cursor


def test_a_position_survives_the_round_trip_and_is_url_safe() -> None:
    position = {"start": "2026-03-06T09:00:00+00:00", "id": "mtg_?&/é"}
    cursor = encode_cursor(position)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor, ["start", "id"]) == position


@pytest.mark.parametrize("cursor", [
    "not base64 !",
    base64.urlsafe_b64encode(b"[1, 2]").decode(),
    base64.urlsafe_b64encode(b"{\"start\": 1}").decode(),
    base64.urlsafe_b64encode(b"{\"start\": 1, \"id\": 2, \"extra\": 3}").decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "",
])
def test_a_cursor_this_api_did_not_give_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, ["start", "id"])


@pytest.mark.parametrize("position", [
    {"start": "2026-03-06T09:00:00+00:00", "id": "mtg_\u0000"},  # the store cannot hold it
    {"start": "2026-03-06T09:00:00+00:00", "id": "mtg\n1"},
])
def test_a_forged_cursor_with_control_characters_is_refused(position: dict) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(position), ["start", "id"])


@pytest.mark.parametrize("value", [
    "9999-12-31T23:59:00-05:00",  # past datetime.max once in UTC: the store query overflowed
    "1899-12-31T23:59:59+00:00", "2026-03-06T09:00:00", "not a time", 1,
])
def test_a_cursor_time_is_aware_and_in_the_supported_range(value: object) -> None:
    with pytest.raises(InvalidCursor):
        cursor_time(value)
    assert cursor_time("2026-03-06T09:00:00+01:00").isoformat() == "2026-03-06T09:00:00+01:00"
