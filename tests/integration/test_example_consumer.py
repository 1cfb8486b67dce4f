"""The example consumer (examples/meeting-watcher) as another team runs it: installed in an
environment of its own that holds the published convene-schemas package and a Kafka client
and nothing else of Convene's, started as a process against the real Kafka, reading the
meetings topic in its own consumer group."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from convene_kit.testing import committed_offset, create_topics
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.meetings import Attendee, MeetingScheduled, MeetingsEvent, ical_uid_for
from support import REPO_ROOT, endpoint, wait_for
from support.services import Stack
from support.skeleton import Account, committed_past, events_on, publish, schedule

EXAMPLE = REPO_ROOT / "examples" / "meeting-watcher"
WATCHER = "meeting-watcher"  # the service name in the stack's group naming: <prefix>meeting-watcher


@pytest.fixture(scope="module")
def watcher_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of an environment holding the example and what it declares, built offline
    from uv's cache: convene-schemas with its kafka extra (aiokafka) at the workspace's locked
    versions, as a service's image gets it, then the example itself, then a check that
    everything the example declares is there."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "run the tests through uv (make test-integration)"
    venv = tmp_path_factory.mktemp("watcher-env") / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env.update(UV_OFFLINE="1", UV_NO_CONFIG="1", UV_NO_PROGRESS="1", UV_LINK_MODE="hardlink",
               UV_PYTHON_DOWNLOADS="never", UV_PROJECT_ENVIRONMENT=str(venv))
    python = venv / "bin" / "python"
    for step in (
        [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--package", "convene-schemas",
         "--extra", "kafka", "--python", sys.executable, "--quiet"],
        [uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(EXAMPLE)],
        [uv, "pip", "check", "--quiet", "--python", str(python)],
    ):
        done = subprocess.run(step, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (f"{' '.join(step[1:3])} failed (has `make install` filled "
                                      f"uv's cache?):\n{done.stdout}{done.stderr}")
    return python


class Watcher:
    """The example running as a process: ``python -I -m meeting_watcher``, with no
    environment of Convene's (no PYTHONPATH, no CONVENE_* variables), logging JSON lines."""

    def __init__(self, python: Path, workdir: Path, topic_prefix: str) -> None:
        self.python = python
        self.workdir = workdir
        self.topic_prefix = topic_prefix
        self.group = f"{topic_prefix}{WATCHER}"
        self.database = workdir / "watcher.sqlite3"
        self.log_path = workdir / "watcher.log"
        self.process: subprocess.Popen | None = None

    @property
    def topic(self) -> str:
        return f"{self.topic_prefix}{MeetingsEvent.TOPIC}"

    def start(self) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.python), "-I", "-m", "meeting_watcher",
                 "--bootstrap", endpoint("CONVENE_KAFKA_BOOTSTRAP"), "--group", self.group,
                 "--topic-prefix", self.topic_prefix, "--database", str(self.database)],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def stop(self) -> int | None:
        """SIGTERM: the watcher finishes its batch, commits and leaves the group."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"the watcher ignored SIGTERM:\n{self.log_text()}") from None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logged(self, message: str) -> list[dict]:
        """The JSON log lines with this message (a traceback's lines are not JSON)."""
        lines = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == message:
                lines.append(entry)
        return lines

    def copies_of(self, event_id: str) -> list[dict]:
        """Every delivery of one event the watcher logged, in order."""
        return [e for e in self.logged("meeting event") if e["event_id"] == event_id]

    def alive(self) -> None:
        assert self.running(), f"the watcher exited:\n{self.log_text()[-3000:]}"

    def query(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.database) as db:
            return db.execute(sql, args).fetchall()


async def rewind(group: str, topic: str, partition: int, offset: int) -> None:
    """Commit ``offset`` for ``group`` on one partition, as if its member had died after
    processing the records from there on but before committing them."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


def header(record, name: str) -> bytes | None:
    return dict(record.headers).get(name)


def test_the_watcher_environment_holds_convene_schemas_and_nothing_else_of_convene(
    watcher_python: Path,
) -> None:
    listed = subprocess.run(
        [str(watcher_python), "-I", "-c", "import importlib.metadata as m, json; "
         "print(json.dumps(sorted(d.metadata['Name'] for d in m.distributions())))"],
        capture_output=True, text=True, check=True)
    installed = set(json.loads(listed.stdout))
    assert {name for name in installed if name.startswith("convene")} == {"convene-schemas"}
    assert {"meeting-watcher", "aiokafka"} <= installed
    assert not any(name in installed for name in ("faststream", "fastapi", "pymongo"))


async def test_the_watcher_sees_a_meeting_scheduled_through_the_api_exactly_once(
    stack: Stack, account: Account, watcher_python: Path, tmp_path: Path
) -> None:
    watcher = Watcher(watcher_python, tmp_path, stack.prefix)
    watcher.start()
    try:
        title = f"Watched-{uuid.uuid4().hex[:8]}"
        note = f"INTERNAL-NOTE-{uuid.uuid4().hex}"
        meeting = (await schedule(stack, account, title, note))["meeting"]

        async def published() -> list:
            return [r for r in await events_on(stack, "meetings.events.v1", meeting["id"])
                    if header(r, "ce_type") == MeetingScheduled.EVENT_TYPE.encode()]

        [original] = await wait_for(published, "meetings to publish the MeetingScheduled",
                                    timeout=30)
        event_id = header(original, "ce_id").decode()

        [first] = await wait_for(lambda: watcher.copies_of(event_id),
                                 "the watcher to log the MeetingScheduled", timeout=30)
        assert (first["seen"], first["meeting_id"], first["version"], first["account_id"]) == (
            "new", meeting["id"], 0, account.id)
        assert (first["partition"], first["offset"]) == (original.partition, original.offset)

        # A redelivery at a new offset: the producer's retry, or a replay from the DLQ.
        partition, replayed = await publish(stack, "meetings.events.v1", original.key,
                                            original.value, list(original.headers))
        await wait_for(lambda: committed_past(stack, WATCHER, partition, replayed),
                       "the watcher to commit past the replayed copy", timeout=30)

        # A redelivery at the same offset: the watcher restarts from a position before the
        # record, as after a crash between processing and committing.
        assert watcher.stop() == 0, watcher.log_text()[-3000:]
        await rewind(watcher.group, watcher.topic, original.partition, original.offset)
        assert await committed_offset(endpoint("CONVENE_KAFKA_BOOTSTRAP"), watcher.group,
                                      watcher.topic, original.partition) == original.offset
        watcher.start()
        await wait_for(lambda: committed_past(stack, WATCHER, partition, replayed),
                       "the restarted watcher to commit past both copies again", timeout=30)
        watcher.alive()

        assert [(c["seen"], c["offset"]) for c in watcher.copies_of(event_id)] == [
            ("new", original.offset), ("duplicate", replayed),
            ("duplicate", original.offset), ("duplicate", replayed)]
        assert watcher.query("SELECT event_type, version, applied FROM events "
                             "WHERE event_id = ?", event_id) == [("MeetingScheduled", 0, 1)]
        assert watcher.query("SELECT title, account_id FROM meetings WHERE meeting_id = ?",
                             meeting["id"]) == [(title, account.id)]
        assert note not in watcher.log_text()  # internal notes never travel on Kafka (R11)
    finally:
        watcher.stop()


def meeting_scheduled(title: str) -> MeetingScheduled:
    meeting_id = f"mtg_{uuid.uuid4().hex}"
    start = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    return MeetingScheduled(
        account_id=f"acc_{uuid.uuid4().hex[:12]}", version=0, occurred_at=datetime.now(timezone.utc),
        meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id), title=title, start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome", duration_minutes=30,
        host_user_id="usr_host", organizer_user_id="usr_host", on_behalf=False,
        attendees=[Attendee(kind="contact", id="ct_1", email="zoe@client.example", invite=True)],
        source="crm", send_invitations=True)


async def test_the_watcher_skips_what_it_cannot_read_and_keeps_going(
    watcher_python: Path, tmp_path: Path
) -> None:
    # Its own topic, not the stack's: the services would dead-letter these records.
    watcher = Watcher(watcher_python, tmp_path, f"ex{uuid.uuid4().hex[:8]}.")
    bootstrap = endpoint("CONVENE_KAFKA_BOOTSTRAP")
    await create_topics(bootstrap, watcher.topic, partitions=1)
    good = meeting_scheduled(f"AfterBad-{uuid.uuid4().hex[:8]}")
    template = to_kafka_message(good, event_id=new_event_id())
    body = json.loads(template.value)

    def headers(**changed: bytes) -> list[tuple[str, bytes]]:
        names = {f"ce_{k}": v for k, v in changed.items()}
        return [(k, names.get(k, v)) for k, v in template.headers]

    records = [
        (template.value, headers(type=b"com.convene.meetings.MeetingArchived", id=b"evt-type")),
        (template.value, headers(dataversion=b"2", id=b"evt-major")),
        (b'{"title": "cut off', headers(id=b"evt-broken")),
        (json.dumps({**body, "room": {"name": "Aurora"}}).encode(), template.headers),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for value, record_headers in records:
            await producer.send_and_wait(watcher.topic, value=value, key=template.key,
                                         headers=record_headers)
    finally:
        await producer.stop()

    watcher.start()
    try:
        [seen] = await wait_for(lambda: watcher.copies_of(dict(template.headers)["ce_id"].decode()),
                                "the good record after the bad ones", timeout=30)
        assert seen["seen"] == "new" and seen["offset"] == 3

        async def committed_all() -> bool:
            return await committed_offset(bootstrap, watcher.group, watcher.topic, 0) == len(records)

        await wait_for(committed_all, "the watcher to commit past every record", timeout=30)
        watcher.alive()
        assert watcher.query("SELECT kafka_offset, reason, event_id FROM skipped "
                             "ORDER BY kafka_offset") == [
            (0, "unknown_type", "evt-type"), (1, "unknown_version", "evt-major"),
            (2, "undecodable", "evt-broken")]
        assert [e["reason"] for e in watcher.logged("record skipped")] == [
            "unknown_type", "unknown_version", "undecodable"]
        assert watcher.query("SELECT title FROM meetings") == [(good.title,)]
    finally:
        watcher.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([watcher.topic])
        finally:
            await admin.close()
