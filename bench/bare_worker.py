"""The bare stack: the least any consumer of the pipeline's kind has to do, in one serial
loop with no framework. For each Kafka message: one insert and one update in FerretDB, one
SMTP send to the sink on a kept-open connection, then a commit. The ceiling the pipeline is
compared with (``bench.bare`` feeds it and times it).

Run: ``python -m bench.bare_worker --topic T --group G --database D`` with the endpoints of
``.convene/infra.env`` in the environment; prints ``ready`` once its partitions are
assigned, and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal

import aiosmtplib
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

SENDER = "bare@bench.example"


def message(item_id: str, recipient: str) -> bytes:
    return (f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: bare {item_id}\r\n"
            f"Message-ID: <{item_id}@bench.example>\r\nX-Bench-Id: {item_id}\r\n\r\n"
            f"The bare stack's message {item_id}.\r\n").encode()


class SerialLoop:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.consumer = AIOKafkaConsumer(
            args.topic, bootstrap_servers=os.environ["CONVENE_KAFKA_BOOTSTRAP"],
            group_id=args.group, enable_auto_commit=False, auto_offset_reset="earliest")
        self.mongo: AsyncMongoClient = AsyncMongoClient(
            os.environ["CONVENE_MONGO_URL"], timeoutMS=10_000, maxPoolSize=4)
        self.items = self.mongo[args.database]["items"]
        self.smtp = aiosmtplib.SMTP(hostname=os.environ["CONVENE_SMTP_HOST"],
                                    port=int(os.environ["CONVENE_SMTP_PORT"]), timeout=30)

    async def send(self, raw: bytes, recipient: str) -> None:
        if not self.smtp.is_connected:
            await self.smtp.connect()
        try:
            await self.smtp.sendmail(SENDER, [recipient], raw)
        except aiosmtplib.SMTPServerDisconnected:
            await self.smtp.connect()
            await self.smtp.sendmail(SENDER, [recipient], raw)

    async def handle(self, value: bytes) -> None:
        item = json.loads(value)
        await self.items.insert_one({"_id": item["id"], "sent_at": item["sent_at"],
                                     "state": "received"})
        await self.items.update_one({"_id": item["id"]}, {"$set": {"state": "sending"}})
        await self.send(message(item["id"], item["to"]), item["to"])

    async def run(self, stopping: asyncio.Event) -> None:
        await self.consumer.start()
        try:
            while not self.consumer.assignment() and not stopping.is_set():
                await self.consumer.getmany(timeout_ms=100)  # joins the group
            print("ready", flush=True)
            while not stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=200, max_records=1)
                for records in batch.values():
                    for record in records:
                        await self.handle(record.value)
                        await self.consumer.commit()
        finally:
            await self.consumer.stop()
            await self.mongo.close()
            if self.smtp.is_connected:
                await self.smtp.quit()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--database", required=True)
    loop = SerialLoop(parser.parse_args())
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    await loop.run(stopping)


if __name__ == "__main__":
    asyncio.run(main())
