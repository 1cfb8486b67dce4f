"""The kit's versioned aggregates through the running meetings service: rounds of truly
concurrent edits of ONE meeting all land, each with its own version, and the meeting's
events reach meetings.events.v1 in version order, with no gap and no repeat.

Concurrent requests finish in any order; ``Aggregates.change`` publishes every unpublished
claim up to its version, oldest first, under the meeting's lock, so a request that finishes
late never sends its version after a newer one.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from convene_schemas.events.meetings import MeetingScheduled, MeetingUpdated
from support.calendars import connect_calendar
from support.meetings import MeetingsAccount, call, meeting_body, meeting_events, post_when_known
from support.services import Stack

ROUNDS = 4
AT_ONCE = 6  # below the service's claim attempts (8), so every request must answer 200


@pytest.fixture(scope="module")
async def acc(stack: Stack) -> MeetingsAccount:
    account = MeetingsAccount(stack)
    await connect_calendar(stack, account, account.uid("host"))
    return account


def edits(round_: int) -> list[dict]:
    """AT_ONCE edits, none a no-op on any version (every value is new), all public (an
    internal note alone raises the version without an event)."""
    tag = f"{round_}-{uuid.uuid4().hex[:6]}"
    return [{"title": f"Title {tag}-{i}"} if i % 2 == 0 else
            {"location": {"kind": "phone", "value": f"+39 06 {round_}{i}{tag[-4:]}"}}
            for i in range(AT_ONCE)]


async def patch_at_once(stack: Stack, path: str, token: str,
                        bodies: list[dict]) -> list[httpx.Response]:
    """Every PATCH sent truly concurrently, one client each."""
    return list(await asyncio.gather(*(call(stack, "PATCH", path, token, b) for b in bodies)))


async def test_concurrent_edits_of_one_meeting_are_published_in_version_order(
        stack: Stack, acc: MeetingsAccount) -> None:
    created = await post_when_known(stack, acc.token("host"), meeting_body(acc),
                                    waiting_for=("no_connected_calendar", "unknown_host",
                                                 "unknown_attendee"))
    assert created.status_code == 201, created.text
    meeting_id = created.json()["meeting"]["id"]
    path, token = f"/meetings/{meeting_id}", acc.token("host")

    for round_ in range(ROUNDS):
        answers = await patch_at_once(stack, path, token, edits(round_))
        assert [a.status_code for a in answers] == [200] * AT_ONCE, [a.text for a in answers]
        first = 1 + round_ * AT_ONCE
        assert sorted(a.json()["version"] for a in answers) == list(
            range(first, first + AT_ONCE)), round_  # each answer its own version

    changes = ROUNDS * AT_ONCE
    final = (await call(stack, "GET", path, token)).json()
    assert final["version"] == changes
    events = await meeting_events(stack, meeting_id, 1 + changes)
    versions = [e.version for e in events]
    assert versions == list(range(1 + changes)), versions  # topic order = version order
    assert isinstance(events[0], MeetingScheduled)
    assert all(isinstance(e, MeetingUpdated) for e in events[1:])
    last = events[-1]
    assert (last.title, last.location.value) == (final["title"], final["location"]["value"])
