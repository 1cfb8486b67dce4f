"""The MongoDB-wire store (FerretDB on PostgreSQL locally) through PyMongo's async API: the two
guarantees the services build on, unique indexes and atomic conditional updates."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from support import endpoint, unique


@pytest.fixture
async def database():
    client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"))
    name = unique("it_store").replace("-", "_")
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_unique_index_rejects_a_duplicate(database) -> None:
    emails = database["emails"]
    await emails.create_index([("account_id", 1), ("email", 1)], unique=True)
    await emails.insert_one({"account_id": "a1", "email": "x@example.com"})
    await emails.insert_one({"account_id": "a2", "email": "x@example.com"})  # other account: fine
    with pytest.raises(DuplicateKeyError):
        await emails.insert_one({"account_id": "a1", "email": "x@example.com"})
    assert await emails.count_documents({}) == 2


async def is_ferretdb(database) -> bool:
    info = await database.client.admin.command("buildInfo")
    return "ferretdbVersion" in info


async def race(database, attempt, rounds: int = 20) -> list[int]:
    """Run `attempt(collection, key, claimer)` for two claimers on separate connections at
    once, `rounds` times; return how many claimers won each round."""
    clients = [AsyncMongoClient(endpoint("CONVENE_MONGO_URL")) for _ in range(2)]
    try:
        wins = []
        for i in range(rounds):
            results = await asyncio.gather(*(
                attempt(client[database.name]["jobs"], f"job-{i}", name)
                for client, name in zip(clients, "AB", strict=True)))
            wins.append(sum(1 for r in results if r))
        return wins
    finally:
        for client in clients:
            await client.close()


async def test_unique_insert_is_an_atomic_claim(database) -> None:
    """The claim primitive the runtime kit builds on: of two concurrent claimers inserting the
    same _id, exactly one wins, every time."""
    async def claim(jobs, job_id: str, owner: str) -> bool:
        try:
            await jobs.insert_one({"_id": job_id, "owner": owner})
            return True
        except DuplicateKeyError:
            return False

    assert await race(database, claim) == [1] * 20


async def test_delete_by_id_has_exactly_one_winner(database) -> None:
    await database["jobs"].insert_many([{"_id": f"job-{i}"} for i in range(20)])

    async def take(jobs, job_id: str, owner: str) -> bool:
        return (await jobs.delete_one({"_id": job_id})).deleted_count == 1

    assert await race(database, take) == [1] * 20


async def test_conditional_find_one_and_update_as_a_claim(database) -> None:
    """On MongoDB, find_one_and_update with a condition is an atomic claim. FerretDB 1.24.2 on
    PostgreSQL is not: it SELECTs, applies the update in memory and writes the whole document
    back by _id (internal/backends/postgresql/collection.go UpdateAll), so both claimers win.
    This test pins which store we run on, so no code relies on the wrong guarantee."""
    await database["jobs"].insert_many([{"_id": f"job-{i}", "owner": None} for i in range(20)])

    async def claim(jobs, job_id: str, owner: str):
        return await jobs.find_one_and_update({"_id": job_id, "owner": None},
                                              {"$set": {"owner": owner}})

    wins = await race(database, claim)
    if await is_ferretdb(database):
        assert max(wins) == 2, f"FerretDB's conditional update became atomic: {wins}"
    else:
        assert wins == [1] * 20


async def test_concurrent_updates_of_different_fields(database) -> None:
    """The same whole-document write-back loses one of two concurrent updates on FerretDB 1.x,
    even of different fields: writes to one document must be serialised by the application."""
    await database["jobs"].insert_many([{"_id": f"job-{i}", "a": 0, "b": 0} for i in range(20)])

    async def touch(jobs, job_id: str, owner: str) -> bool:
        await jobs.update_one({"_id": job_id}, {"$set": {"a" if owner == "A" else "b": 1}})
        return True

    await race(database, touch)
    both_kept = await database["jobs"].count_documents({"a": 1, "b": 1})
    if await is_ferretdb(database):
        assert both_kept < 20, "FerretDB kept every concurrent update: revisit the kit's locks"
    else:
        assert both_kept == 20
