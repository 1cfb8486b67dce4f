"""The meetings report (R6) against a fixture of 60 meetings with mixed organizers, hosts,
outcomes and meeting types, published as meetings would publish them; the expected counts
are computed here, independently of records."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from convene_schemas.events.meetings import MeetingOutcomeRecorded
from support import wait_for
from support.records import api, next_version, publish_events, quiet_meeting
from support.services import Stack
from support.skeleton import Account, auth

RANGE_START = datetime(2031, 3, 1, tzinfo=timezone.utc)
RANGE_END = datetime(2031, 4, 1, tzinfo=timezone.utc)
ORGANIZERS = ["usr_org_a", "usr_org_b", "usr_org_c"]
HOSTS = ["usr_host_1", "usr_host_2", "usr_host_3", "usr_host_4"]
OUTCOMES = ["scheduled", "completed", "rescheduled", "no_show", "canceled"]
TYPES = ["discovery", "demo", "follow_up", None]


def build_fixture(account_id: str, rng: random.Random) -> tuple[list, list[dict]]:
    """Events to publish, and each meeting's final facts as the test expects them."""
    events, expected = [], []
    for index in range(60):
        inside = index < 52  # 8 meetings start outside the range and must not count
        offset = timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
        start = (RANGE_START + offset) if inside else (RANGE_END + offset)
        organizer, host = rng.choice(ORGANIZERS), rng.choice(HOSTS)
        meeting = quiet_meeting(account_id, organizer=organizer, host=host, start=start,
                                meeting_type=rng.choice(TYPES), title=f"Fixture {index}")
        final = meeting
        if index % 3:
            final = next_version(meeting, MeetingOutcomeRecorded,
                                 outcome=rng.choice(OUTCOMES[1:]), previous_outcome="scheduled",
                                 recorded_by_user_id=host)
        if index % 7 == 0 and final is not meeting:
            events += [final, meeting]  # the older event arrives last: it must change nothing
        else:
            events += [meeting] + ([final] if final is not meeting else [])
        if inside:
            expected.append({"organizer": organizer, "host": host, "outcome": final.outcome,
                             "meeting_type": final.meeting_type})
    return events, expected


@pytest.fixture(scope="module")
def fixture_account(stack: Stack) -> Account:
    return Account(stack)


async def report(stack: Stack, token: str, group_by: str) -> dict:
    async with api(stack, token) as client:
        response = await client.get("/reports/meetings", params={
            "from": RANGE_START.isoformat(), "to": RANGE_END.isoformat(), "group_by": group_by})
    assert response.status_code == 200, response.text
    return response.json()


async def test_report_counts_match_the_fixture(stack: Stack, fixture_account: Account) -> None:
    events, expected = build_fixture(fixture_account.id, random.Random(20310301))
    await publish_events(stack, events)
    want = {group_by: Counter(m[group_by] for m in expected)
            for group_by in ("organizer", "host", "outcome", "meeting_type")}
    assert len(want["outcome"]) >= 3 and len(want["host"]) == 4  # the fixture is mixed

    async def settled() -> dict | None:
        got = await report(stack, fixture_account.admin, "outcome")
        counts = {g["key"]: g["count"] for g in got["groups"]}
        return got if counts == dict(want["outcome"]) else None

    await wait_for(settled, "the report to reflect all 60 meetings", timeout=60, interval=0.5)
    for group_by, counts in want.items():
        got = await report(stack, fixture_account.admin, group_by)
        assert got["total"] == len(expected) == 52
        assert {g["key"]: g["count"] for g in got["groups"]} == dict(counts), group_by
        assert [g["count"] for g in got["groups"]] == sorted(counts.values(), reverse=True)

    other = Account(stack)
    foreign = await report(stack, other.admin, "host")
    assert foreign["total"] == 0 and foreign["groups"] == []


async def test_report_refuses_a_bad_range(stack: Stack, fixture_account: Account) -> None:
    async with httpx.AsyncClient(base_url=stack.url("records"), timeout=10,
                                 headers=auth(fixture_account.admin)) as client:
        backwards = await client.get("/reports/meetings", params={
            "from": RANGE_END.isoformat(), "to": RANGE_START.isoformat(), "group_by": "host"})
        assert backwards.status_code == 422
        assert backwards.json()["error"]["code"] == "invalid_range"
        unknown = await client.get("/reports/meetings", params={
            "from": RANGE_START.isoformat(), "to": RANGE_END.isoformat(), "group_by": "color"})
        assert unknown.status_code == 422 and "error" in unknown.json()
