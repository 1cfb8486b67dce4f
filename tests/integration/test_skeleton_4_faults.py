"""Crashes and outages lose nothing: a store outage during handling commits nothing and the
event is processed once afterwards; a service killed between its write and its publish has
the relay publish once after restart; readiness follows Kafka. Runs last: it stops servers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import httpx
from convene_kit.testing import read_records
from convene_schemas.envelope import new_event_id, to_kafka_message
from pymongo import AsyncMongoClient
from support import REPO_ROOT, crash_before_publish, endpoint, wait_for
from support.mail import mails
from support.services import Stack
from support.skeleton import (
    Account,
    assert_one_email_and_one_entry,
    committed_past,
    meeting_request,
    publish,
    scheduled_event,
    timeline_entry,
    wait_processed,
)


def infra(command: str, server: str) -> None:
    result = subprocess.run([sys.executable, "-m", "infra", command, server], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_a_store_outage_during_handling_commits_nothing_and_loses_nothing(
    stack: Stack, account: Account
) -> None:
    title = f"StoreDown-{uuid.uuid4().hex[:8]}"
    event = scheduled_event(account, title)
    record = to_kafka_message(event, event_id=new_event_id())
    infra("down", "ferretdb")
    try:
        partition, offset = await publish(stack, "meetings.events.v1", record.key, record.value,
                                          record.headers)
        # An observation window, not a speed assertion: while the store is down the
        # consumers retry and commit nothing.
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for service in ("notifications", "records"):
                assert not await committed_past(stack, service, partition, offset), service
            await asyncio.sleep(0.5)
        assert mails(title) == []
    finally:
        infra("up", "ferretdb")
    await wait_processed(stack, partition, offset, "process the event once the store is back",
                         timeout=60)
    await assert_one_email_and_one_entry(stack, account, title, event.meeting_id)


async def test_a_service_killed_between_write_and_publish_publishes_once_after_restart(
    stack: Stack, account: Account
) -> None:
    title = f"Crash-{uuid.uuid4().hex[:8]}"
    # Meetings built with a publisher that SIGKILLs the process instead of publishing this
    # meeting's MeetingScheduled (and nothing else): the crash between write and publish.
    stack.restart("meetings", module=crash_before_publish.MODULE,
                  extra={crash_before_publish.TITLE_VARIABLE: title})
    meetings = stack.services["meetings"]  # the restarted process
    try:
        async with httpx.AsyncClient(base_url=meetings.url, timeout=15) as client:
            try:
                await client.post("/meetings", json=meeting_request(account, title, "n"),
                                  headers={"Authorization": f"Bearer {account.host_token}"})
                raise AssertionError("the request completed: the publisher did not crash")
            except httpx.TransportError:
                pass  # the process died mid-request, as intended
        await wait_for(lambda: meetings.process.poll() is not None, "meetings to die")
        assert meetings.process.returncode == -9
        assert "crashing before publishing" in meetings.log_tail(), meetings.log_tail()
    finally:
        stack.start("meetings")  # normal settings: the relay sweeps what the crash left

    client = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"))
    try:
        collection = client[stack.database("meetings")]["meetings"]
        stored = await collection.find_one({"title": title})
        assert stored is not None, "the write before the crash was lost"

        async def outbox_drained() -> bool:
            doc = await collection.find_one({"_id": stored["_id"]})
            return not doc.get("outbox")

        await wait_for(outbox_drained, "the relay to publish and clear the outbox", timeout=30)
    finally:
        await client.close()
    topic = stack.topic("meetings.events.v1")
    published = [r for r in await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topic, expected=1)
                 if r.key == str(stored["_id"]).encode()]
    assert len(published) == 1
    assert dict(published[0].headers)["ce_type"] == b"com.convene.meetings.MeetingScheduled"
    await wait_for(lambda: mails(title, account.contact["email"]), "the invitation", timeout=30)
    await wait_for(lambda: timeline_entry(stack, account, str(stored["_id"])), "the timeline entry")
    assert len(mails(title, account.contact["email"])) == 1


async def test_readyz_reports_not_ready_while_kafka_is_down(stack: Stack) -> None:
    url = f"{stack.url('records')}/readyz"
    infra("down", "kafka")
    try:
        async def not_ready() -> dict | None:
            response = httpx.get(url, timeout=10)
            return response.json() if response.status_code == 503 else None

        body = await wait_for(not_ready, "/readyz to report Kafka down", timeout=30)
        assert "kafka" in str(body)
    finally:
        infra("up", "kafka")
    for service in stack.services.values():
        service.wait_ready(timeout=60)
