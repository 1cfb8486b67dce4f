"""Replaying the meetings topic from offset 0 into an empty records database, with a new
consumer group, rebuilds the same timelines and report facts (R5: idempotent and
order-tolerant projections)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingUpdated,
)
from pymongo import AsyncMongoClient
from support import endpoint, wait_for
from support.records import CrmAccount, next_version, publish_events, quiet_meeting
from support.services import ServiceProcess, Stack, free_port
from support.skeleton import committed_past

PROJECTIONS = ("timeline", "timeline_meetings", "meeting_facts")


@pytest.fixture(scope="module")
def crm(stack: Stack) -> CrmAccount:
    return CrmAccount(stack)


def history(crm: CrmAccount) -> list:
    """Meetings with reschedules, outcomes, a cancel, a dropped association and a stale
    event arriving after newer ones."""
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=4)
    host, contact = crm.host["id"], crm.contact["id"]
    everything = crm.refs()
    m1 = quiet_meeting(crm.id, organizer=host, host=host, start=start, contacts=(contact,),
                       associations=everything, title="Replay one")
    m1b = next_version(m1, MeetingRescheduled, start=start + timedelta(hours=3),
                       end=start + timedelta(hours=3, minutes=30), previous_start=m1.start,
                       previous_end=m1.end, changed_fields=["start", "end"])
    m1c = next_version(m1b, MeetingOutcomeRecorded, outcome="completed",
                       previous_outcome="scheduled", recorded_by_user_id=host)
    m2 = quiet_meeting(crm.id, organizer="usr_other", host=host, start=start + timedelta(days=1),
                       associations=everything[1:], meeting_type="demo", title="Replay two")
    m2b = next_version(m2, MeetingCanceled, reason="canceled_in_crm", canceled_by_user_id=host)
    m3 = quiet_meeting(crm.id, organizer=host, host=host, start=start - timedelta(days=1),
                       contacts=(contact,), associations=everything, title="Replay three")
    m3b = next_version(m3, MeetingUpdated, title="Replay three (no deal)",
                       associations=everything[:2], changed_fields=["title", "associations"])
    return [m1, m1b, m1c, m2, m2b, m1, m3, m3b, m3, m2]


async def projections(database: str, account_id: str) -> dict[str, list[dict]]:
    client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"), tz_aware=True)
    try:
        db = client[database]
        return {name: [doc async for doc in db[name].find({"account_id": account_id})
                       .sort([("_id", 1)])] for name in PROJECTIONS}
    finally:
        await client.close()


async def test_replaying_the_meetings_topic_rebuilds_identical_timelines(
    stack: Stack, crm: CrmAccount, tmp_path
) -> None:
    sent = await publish_events(stack, history(crm))
    for partition, offset in sent:
        await wait_for(lambda p=partition, o=offset: committed_past(stack, "records", p, o),
                       "records to process the history", timeout=45)
    original = await projections(stack.database("records"), crm.id)
    assert len(original["timeline"]) == 8  # 3 + 2 + 3 entries, one withdrawn (still stored)
    assert sum(1 for e in original["timeline"] if e["on_timeline"]) == 7
    assert len(original["meeting_facts"]) == 3

    replay_db = f"{stack.database('records')}_replay_{uuid.uuid4().hex[:6]}"
    port = free_port()
    replay = ServiceProcess("records", port, stack.env_for("records", port, {
        "CONVENE_MONGO_DATABASE": replay_db,
        "CONVENE_SERVICE_NAME": f"records-replay-{uuid.uuid4().hex[:6]}"}),
        tmp_path / "records-replay.log")
    try:
        replay.start()
        replay.wait_ready()

        async def identical() -> bool:
            return await projections(replay_db, crm.id) == original

        await wait_for(identical, "the replayed projections to equal the originals",
                       timeout=120, interval=1)
    finally:
        replay.stop()
        client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"))
        try:
            await client.drop_database(replay_db)
        finally:
            await client.close()
