"""`python -m convene_schemas.topics ensure` against a real Kafka broker.

Needs the local infrastructure (`make infra-up`); the broker is CONVENE_KAFKA_BOOTSTRAP
(default 127.0.0.1:19092). Every test uses a random topic-name prefix, so runs never
collide, and deletes its topics afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from convene_schemas.registry import load_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

BOOTSTRAP = os.environ.get("CONVENE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


def _require_kafka() -> None:
    host, port = BOOTSTRAP.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"Kafka is not reachable at {BOOTSTRAP} ({exc}): run `make infra-up`")


def ensure(prefix: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as the Makefile and operators do."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "convene_schemas.topics",
            "ensure",
            "--bootstrap",
            BOOTSTRAP,
            "--prefix",
            prefix,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def admin() -> AsyncIterator[AIOKafkaAdminClient]:
    _require_kafka()
    client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def prefix(admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    value = f"it-{uuid.uuid4().hex[:10]}."
    yield value
    ours = [t for t in await admin.list_topics() if t.startswith(value)]
    if ours:
        await admin.delete_topics(ours)


def expected_topics(prefix: str) -> dict[str, tuple[int, str]]:
    """{prefixed topic name: (partitions, retention.ms)} for every topic and DLQ."""
    result = {}
    for topic in load_registry().topics:
        result[prefix + topic.name] = (topic.partitions, str(topic.retention_ms))
        result[prefix + topic.dlq.topic] = (topic.dlq.partitions, str(topic.dlq.retention_ms))
    return result


async def partitions_of(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition counts of ``names``; polls (bounded) while a just-created topic's metadata
    has not reached the broker's cache yet."""
    for _ in range(50):
        found = {
            t["topic"]: len(t["partitions"])
            for t in await admin.describe_topics(names)
            if not t["error_code"]
        }
        if set(found) == set(names):
            break
        await asyncio.sleep(0.1)
    return found


async def retention_of(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, str]:
    responses = await admin.describe_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, name, configs={"retention.ms": None})
            for name in names
        ]
    )
    result = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            for entry in resource["config_entries"]:
                if entry["config_names"] == "retention.ms":
                    result[resource["resource_name"]] = entry["config_value"]
    return result


def _topic_of(line: str) -> str:
    """The topic name of one output line: ``<outcome> <topic>  (<detail>)``."""
    return line.split("  (")[0].split()[-1]


async def wait_until_gone(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    for _ in range(100):
        if not names & set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"topics {names} were not deleted within 10 s")


async def test_ensure_creates_every_topic_and_dlq_then_changes_nothing(
    admin: AIOKafkaAdminClient, prefix: str
) -> None:
    expected = expected_topics(prefix)

    first = ensure(prefix)
    assert first.returncode == 0, first.stdout + first.stderr
    created = [line.split()[1] for line in first.stdout.splitlines() if line.startswith("created")]
    assert sorted(created) == sorted(expected), first.stdout

    names = sorted(expected)
    assert await partitions_of(admin, names) == {name: p for name, (p, _) in expected.items()}
    assert await retention_of(admin, names) == {name: r for name, (_, r) in expected.items()}

    second = ensure(prefix)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = second.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(expected), second.stdout
    assert lines[-1] == f"nothing changed: all {len(expected)} topics match the registry"


async def test_ensure_repairs_too_few_partitions_and_reports_too_many(
    admin: AIOKafkaAdminClient, prefix: str
) -> None:
    meetings, notifications = f"{prefix}meetings.events.v1", f"{prefix}notifications.events.v1"
    await admin.create_topics(
        [
            NewTopic(meetings, 2, 1, topic_configs={"retention.ms": "60000"}),
            NewTopic(notifications, 9, 1),
        ]
    )

    dry = ensure(prefix, "--dry-run")
    assert dry.returncode == 1, dry.stdout + dry.stderr
    dry_lines = {_topic_of(line): line for line in dry.stdout.splitlines()[:-1]}
    assert dry_lines[meetings].startswith("would change"), dry.stdout
    assert "partitions 2 -> 6; retention.ms 60000 -> 2592000000" in dry_lines[meetings]
    assert dry_lines[f"{prefix}records.events.v1"].startswith("would create")
    assert (await partitions_of(admin, [meetings]))[meetings] == 2, "a dry run changed the broker"

    run = ensure(prefix)
    assert run.returncode == 1, "a topic with more partitions than declared must fail the command"
    by_topic = {_topic_of(line): line for line in run.stdout.splitlines()[:-1]}
    assert by_topic[meetings].startswith("changed") and "partitions 2 -> 6" in by_topic[meetings]
    assert (
        by_topic[notifications].startswith("error")
        and "has 9 partitions" in by_topic[notifications]
    )
    assert (await partitions_of(admin, [meetings]))[meetings] == 6
    assert (await retention_of(admin, [meetings]))[meetings] == "2592000000"

    await admin.delete_topics([notifications])
    await wait_until_gone(admin, {notifications})
    final = ensure(prefix)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"created       {notifications}" in final.stdout
    again = ensure(prefix)
    assert again.stdout.splitlines()[-1].startswith("nothing changed"), again.stdout
