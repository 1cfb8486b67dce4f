"""Read models of other services' aggregates (convene_kit.read_models) on the kit's in-memory
store: only a newer version is written, whatever order and however often events arrive;
documents are keyed and read per account; reads go by ``_id``."""

from __future__ import annotations

import random
from typing import Any

import pytest
from convene_kit.read_models import VersionedReadModel, read_model_key
from convene_kit.store import MAX_FIND, AccountScopeError
from convene_kit.testing import FakeCollection, FakeStore

ACC = "acc_1"
OTHER_ACC = "acc_2"


@pytest.fixture
def collection() -> FakeCollection:
    return FakeStore().collection("users")


@pytest.fixture
def users(collection: FakeCollection) -> VersionedReadModel:
    return VersionedReadModel(collection)


def state(version: int, **fields: Any) -> dict[str, Any]:
    return {"user_id": "usr_1", "name": f"Alice v{version}", **fields}


def test_the_key_is_the_account_and_the_aggregate_id() -> None:
    assert read_model_key("acc_1", "usr_9") == "acc_1:usr_9"


async def test_the_first_version_creates_the_document(users: VersionedReadModel,
                                                      collection: FakeCollection) -> None:
    assert await users.put(ACC, "usr_1", 3, state(3))
    assert collection.docs == {"acc_1:usr_1": {
        "_id": "acc_1:usr_1", "account_id": ACC, "version": 3,
        "user_id": "usr_1", "name": "Alice v3"}}
    assert await users.get(ACC, "usr_1") == collection.docs["acc_1:usr_1"]


async def test_only_a_newer_version_is_written(users: VersionedReadModel) -> None:
    assert await users.put(ACC, "usr_1", 5, state(5))
    assert not await users.put(ACC, "usr_1", 5, state(5, name="a re-publish"))
    assert not await users.put(ACC, "usr_1", 4, state(4))
    assert (await users.get(ACC, "usr_1") or {})["name"] == "Alice v5"
    assert await users.put(ACC, "usr_1", 6, state(6))
    found = await users.get(ACC, "usr_1")
    assert found is not None and (found["name"], found["version"]) == ("Alice v6", 6)


async def test_any_order_and_any_redelivery_ends_at_the_newest_version(
    users: VersionedReadModel,
) -> None:
    deliveries = [v for v in range(1, 11) for _ in range(2)]  # every event twice
    random.Random(7).shuffle(deliveries)
    written = [v for v in deliveries if await users.put(ACC, "usr_1", v, state(v))]
    found = await users.get(ACC, "usr_1")
    assert found is not None and (found["name"], found["version"]) == ("Alice v10", 10)
    assert written == sorted(set(written))  # each write was newer than the one before
    assert written[-1] == 10


async def test_fields_not_named_keep_their_values(users: VersionedReadModel) -> None:
    await users.put(ACC, "ct_1", 1, {"contact_id": "ct_1", "email": "dana@globex.example"})
    await users.put(ACC, "ct_1", 2, {"contact_id": "ct_1", "deleted": True})  # a tombstone
    found = await users.get(ACC, "ct_1")
    assert found is not None
    assert (found["email"], found["deleted"], found["version"]) == ("dana@globex.example", True, 2)


async def test_accounts_do_not_see_each_others_aggregates(users: VersionedReadModel,
                                                          collection: FakeCollection) -> None:
    await users.put(ACC, "usr_1", 1, state(1))
    assert await users.put(OTHER_ACC, "usr_1", 1, state(1, name="Bob"))  # same id, own copy
    assert set(collection.docs) == {"acc_1:usr_1", "acc_2:usr_1"}
    assert (await users.get(OTHER_ACC, "usr_1") or {})["name"] == "Bob"
    assert await users.get("acc_3", "usr_1") is None
    assert await users.get_many("acc_3", ["usr_1", "usr_2"]) == []
    # A document under another account's key is not read through this account either.
    collection.docs["acc_3:usr_1"] = {**collection.docs["acc_1:usr_1"], "_id": "acc_3:usr_1"}
    assert await users.get("acc_3", "usr_1") is None


async def test_an_account_id_is_required(users: VersionedReadModel) -> None:
    with pytest.raises(AccountScopeError):
        await users.put("", "usr_1", 1, state(1))
    with pytest.raises(AccountScopeError):
        await users.get("", "usr_1")


async def test_get_many_returns_the_known_ones_in_the_order_named(
    users: VersionedReadModel,
) -> None:
    for user_id in ("usr_1", "usr_2", "usr_3"):
        await users.put(ACC, user_id, 1, {"user_id": user_id})
    await users.put(OTHER_ACC, "usr_4", 1, {"user_id": "usr_4"})
    found = await users.get_many(ACC, iter(["usr_3", "usr_9", "usr_1", "usr_3", "usr_4"]))
    assert [d["user_id"] for d in found] == ["usr_3", "usr_1"]
    assert await users.get_many(ACC, []) == []


async def test_one_id_is_read_with_find_one_by_id(users: VersionedReadModel,
                                                  collection: FakeCollection,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    await users.put(ACC, "usr_1", 1, state(1))
    queries: list[tuple[str, dict[str, Any]]] = []
    find_one, find = collection.find_one, collection.find

    async def recording_find_one(query: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        queries.append(("find_one", query))
        return await find_one(query, *args, **kwargs)

    def recording_find(query: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        queries.append(("find", query))
        return find(query, *args, **kwargs)

    monkeypatch.setattr(collection, "find_one", recording_find_one)
    monkeypatch.setattr(collection, "find", recording_find)
    assert len(await users.get_many(ACC, ["usr_1", "usr_1"])) == 1
    assert queries == [("find_one", {"_id": "acc_1:usr_1", "account_id": ACC})]
    queries.clear()
    assert len(await users.get_many(ACC, ["usr_1", "usr_2"])) == 1
    assert queries == [("find", {"_id": {"$in": ["acc_1:usr_1", "acc_1:usr_2"]},
                                 "account_id": ACC})]


async def test_get_many_is_bounded(users: VersionedReadModel) -> None:
    assert await users.get_many(ACC, [f"usr_{i}" for i in range(MAX_FIND)]) == []
    with pytest.raises(ValueError, match=f"at most {MAX_FIND}"):
        await users.get_many(ACC, [f"usr_{i}" for i in range(MAX_FIND + 1)])
