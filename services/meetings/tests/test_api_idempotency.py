"""POST /meetings with an Idempotency-Key: a retry schedules and sends nothing again."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from convene_schemas.events.meetings import MeetingScheduled

from services.meetings.tests.test_api import account, body  # noqa: F401 - the fixture

KEY = "0b6f3c2e-6d1a-4f0e-9b7a-2f1d8e6c5a41"


def scheduled(harness) -> list[MeetingScheduled]:
    return [e.event for e in harness.publisher.events() if isinstance(e.event, MeetingScheduled)]


async def test_a_retry_with_the_same_key_answers_the_first_meeting_and_publishes_nothing(
    client, harness, mint, account  # noqa: F811
) -> None:
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    first = await client.post("/meetings", json=body(account), headers=headers)
    again = await client.post("/meetings", json=body(account), headers=headers)

    assert first.status_code == again.status_code == 201, again.text
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["meeting"] == first.json()["meeting"]
    assert again.headers["location"] == first.headers["location"]
    assert len(harness.collection("meetings").docs) == 1
    assert len(scheduled(harness)) == 1


async def test_the_same_request_with_its_fields_in_another_order_is_the_same_request(
    client, harness, mint, account  # noqa: F811
) -> None:
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    first = await client.post("/meetings", json=body(account), headers=headers)
    reordered = dict(reversed(list(body(account).items())))
    again = await client.post("/meetings", json=reordered, headers=headers)
    assert again.status_code == 201 and again.json()["meeting"]["id"] == first.json()["meeting"]["id"]
    assert len(scheduled(harness)) == 1


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    client, harness, mint, account  # noqa: F811
) -> None:
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    first = await client.post("/meetings", json=body(account), headers=headers)
    other = await client.post("/meetings", json=body(account, title="Another call"),
                              headers=headers)

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert [m["title"] for m in harness.collection("meetings").docs.values()] == [
        first.json()["meeting"]["title"]]
    assert len(scheduled(harness)) == 1


async def test_keys_are_the_callers_own(client, harness, mint, account) -> None:  # noqa: F811
    """Another user choosing the same key schedules a meeting of their own."""
    alice = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    colleague = {**mint(account.account_id, account.colleague), "Idempotency-Key": KEY}
    first = await client.post("/meetings", json=body(account), headers=alice)
    second = await client.post("/meetings", json=body(account), headers=colleague)
    assert first.status_code == second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert first.json()["meeting"]["id"] != second.json()["meeting"]["id"]
    assert len(scheduled(harness)) == 2


async def test_without_a_key_every_post_schedules_a_meeting(
    client, harness, mint, account  # noqa: F811
) -> None:
    headers = mint(account.account_id, account.host)
    for _ in range(2):
        assert (await client.post("/meetings", json=body(account), headers=headers)
                ).status_code == 201
    assert len(scheduled(harness)) == 2


async def test_a_repeat_is_answered_even_when_the_rules_would_refuse_it_now(
    client, harness, mint, account  # noqa: F811
) -> None:
    """The first request's answer was lost and the client retries only after the meeting's
    start: it gets the meeting that was scheduled, not start_in_past."""
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    first = await client.post("/meetings", json=body(account), headers=headers)
    harness.service.deps.clock = lambda: datetime(2026, 3, 11, 9, 0, tzinfo=timezone.utc)
    refused = await client.post("/meetings", json=body(account), headers=mint(
        account.account_id, account.host))
    assert refused.json()["error"]["code"] == "start_in_past"

    again = await client.post("/meetings", json=body(account), headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["meeting"]["id"] == first.json()["meeting"]["id"]
    assert len(scheduled(harness)) == 1


async def test_a_first_request_the_rules_refuse_does_not_use_up_its_key(
    client, harness, mint, account  # noqa: F811
) -> None:
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    refused = await client.post("/meetings", json=body(account, duration_minutes=0),
                                headers=headers)
    assert refused.status_code == 422
    fixed = await client.post("/meetings", json=body(account), headers=headers)
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers


async def test_a_retry_racing_the_first_request_finds_its_meeting(
    client, harness, mint, account  # noqa: F811
) -> None:
    """The first request stored the meeting but its key's claim was lost (or pruned): the
    retry meets the taken id and answers with that meeting."""
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": KEY}
    first = await client.post("/meetings", json=body(account), headers=headers)
    harness.collection("idempotency_keys").docs.clear()
    again = await client.post("/meetings", json=body(account), headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["meeting"]["id"] == first.json()["meeting"]["id"]
    assert len(scheduled(harness)) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "tab\tinside"])
async def test_a_malformed_key_is_a_validation_error(client, harness, mint, account,  # noqa: F811
                                                     key: str) -> None:
    headers = {**mint(account.account_id, account.host), "Idempotency-Key": key}
    response = await client.post("/meetings", json=body(account), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert harness.collection("meetings").docs == {}
