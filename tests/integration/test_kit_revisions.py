"""The kit's revision log on the real MongoDB-wire store: of many writers claiming one
version exactly one wins, the claim holds the state to roll a head forward, unpublished
claims come back oldest first, another account sees none of it, and pruning drops only
claims nobody can need again."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from convene_kit.outbox import PENDING_SINCE_FIELD
from convene_kit.revisions import RevisionLog, revision_indexes
from convene_kit.store import MongoStore
from convene_kit.testing import random_name
from support import load_infra_env

pytestmark = pytest.mark.integration

load_infra_env()
MONGO_URL = os.environ.get("CONVENE_MONGO_URL", "mongodb://127.0.0.1:37017/")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def store() -> AsyncIterator[MongoStore]:
    store = MongoStore(MONGO_URL, random_name("kit_revisions").replace("-", "_"))
    store.declare(*revision_indexes("revisions"))
    await store.connect()
    try:
        yield store
    finally:
        await store.client.drop_database(store.database_name)
        await store.close()


@pytest.fixture
def log(store: MongoStore) -> RevisionLog:
    return RevisionLog(store.collection("revisions"))


def head(version: int, title: str, account_id: str = "acc_1") -> dict:
    return {"_id": "mtg_1", "account_id": account_id, "version": version, "title": title}


def outbox(n: int) -> list[dict]:
    return [{"event_id": f"e{n}", "topic": "t", "key": "mtg_1", "value": "{}", "headers": [],
             "created_at": NOW}]


async def test_one_writer_of_many_wins_a_version(log: RevisionLog) -> None:
    for version in (1, 2, 3):
        claims = await asyncio.gather(*(
            log.claim(head(version, f"writer {n}"), outbox(n), NOW, head="meetings") for n in range(12)))
        winners = [c for c in claims if c is not None]
        assert len(winners) == 1
        stored = await log.state("acc_1", "mtg_1", version)
        assert stored == {**head(version, winners[0]["state"]["title"]), "_id": "mtg_1"}


async def test_unpublished_claims_come_oldest_first_and_stay_in_their_account(
        log: RevisionLog) -> None:
    for version in (3, 1, 2):
        assert await log.claim(head(version, f"v{version}"), outbox(version), NOW, head="meetings")
    pending = await log.pending("acc_1", "mtg_1", up_to=2)
    assert [c["version"] for c in pending] == [1, 2]
    assert all(PENDING_SINCE_FIELD in c for c in pending)
    assert await log.state("acc_2", "mtg_1", 1) is None
    assert await log.pending("acc_2", "mtg_1", up_to=9) == []
    await log.withdraw("acc_1", "mtg_1", 3)
    assert await log.state("acc_1", "mtg_1", 3) is None


async def test_pruning_keeps_what_a_head_or_the_relay_may_still_need(
        store: MongoStore, log: RevisionLog) -> None:
    for version in (1, 2, 3, 4):
        claim = await log.claim(head(version, f"v{version}"), [], NOW, head="meetings")
        assert claim is not None
    await log.claim(head(5, "v5"), outbox(5), NOW, head="meetings")  # events not published
    # The head reached version 3 (a crash left versions 4 and 5 to roll forward).
    await store.collection("meetings").insert_one(head(3, "v3"))

    assert await log.prune(NOW + timedelta(hours=1)) == 0  # younger than the retention
    assert await log.prune(NOW + timedelta(days=2)) == 3
    assert [v for v in range(1, 6) if await log.state("acc_1", "mtg_1", v)] == [4, 5]
    # Another account's head of the same id does not count.
    await log.claim(head(2, "v2", account_id="acc_2"), [], NOW, head="meetings")
    assert await log.prune(NOW + timedelta(days=2)) == 0
