"""Feeding and timing the bare stack (``bench.bare_worker``) on the same servers: open-loop
at the pipeline's rates, and as fast as it drains. Timed like the pipeline: from the send
time to the sink's ``received_at``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from convene_kit.testing import create_topics
from pymongo import AsyncMongoClient

from bench.common import REPO_ROOT, SinkMail, SinkWatcher
from bench.delivery import collect, delivery_figures
from bench.harness import endpoint, load_infra_env


class BareStack:
    """One bare worker process, its topic (under ``prefix``, deleted with the stack's
    topics) and database (dropped by :meth:`close`)."""

    def __init__(self, prefix: str, workdir) -> None:
        self.topic = f"{prefix}bare"
        self.database = f"{prefix.rstrip('.')}_bare"
        self.recipient = f"bare-{uuid.uuid4().hex[:8]}@bench.example"
        self.log_path = workdir / "bare-worker.log"
        self.process: subprocess.Popen | None = None
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        bootstrap = endpoint("CONVENE_KAFKA_BOOTSTRAP")
        await create_topics(bootstrap, self.topic, partitions=6)
        env = {**os.environ, **load_infra_env()}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.bare_worker", "--topic", self.topic,
                 "--group", f"{self.topic}.worker", "--database", self.database],
                cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        ready = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 60)
        if ready.strip() != "ready":
            raise RuntimeError(f"the bare worker did not start; see {self.log_path}")
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                         acks="all")
        await self.producer.start()

    async def feed(self, item_id: str, sent_at: float) -> None:
        assert self.producer is not None
        value = json.dumps({"id": item_id, "sent_at": sent_at, "to": self.recipient}).encode()
        await self.producer.send(self.topic, value=value, key=item_id.encode())

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"),
                                                    timeoutMS=30_000)
        try:
            await client.drop_database(self.database)
        finally:
            await client.close()


async def open_loop(bare: BareStack, watcher: SinkWatcher, ours: list[SinkMail], rate: float,
                    duration_s: float, idle_s: float, cap_s: float) -> dict[str, Any]:
    """``rate`` messages a second for ``duration_s``, each sent on schedule (the messages
    that arrived are added to ``ours``)."""
    sent_at: dict[str, float] = {}
    start = time.time() + 0.2
    for i in range(int(rate * duration_s)):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        item_id = uuid.uuid4().hex
        sent_at[item_id] = due
        await bare.feed(item_id, due)
    collected = await collect(watcher, set(sent_at), lambda m: m.bench_id, idle_s=idle_s,
                              cap_s=cap_s)
    ours.extend(collected.mails())
    return {"rate": rate, "duration_s": duration_s, **delivery_figures(sent_at, collected)}


async def max_rate(bare: BareStack, watcher: SinkWatcher, ours: list[SinkMail], count: int,
                   idle_s: float, cap_s: float) -> dict[str, Any]:
    """``count`` messages sent at once; the drain rate is the sustained throughput."""
    sent_at: dict[str, float] = {}
    for _ in range(count):
        item_id = uuid.uuid4().hex
        sent_at[item_id] = time.time()
        await bare.feed(item_id, sent_at[item_id])
    collected = await collect(watcher, set(sent_at), lambda m: m.bench_id, idle_s=idle_s,
                              cap_s=cap_s)
    ours.extend(collected.mails())
    return {"count": count, **delivery_figures(sent_at, collected)}
