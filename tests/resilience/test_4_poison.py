"""Poison events: dead-lettered with provenance, the consumers go on, and a replay after the
fix delivers them once.

Two kinds. (1) Events no consumer can ever decode (bytes that are no JSON; JSON that is no
valid MeetingScheduled), published raw on the meetings topic: every consumer group copies
them to ``<topic>.dlq`` with the source topic/partition/offset, its group and the error,
and moves on. (2) Valid meetings a bad deploy of records rejects (chaos/buggy_records.py):
dead-lettered by records only; after records is started normally again (the fix), the
kit's bounded replay command (``python -m convene_kit.dlq replay``) re-publishes exactly
those dead letters and each meeting gets one timeline entry, while notifications, which
handled them the first time, sends no second invitation."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from chaos import buggy_records
from chaos.load import new_run, outcome, post_meetings, stored_meetings, timeline_ids
from chaos.services import Supervised
from convene_kit.dlq import topic_partitions
from convene_schemas.envelope import new_event_id, to_kafka_message
from support import REPO_ROOT, endpoint, wait_for
from support.skeleton import publish, scheduled_event

RESILIENCE_DIR = Path(__file__).resolve().parent


async def dead_letters(topic: str) -> list:
    """Every record of ``topic`` up to its current end."""
    bootstrap = endpoint("CONVENE_KAFKA_BOOTSTRAP")
    partitions = await topic_partitions(bootstrap, topic)  # the kit's (describe_topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp, first in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, first)  # explicit offsets, as the kit's replay reads
        found = []
        deadline = time.monotonic() + 60
        while True:
            positions = [await consumer.position(tp) for tp in tps]
            if all(at >= ends[tp] for at, tp in zip(positions, tps, strict=True)):
                break
            assert time.monotonic() < deadline, f"could not read {topic}"
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(records)
        return found
    finally:
        await consumer.stop()


def headers(record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers}


def runs_of(offsets: list[int]) -> list[tuple[int, int]]:
    """Consecutive offsets as (first, last) ranges, so a replay takes nothing else."""
    ranges: list[tuple[int, int]] = []
    for offset in sorted(offsets):
        if ranges and offset == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], offset)
        else:
            ranges.append((offset, offset))
    return ranges


@pytest.mark.timeout(1800)
async def test_poison_goes_to_the_dlq_and_a_replay_after_the_fix_delivers_it_once(
    supervised: Supervised, account, profile, rng: random.Random, figures
) -> None:
    stack = supervised.stack
    topic = stack.topic("meetings.events.v1")
    dlq = f"{topic}.dlq"
    bad = new_run(stack, account, "poison", rng)
    good = new_run(stack, account, "healthy", rng)
    records_group, notifications_group = f"{stack.prefix}records", f"{stack.prefix}notifications"

    # (1) undecodable and invalid events, raw on the meetings topic
    template = to_kafka_message(scheduled_event(account, "poison-template"), event_id=new_event_id())
    raw = {"undecodable": b"\xff\xfe this is no JSON", "validation_failed": b'{"schema_version": 1}'}
    published = {}
    for kind, value in raw.items():
        published[kind] = await publish(stack, "meetings.events.v1", f"poison-{kind}".encode(),
                                        value, template.headers)

    # (2) records deployed with a bug that rejects the bad run's meetings
    await asyncio.to_thread(supervised.restart, "records", {
        buggy_records.MARKER_VARIABLE: bad.tag, "PYTHONPATH": str(RESILIENCE_DIR)},
        buggy_records.MODULE)
    await post_meetings(stack, account, bad, profile.poison_meetings, 5, rng)
    bad_ids = {str(doc["_id"]) for doc in await stored_meetings(stack, bad)}

    async def rejected_by_records() -> list | None:
        letters = [r for r in await dead_letters(dlq)
                   if headers(r).get("dlq_consumer_group") == records_group
                   and headers(r).get("dlq_reason") == "rejected"
                   and r.key.decode() in bad_ids]
        return letters if {r.key.decode() for r in letters} >= bad_ids else None

    rejected = await wait_for(rejected_by_records, "records to dead-letter the bad meetings",
                              timeout=120, interval=1)
    # the consumers go on: meetings scheduled after the poison arrive everywhere
    await post_meetings(stack, account, good, profile.poison_meetings, 5, rng)
    healthy = await outcome(stack, account, good, cap_s=profile.drain_cap_s)

    letters = await dead_letters(dlq)
    provenance = {}
    for kind, (partition, offset) in published.items():
        for group in (records_group, notifications_group):
            found = [headers(r) for r in letters
                     if headers(r).get("dlq_consumer_group") == group
                     and headers(r).get("dlq_source_offset") == str(offset)
                     and headers(r).get("dlq_source_partition") == str(partition)]
            every = [(h.get("dlq_consumer_group"), h.get("dlq_source_partition"),
                      h.get("dlq_source_offset"), h.get("dlq_reason"))
                     for h in map(headers, letters)]
            assert len(found) == 1, (f"{group} dead letters of the {kind} event at "
                                     f"{partition}/{offset}: {found}; every letter: {every}")
            (h,) = found
            assert h["dlq_source_topic"] == topic and h["dlq_reason"] == kind, h
            assert h["dlq_error_class"] and h["dlq_error_message"] and h["dlq_failed_at"], h
            provenance[f"{kind}/{group.removeprefix(stack.prefix)}"] = {
                k: h[k] for k in ("dlq_reason", "dlq_error_class", "dlq_source_partition",
                                  "dlq_source_offset")}
    for record in rejected:
        h = headers(record)
        assert h["dlq_source_topic"] == topic and h["dlq_error_class"] == "MessageRejected", h
        assert "simulated bug" in h["dlq_error_message"], h
    timeline_before = await timeline_ids(stack, account, bad)
    assert not (set(timeline_before) & bad_ids), "the buggy records projected a bad meeting"

    # the fix, then the bounded replay of exactly records' dead letters of those meetings
    await asyncio.to_thread(supervised.restart, "records")
    by_partition: dict[int, list[int]] = {}
    for record in rejected:
        by_partition.setdefault(record.partition, []).append(record.offset)
    replayed = 0
    for partition, offsets in sorted(by_partition.items()):
        for first, last in runs_of(offsets):
            result = subprocess.run(
                [sys.executable, "-m", "convene_kit.dlq", "replay", "--bootstrap",
                 endpoint("CONVENE_KAFKA_BOOTSTRAP"), "--dlq-topic", dlq, "--partition",
                 str(partition), "--from-offset", str(first), "--to-offset", str(last)],
                cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
            assert result.returncode == 0, result.stdout + result.stderr
            replayed += result.stdout.count('"action": "replayed"')
    after = await outcome(stack, account, bad, cap_s=profile.drain_cap_s)
    figures["poison"] = {
        "raw_poison_events": len(raw), "dead_letters_with_provenance": provenance,
        "rejected_meetings": len(bad_ids), "dead_letters_of_records": len(rejected),
        "replayed": replayed, "healthy_meetings_after_poison": healthy.figures(),
        "after_replay": after.figures()}

    assert healthy.lost_invitations == healthy.lost_timeline == 0, healthy.figures()
    assert replayed == len(rejected) >= len(bad_ids) > 0
    assert after.lost_timeline == 0 and after.extra_timeline == 0, after.figures()
    assert after.lost_invitations == 0 and after.extra_invitations == 0, after.figures()
