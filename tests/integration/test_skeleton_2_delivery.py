"""At-least-once delivery made safe: duplicates change nothing; bad messages go to the DLQ
with their provenance, consumers move on, and the replay command moves a record back once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import httpx
from convene_kit.testing import read_records, topic_size
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.registry import load_registry
from support import endpoint, wait_for
from support.mail import mails
from support.services import Stack
from support.skeleton import (
    Account,
    assert_one_email_and_one_entry,
    auth,
    events_on,
    meeting_request,
    publish,
    scheduled_event,
    timeline_entry,
    wait_processed,
)

BOOTSTRAP_VAR = "CONVENE_KAFKA_BOOTSTRAP"
CONSUMERS = next(t.consumers for t in load_registry().topics if t.name == "meetings.events.v1")
"""Every service consuming meetings.events.v1 (the registry's consumers: each dead-letters
a bad message in its own group)."""


async def test_the_same_meeting_scheduled_twice_sends_one_email_and_one_timeline_entry(
    stack: Stack, account: Account
) -> None:
    title = f"Twice-{uuid.uuid4().hex[:8]}"
    event = scheduled_event(account, title)
    record = to_kafka_message(event, event_id=new_event_id())
    for _ in range(2):  # the same message, the same event id
        partition, offset = await publish(stack, "meetings.events.v1", record.key, record.value,
                                          record.headers)
    await wait_processed(stack, partition, offset, "process both copies")
    await assert_one_email_and_one_entry(stack, account, title, event.meeting_id)


async def test_bad_messages_are_dead_lettered_and_the_next_good_one_is_processed(
    stack: Stack, account: Account
) -> None:
    good_title = f"AfterBad-{uuid.uuid4().hex[:8]}"
    good = scheduled_event(account, good_title)
    template = to_kafka_message(good, event_id=new_event_id())
    marker = uuid.uuid4().hex.encode()
    malformed = b'{"not json' + marker
    newer_major = [(k, b"2" if k == "ce_dataversion" else v) for k, v in template.headers]
    partition, malformed_offset = await publish(stack, "meetings.events.v1", template.key,
                                                malformed, template.headers)
    _, unknown_offset = await publish(stack, "meetings.events.v1", template.key, template.value,
                                      newer_major)
    await publish(stack, "meetings.events.v1", template.key, template.value, template.headers)

    await wait_for(lambda: mails(good_title, account.contact["email"]),
                   "the good event after the bad ones to be processed", timeout=30)
    await wait_for(lambda: timeline_entry(stack, account, good.meeting_id),
                   "the good event on the timeline", timeout=30)

    dlq = stack.topic("meetings.events.v1.dlq")

    async def dead_letters() -> list | None:
        records = await read_records(endpoint(BOOTSTRAP_VAR), dlq, expected=1)
        ours = [r for r in records
                if dict(r.headers).get("dlq_source_partition") == str(partition).encode()
                and dict(r.headers).get("dlq_source_offset") in (str(malformed_offset).encode(),
                                                                 str(unknown_offset).encode())]
        # two bad messages x every service consuming the topic
        return ours if len(ours) >= 2 * len(CONSUMERS) else None

    letters = await wait_for(dead_letters, "both bad messages on the DLQ from every consumer")
    by_offset: dict[bytes, list] = {}
    for letter in letters:
        by_offset.setdefault(dict(letter.headers)["dlq_source_offset"], []).append(letter)
    for offset, reason in ((malformed_offset, b"undecodable"), (unknown_offset, b"unknown_version")):
        group_letters = by_offset[str(offset).encode()]
        assert {dict(r.headers)["dlq_consumer_group"] for r in group_letters} == {
            f"{stack.prefix}{service}".encode() for service in CONSUMERS}
        for letter in group_letters:
            headers = dict(letter.headers)
            assert headers["dlq_source_topic"] == stack.topic("meetings.events.v1").encode()
            assert headers["dlq_reason"] == reason
            assert headers["dlq_error_class"] and headers["dlq_error_message"]
            assert headers["dlq_source_partition"].isdigit()
            assert headers["ce_type"] == b"com.convene.meetings.MeetingScheduled"  # kept as is
    [malformed_letter, *_] = by_offset[str(malformed_offset).encode()]
    assert malformed_letter.value == malformed  # the original bytes

    source = stack.topic("meetings.events.v1")
    before = await topic_size(endpoint(BOOTSTRAP_VAR), source)
    replay = [sys.executable, "-m", "convene_kit.dlq", "replay", "--bootstrap",
              endpoint(BOOTSTRAP_VAR), "--dlq-topic", dlq, "--partition",
              str(malformed_letter.partition), "--from-offset", str(malformed_letter.offset),
              "--to-offset", str(malformed_letter.offset)]
    dry = subprocess.run([*replay, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert await topic_size(endpoint(BOOTSTRAP_VAR), source) == before
    done = subprocess.run(replay, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert await topic_size(endpoint(BOOTSTRAP_VAR), source) == before + 1
    replayed = [r for r in await read_records(endpoint(BOOTSTRAP_VAR), source, expected=before + 1)
                if r.value == malformed]
    assert len(replayed) == 2  # the original and exactly one replayed copy
    assert not any(k.startswith("dlq_") for k, _ in replayed[-1].headers)


async def test_a_post_retried_with_its_idempotency_key_schedules_and_sends_once(
    stack: Stack, account: Account
) -> None:
    """A gateway that lost the answer retries, even while the first try is still running:
    every answer is the one meeting, one MeetingScheduled is published, one invitation
    sent, one timeline entry made."""
    title = f"Keyed-{uuid.uuid4().hex[:8]}"
    body = meeting_request(account, title, "retried")
    headers = {**auth(account.host_token), "Idempotency-Key": str(uuid.uuid4())}

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
            return await client.post("/meetings", json=body, headers=headers)

    async def first() -> httpx.Response | None:  # until meetings has the read models
        response = await post()
        return None if response.status_code == 422 else response

    answers = [await wait_for(first, "meetings to accept the meeting", timeout=30)]
    answers += await asyncio.gather(post(), post())  # two retries racing each other
    answers.append(await post())
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    [meeting_id] = {a.json()["meeting"]["id"] for a in answers}
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None] + ["true"] * 3

    entry = await wait_for(lambda: timeline_entry(stack, account, meeting_id),
                           "the timeline entry", timeout=30)
    assert entry is not None
    await wait_for(lambda: len(mails(title, account.contact["email"])) == 1 or None,
                   "the invitation", timeout=30)
    records = await events_on(stack, "meetings.events.v1", meeting_id)
    assert [dict(r.headers)["ce_type"] for r in records] == [
        b"com.convene.meetings.MeetingScheduled"]
    await assert_one_email_and_one_entry(stack, account, title, meeting_id)
