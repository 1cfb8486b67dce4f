"""Partition lanes: concurrent across partitions, in order within one, commits only of what
was processed, a rewind that skips nothing, revocation that finishes the record in hand."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from convene_kit.lanes import Lanes
from convene_kit.metrics import CONSUMER_LAG

TOPIC = "t.events.v1"


class FakeKafkaConsumer:
    """What lanes use of an AIOKafkaConsumer: commit and seek, recorded."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.highwaters: dict[TopicPartition, int] = {}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp)

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def last_commits(self) -> dict[TopicPartition, int]:
        latest: dict[TopicPartition, int] = {}
        for commit in self.commits:
            latest.update(commit)
        return latest

    # what a partition assigned again is re-read with
    assigned: set[TopicPartition] | None = None  # None: every partition
    failing_committed = 0  # how many committed() calls fail first (Kafka unreachable)

    def assignment(self) -> set[TopicPartition]:
        return self.assigned if self.assigned is not None else {TopicPartition(TOPIC, p)
                                                                for p in range(8)}

    async def committed(self, tp: TopicPartition) -> int | None:
        if self.failing_committed:
            self.failing_committed -= 1
            raise ConnectionError("Kafka is unreachable")
        return self.last_commits().get(tp)

    async def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.seeks.append((tp, 0))


def record(partition: int, offset: int) -> ConsumerRecord:
    return ConsumerRecord(topic=TOPIC, partition=partition, offset=offset, timestamp=0,
                          timestamp_type=0, key=b"k", value=b"v", checksum=None,
                          serialized_key_size=1, serialized_value_size=1, headers=())


async def until(condition: Any, timeout_s: float = 2.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout_s)


async def test_a_slow_partition_does_not_hold_up_another_and_each_keeps_its_order() -> None:
    release = asyncio.Event()
    seen: list[tuple[int, int]] = []

    async def process(r: ConsumerRecord) -> bool:
        if r.partition == 0:
            await release.wait()
        seen.append((r.partition, r.offset))
        return True

    lanes, consumer = Lanes(process, commit_interval_s=0.01), FakeKafkaConsumer()
    for offset in range(3):
        await lanes.dispatch(consumer, record(0, offset))
    for offset in range(5):
        await lanes.dispatch(consumer, record(1, offset))
    await until(lambda: len(seen) == 5)
    assert seen == [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4)], "partition 1 waited for 0"
    release.set()
    await until(lambda: len(seen) == 8)
    assert [o for p, o in seen if p == 0] == [0, 1, 2]
    await until(lambda: consumer.last_commits() == {TopicPartition(TOPIC, 0): 3,
                                                 TopicPartition(TOPIC, 1): 5})
    await lanes.stop()


async def test_commits_are_batched_and_never_pass_an_unprocessed_record() -> None:
    gate = asyncio.Event()

    async def process(r: ConsumerRecord) -> bool:
        if (r.partition, r.offset) == (0, 2):
            await gate.wait()
        return True

    lanes, consumer = Lanes(process, commit_interval_s=0.02), FakeKafkaConsumer()
    held, other = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    for offset in range(5):
        await lanes.dispatch(consumer, record(0, offset))
    await until(lambda: consumer.last_commits().get(held) == 2)
    # Barrier: three later commit rounds, each proven by a record of another partition
    # committed after it, while offset 2 is still in hand.
    for offset in range(3):
        await lanes.dispatch(consumer, record(1, offset))
        await until(lambda offset=offset: consumer.last_commits().get(other) == offset + 1)
    assert consumer.last_commits()[held] == 2
    assert [c for c in consumer.commits if held in c] == [{held: 2}], \
        "an unchanged position was committed again"
    gate.set()
    await until(lambda: consumer.last_commits()[TopicPartition(TOPIC, 0)] == 5)
    await lanes.stop()


async def test_a_record_to_retry_later_rewinds_its_lane_and_nothing_overtakes_it() -> None:
    attempts: dict[int, int] = {}
    done: list[int] = []

    async def process(r: ConsumerRecord) -> bool:
        attempts[r.offset] = attempts.get(r.offset, 0) + 1
        if r.offset == 1 and attempts[1] == 1:
            return False  # e.g. the store was down past the retry budget
        done.append(r.offset)
        return True

    lanes, consumer = Lanes(process, commit_interval_s=0.01), FakeKafkaConsumer()
    for offset in range(4):  # 2 and 3 were prefetched behind 1
        await lanes.dispatch(consumer, record(0, offset))
    await until(lambda: consumer.seeks == [(TopicPartition(TOPIC, 0), 1)])
    # The rewind empties the lane's queue in the same step as the seek: 2 and 3 are gone.
    await until(lambda: consumer.last_commits() == {TopicPartition(TOPIC, 0): 1})
    assert done == [0], "a record behind the rewound one was processed before it"
    for offset in range(1, 4):  # the partition is read again from the rewound offset
        await lanes.dispatch(consumer, record(0, offset))
    await until(lambda: done == [0, 1, 2, 3])
    await until(lambda: consumer.last_commits() == {TopicPartition(TOPIC, 0): 4})
    await lanes.stop()


async def test_a_revoked_partition_finishes_the_record_in_hand_and_commits_it() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    done: list[int] = []

    async def process(r: ConsumerRecord) -> bool:
        started.set()
        await release.wait()
        done.append(r.offset)
        return True

    lanes, consumer = Lanes(process, commit_interval_s=60, depth=1), FakeKafkaConsumer()
    await lanes.dispatch(consumer, record(0, 0))
    await started.wait()  # 0 in hand
    await lanes.dispatch(consumer, record(0, 1))  # 1 fills the lane (depth 1)
    blocked = asyncio.create_task(lanes.dispatch(consumer, record(0, 2)))
    revoking = asyncio.create_task(lanes.on_partitions_revoked([TopicPartition(TOPIC, 0)]))
    # Barrier: the revocation emptied the lane's queue (the blocked dispatch went through),
    # the step right before it waits for the record in hand.
    await asyncio.wait_for(blocked, timeout=2)
    assert not revoking.done(), "the partition was given up with a record in hand"
    release.set()
    await revoking
    assert done == [0], "records queued behind were processed after the revocation"
    assert consumer.last_commits() == {TopicPartition(TOPIC, 0): 1}
    await lanes.stop()


async def test_stopping_takes_no_new_records_and_cancels_one_past_the_grace() -> None:
    started = asyncio.Event()

    async def process(r: ConsumerRecord) -> bool:
        started.set()
        await asyncio.sleep(3600)
        return True

    lanes, consumer = Lanes(process, commit_interval_s=60, grace_s=0.05), FakeKafkaConsumer()
    await lanes.dispatch(consumer, record(0, 7))
    await started.wait()  # 7 in hand
    await asyncio.wait_for(lanes.stop(), 2)
    await lanes.dispatch(consumer, record(0, 8))  # ignored: left for the next owner
    assert consumer.commits == [], "a record that never finished was committed"


async def test_each_lane_shows_its_lag_and_a_revoked_one_stops_showing_it() -> None:
    async def process(r: ConsumerRecord) -> bool:
        return True

    lanes, consumer = Lanes(process, commit_interval_s=60), FakeKafkaConsumer()
    tp = TopicPartition(TOPIC, 7)
    consumer.highwaters[tp] = 10  # the broker holds offsets 0..9
    for offset in range(4):
        await lanes.dispatch(consumer, record(7, offset))
    await until(lambda: all(lane.committable == 4 for lane in lanes._lanes.values()))
    await lanes.commit()

    def lag() -> float | None:
        return registry_value("convene_consumer_lag", {"topic": TOPIC, "partition": "7"})

    assert lag() == 6  # 0..3 processed, 4..9 still to come
    await lanes.on_partitions_revoked([tp])
    assert lag() is None
    await lanes.stop()


def registry_value(name: str, labels: dict[str, str]) -> float | None:
    for family in CONSUMER_LAG.collect():
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


async def test_a_record_fetched_before_a_revocation_is_not_processed_ahead_of_those_dropped(
) -> None:
    """The lane is stuck on 1 (a Kafka publish in a network fault) with 2 and 3 queued; the
    group rebalances: the revocation drops 2 and 3 and cancels 1 past the grace. The fetch
    loop still holds 4, fetched before, and hands it over during the rebalance or after the
    partition came back. Then the fetcher re-reads from the commit (1). Every record is
    processed and nothing is committed past one that was not (before: 4 opened a new lane,
    which took 1-3 for repeats and committed 5: 1-3 lost)."""
    tp = TopicPartition(TOPIC, 0)
    stuck = asyncio.Event()
    processed: list[int] = []

    async def process(r: ConsumerRecord) -> bool:
        if r.offset == 1 and not stuck.is_set():
            stuck.set()
            await asyncio.sleep(3600)
        processed.append(r.offset)
        return True

    for handed_over in ("during the rebalance", "after the partition came back"):
        processed.clear()
        stuck.clear()
        lanes = Lanes(process, commit_interval_s=60, grace_s=0.05)
        consumer = FakeKafkaConsumer()
        await lanes.dispatch(consumer, record(0, 0))
        await until(lambda: processed == [0])
        await lanes.commit()
        for offset in (1, 2, 3):
            await lanes.dispatch(consumer, record(0, offset))
        await stuck.wait()
        consumer.assigned = set()
        await lanes.on_partitions_revoked([tp])
        if handed_over == "during the rebalance":
            await lanes.dispatch(consumer, record(0, 4))  # the fetch loop's record in hand
        consumer.assigned = {tp}
        await lanes.on_partitions_assigned([tp])
        if handed_over == "after the partition came back":
            await lanes.dispatch(consumer, record(0, 4))
            assert consumer.seeks == [(tp, 1)], "not re-read from the commit"
        position = 1  # the fetcher reads from the committed offset, and from a seek's
        while position <= 5:
            seeks = len(consumer.seeks)
            await lanes.dispatch(consumer, record(0, position))
            position = consumer.seeks[-1][1] if len(consumer.seeks) > seeks else position + 1
        await until(lambda: processed[-1:] == [5])
        await lanes.commit()
        assert processed == [0, 1, 2, 3, 4, 5], handed_over
        assert consumer.last_commits() == {tp: 6}
        await lanes.stop()


async def test_a_partition_assigned_again_waits_for_kafka_to_tell_its_commit() -> None:
    tp = TopicPartition(TOPIC, 0)
    processed: list[int] = []

    async def process(r: ConsumerRecord) -> bool:
        processed.append(r.offset)
        return True

    lanes, consumer = Lanes(process, commit_interval_s=60), FakeKafkaConsumer()
    await lanes.on_partitions_revoked([tp])
    await lanes.on_partitions_assigned([tp])
    consumer.failing_committed = 2
    await asyncio.wait_for(lanes.dispatch(consumer, record(0, 7)), timeout=5)
    assert consumer.failing_committed == 0
    assert consumer.seeks == [(tp, 0)]  # nothing committed yet: from the beginning
    assert processed == []
    await lanes.stop()
