"""The Idempotency-Key mechanism: derived ids, fingerprints, repeats, reuse, pruning."""

from __future__ import annotations

import asyncio

import pytest
from convene_kit.idempotent_requests import (
    IdempotencyKeyReused,
    IdempotencyKeys,
    fingerprint,
)
from convene_kit.testing import FakeStore


def keys() -> IdempotencyKeys:
    return IdempotencyKeys(FakeStore().collection("idempotency_keys"))


def test_the_resource_id_is_the_same_for_a_repeat_and_differs_by_scope_account_principal_key(
) -> None:
    rid = IdempotencyKeys.resource_id("meetings.schedule", "acc_1", "usr_1", "k")
    assert rid == IdempotencyKeys.resource_id("meetings.schedule", "acc_1", "usr_1", "k")
    assert len(rid) == 32 and int(rid, 16) >= 0
    others = {IdempotencyKeys.resource_id(*args) for args in (
        ("bookings.hold", "acc_1", "usr_1", "k"), ("meetings.schedule", "acc_2", "usr_1", "k"),
        ("meetings.schedule", "acc_1", "usr_2", "k"), ("meetings.schedule", "acc_1", "usr_1", "K"),
        # no separator can be forged: "a" + "b,c" is not "a,b" + "c"
        ("meetings.schedule", "acc_1", "usr_1,", "k"), ("meetings.schedule", "acc_1,usr_1", "", "k"))}
    assert rid not in others and len(others) == 6


def test_a_fingerprint_ignores_the_order_of_fields_but_not_their_values() -> None:
    assert fingerprint({"a": 1, "b": [1, {"c": 2, "d": 3}]}) == fingerprint(
        {"b": [1, {"d": 3, "c": 2}], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": [1, 2]}) != fingerprint({"a": [2, 1]})  # lists keep their order


async def test_the_first_request_is_admitted_a_repeat_is_told_so() -> None:
    store = keys()
    args = {"scope": "s", "account_id": "acc_1", "principal_id": "usr_1", "key": "k"}
    first = await store.admit(**args, request={"title": "x"})
    again = await store.admit(**args, request={"title": "x"})
    assert (first.repeated, again.repeated) == (False, True)
    assert first.resource_id == again.resource_id


async def test_the_same_key_with_another_request_is_refused_with_a_code() -> None:
    store = keys()
    args = {"scope": "s", "account_id": "acc_1", "principal_id": "usr_1", "key": "k"}
    await store.admit(**args, request={"title": "x"})
    with pytest.raises(IdempotencyKeyReused) as refused:
        await store.admit(**args, request={"title": "y"})
    assert (refused.value.status, refused.value.code) == (422, "idempotency_key_reused")


async def test_keys_older_than_the_retention_are_pruned_and_then_admitted_afresh() -> None:
    collection = FakeStore().collection("idempotency_keys")
    store = IdempotencyKeys(collection, retention_s=-1)  # everything is past its retention
    args = {"scope": "s", "account_id": "acc_1", "principal_id": "usr_1", "key": "k"}
    await store.admit(**args, request={"title": "x"})
    stopping = asyncio.Event()
    pruning = asyncio.create_task(store.run_pruning(stopping, interval_s=0.01))
    for _ in range(100):
        if not collection.docs:
            break
        await asyncio.sleep(0.01)
    stopping.set()
    await asyncio.wait_for(pruning, 5)
    assert collection.docs == {}
    again = await store.admit(**args, request={"title": "y"})  # the check lapsed with it
    assert again.repeated is False
