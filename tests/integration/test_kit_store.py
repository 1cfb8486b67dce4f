"""The kit's store helpers against the real MongoDB-wire store: declared indexes, account
scoping, version-guarded projections and processed-event records."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from convene_kit.idempotency import ProcessedEvents, apply_if_newer
from convene_kit.store import AccountScopedCollection, IndexSpec, MongoStore
from convene_kit.testing import random_name
from pymongo.errors import DuplicateKeyError
from support import load_infra_env

pytestmark = pytest.mark.integration

load_infra_env()
MONGO_URL = os.environ.get("CONVENE_MONGO_URL", "mongodb://127.0.0.1:37017/")


@pytest.fixture
async def store() -> AsyncIterator[MongoStore]:
    store = MongoStore(MONGO_URL, random_name("kit_store").replace("-", "_"))
    await store.connect()
    try:
        yield store
    finally:
        await store.client.drop_database(store.database_name)
        await store.close()


async def test_declared_indexes_are_created_and_unique_ones_enforced(store: MongoStore) -> None:
    store.declare(
        IndexSpec("pages", [("account_id", 1), ("slug", 1)], name="account_slug", unique=True),
        IndexSpec("pages", [("updated_at", -1)], name="updated_at"),
    )
    await store.ensure_indexes()
    await store.ensure_indexes()  # idempotent at every start-up
    names = {index["name"] async for index in await store.collection("pages").list_indexes()}
    assert {"account_slug", "updated_at"} <= names
    pages = store.collection("pages")
    await pages.insert_one({"_id": "p1", "account_id": "a", "slug": "intro"})
    await pages.insert_one({"_id": "p2", "account_id": "b", "slug": "intro"})
    with pytest.raises(DuplicateKeyError):
        await pages.insert_one({"_id": "p3", "account_id": "a", "slug": "intro"})


async def test_account_scoped_collection_never_crosses_accounts(store: MongoStore) -> None:
    contacts = AccountScopedCollection(store.collection("contacts"))
    await contacts.insert_one("acc-1", {"_id": "c1", "name": "Ann"})
    await contacts.insert_one("acc-2", {"_id": "c2", "name": "Bob"})
    assert await contacts.find_one("acc-1", {"_id": "c2"}) is None
    assert [c["_id"] for c in await contacts.find("acc-1")] == ["c1"]
    assert await contacts.update_one("acc-1", {"_id": "c2"}, {"$set": {"name": "x"}}) == 0
    assert await contacts.delete_one("acc-1", {"_id": "c2"}) == 0
    assert (await contacts.find_one("acc-2", {"_id": "c2"}))["name"] == "Bob"
    updated = await contacts.find_one_and_update("acc-1", {"_id": "c1"}, {"$set": {"name": "Anna"}})
    assert updated["name"] == "Anna"
    assert await contacts.count("acc-1") == 1


async def test_apply_if_newer_ignores_older_and_duplicate_versions(store: MongoStore) -> None:
    meetings = store.collection("meeting_views")
    assert await apply_if_newer(meetings, {"_id": "m1"}, 2, {"$set": {"title": "v2"}})
    assert not await apply_if_newer(meetings, {"_id": "m1"}, 1, {"$set": {"title": "v1"}})
    assert not await apply_if_newer(meetings, {"_id": "m1"}, 2, {"$set": {"title": "v2 again"}})
    assert await apply_if_newer(meetings, {"_id": "m1"}, 3, {"$set": {"title": "v3"}})
    doc = await meetings.find_one({"_id": "m1"})
    assert (doc["title"], doc["version"]) == ("v3", 3)


async def test_apply_if_newer_survives_concurrent_upserts_of_a_new_document(
    store: MongoStore,
) -> None:
    views = store.collection("meeting_views")
    versions = [5, 3, 9, 1, 7, 9, 2, 8]
    results = await asyncio.gather(
        *(apply_if_newer(views, {"_id": "m2"}, v, {"$set": {"title": f"v{v}"}}) for v in versions)
    )
    assert any(results)
    assert await views.count_documents({}) == 1  # one document, no DuplicateKeyError escaped
    doc = await views.find_one({"_id": "m2"})
    assert doc["title"] == f"v{doc['version']}"  # version and state written together
    info = await store.client.admin.command("buildInfo")
    if "ferretdbVersion" not in info:  # MongoDB: the conditional update is atomic
        assert doc["version"] == 9
    # Then, delivered in order one at a time (as one partition is), the newest wins.
    assert await apply_if_newer(views, {"_id": "m2"}, 10, {"$set": {"title": "v10"}})
    assert not await apply_if_newer(views, {"_id": "m2"}, 9, {"$set": {"title": "v9"}})
    assert (await views.find_one({"_id": "m2"}))["title"] == "v10"


async def test_processed_events_seen_mark_and_prune(store: MongoStore) -> None:
    processed = ProcessedEvents(store.collection("processed_events"), "notifications",
                                retention_s=3600)
    other_group = ProcessedEvents(store.collection("processed_events"), "records")
    assert not await processed.seen("e1")
    assert await processed.mark("e1")
    assert not await processed.mark("e1")  # a concurrent duplicate loses
    assert await processed.seen("e1")
    assert not await other_group.seen("e1")  # groups are independent
    await other_group.mark("e1")
    assert await processed.prune(now=datetime.now(timezone.utc)) == 0
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert await processed.prune(now=later) == 1
    assert not await processed.seen("e1")
    assert await other_group.seen("e1")
