"""The local Kafka broker with the client settings every service uses: explicit topics, an
idempotent producer with acks=all, consumer groups that commit only after processing."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from support import endpoint, unique, wait_for


async def create_topic(name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def partition_count(name: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"))
    await admin.start()
    try:
        [description] = await admin.describe_topics([name])
        return len(description["partitions"])
    finally:
        await admin.close()


def producer_broker() -> KafkaBroker:
    return KafkaBroker(endpoint("CONVENE_KAFKA_BOOTSTRAP"), enable_idempotence=True, acks="all")


class Deliveries:
    """Records what one consumer instance received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict] = []

    async def saw(self, body: bytes) -> bool:
        return body in self.bodies


def consumer_app(topic: str, group: str, deliveries: Deliveries, *, fail: bool,
                 ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR) -> KafkaBroker:
    broker = KafkaBroker(endpoint("CONVENE_KAFKA_BOOTSTRAP"))

    @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest", ack_policy=ack_policy)
    async def handle(body: bytes, msg: KafkaMessage) -> None:
        deliveries.bodies.append(body)
        deliveries.headers.append(dict(msg.raw_message.headers))
        if fail:
            raise RuntimeError("handler failed on purpose")

    return broker


async def test_topic_is_created_with_explicit_partitions() -> None:
    topic = unique("it-topic")
    await create_topic(topic, partitions=3)
    assert await partition_count(topic) == 3


async def test_idempotent_producer_round_trips_keyed_messages_with_headers() -> None:
    topic, group = unique("it-roundtrip"), unique("group")
    await create_topic(topic, partitions=2)
    async with producer_broker() as producer:
        for i in range(20):
            await producer.publish(f"m{i}".encode(), topic, key=f"k{i % 4}".encode(),
                                   headers={"ce_id": f"id-{i}"})
    deliveries = Deliveries()
    async with consumer_app(topic, group, deliveries, fail=False) as consumer:
        await consumer.start()
        await wait_for(lambda: _count(deliveries, 20), "20 messages to be consumed")
    assert sorted(deliveries.bodies) == sorted(f"m{i}".encode() for i in range(20))
    assert {h["ce_id"] for h in deliveries.headers} == {f"id-{i}".encode() for i in range(20)}


async def _committed_offset_is(group: str, topic: str, offset: int) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return any(tp.topic == topic and meta.offset == offset for tp, meta in offsets.items())


async def _count(deliveries: Deliveries, n: int) -> bool:
    return len(deliveries.bodies) >= n


async def test_failed_message_is_redelivered_after_restart_and_processed_one_is_not() -> None:
    topic, group = unique("it-commit"), unique("group")
    await create_topic(topic, partitions=1)
    async with producer_broker() as producer:
        await producer.publish(b"first", topic, key=b"k")

    # Consumer 1 fails on the message: nothing may be committed.
    failing = Deliveries()
    async with consumer_app(topic, group, failing, fail=True) as consumer:
        await consumer.start()
        await wait_for(lambda: failing.saw(b"first"), "the first delivery")

    # Consumer 2, same group, after a restart: sees the same message again and succeeds.
    second = Deliveries()
    async with consumer_app(topic, group, second, fail=False) as consumer:
        await consumer.start()
        await wait_for(lambda: second.saw(b"first"), "redelivery of the uncommitted message")

    # Consumer 3: the processed message is committed, so only the new one arrives.
    async with producer_broker() as producer:
        await producer.publish(b"second", topic, key=b"k")
    third = Deliveries()
    async with consumer_app(topic, group, third, fail=False) as consumer:
        await consumer.start()
        await wait_for(lambda: third.saw(b"second"), "the message published after the commit")
    assert third.bodies == [b"second"]


async def test_ack_policy_ack_commits_even_when_the_handler_raises() -> None:
    """Pins a FastStream 0.7.8 behaviour the runtime kit must work around: AckPolicy.ACK
    acknowledges (commits) a message whose handler raised, so that message is lost to the group."""
    topic, group = unique("it-ack-trap"), unique("group")
    await create_topic(topic, partitions=1)
    async with producer_broker() as producer:
        await producer.publish(b"lost", topic, key=b"k")
    failing = Deliveries()
    async with consumer_app(topic, group, failing, fail=True, ack_policy=AckPolicy.ACK) as consumer:
        await consumer.start()
        await wait_for(lambda: failing.saw(b"lost"), "the first delivery")
        await wait_for(lambda: _committed_offset_is(group, topic, 1), "the commit after the failure")

    async with producer_broker() as producer:
        await producer.publish(b"marker", topic, key=b"k")
    later = Deliveries()
    async with consumer_app(topic, group, later, fail=False) as consumer:
        await consumer.start()
        await wait_for(lambda: later.saw(b"marker"), "the marker message")
    assert b"lost" not in later.bodies
