"""Posting meetings: open-loop at a fixed rate, or closed-loop as fast as a bounded number
of clients go. Every POST is timed from its *intended* send time, so a slow server cannot
hide its queueing by slowing the load down (no coordinated omission)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from bench.common import tls_context
from bench.harness import Account, BenchStack, auth


@dataclass
class Posted:
    """One POST /meetings and what came of it."""

    title: str
    sent_at: float  # epoch seconds, when it was meant to go out
    status: int | None = None  # None: no answer (error or abandoned)
    answered_at: float | None = None
    meeting_id: str | None = None
    ical_uid: str | None = None
    error: str | None = None
    abandoned: bool = False

    @property
    def latency_s(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.sent_at


def meeting_body(account: Account, title: str) -> dict[str, Any]:
    """The scheduling form of README's demo: one contact invited and associated, two days
    ahead at 10:00 in Rome."""
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0, tzinfo=None)
    contact = account.contact["id"]
    return {"title": title, "start": start.isoformat(), "time_zone": "Europe/Rome",
            "duration_minutes": 30, "attendees": [{"kind": "contact", "id": contact}],
            "associations": [{"kind": "contact", "id": contact}],
            "attendee_description": "<p>Agenda: pricing</p>",
            "internal_note": "benchmark"}


class MeetingPoster:
    """POSTs meetings of one account; titles carry ``tag`` so they can be found later."""

    def __init__(self, stack: BenchStack, account: Account, tag: str | None = None,
                 max_connections: int = 256, timeout_s: float = 60.0) -> None:
        self.url = stack.url("meetings")
        self.account = account
        self.tag = tag or f"bench-{uuid.uuid4().hex[:8]}"
        self.headers = auth(account.host_token)
        self.timeout_s = timeout_s
        self.limits = httpx.Limits(max_connections=max_connections,
                                   max_keepalive_connections=max_connections)
        self._count = 0

    def client(self, max_connections: int | None = None) -> httpx.AsyncClient:
        limits = self.limits if max_connections is None else httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections)
        return httpx.AsyncClient(base_url=self.url, headers=self.headers, limits=limits,
                                 timeout=self.timeout_s, verify=tls_context())

    def next_title(self) -> str:
        self._count += 1
        return f"{self.tag}-{self._count:06d}"

    async def post(self, client: httpx.AsyncClient, sent_at: float,
                   abandon_after_s: float | None = None) -> Posted:
        posted = Posted(self.next_title(), sent_at)
        body = meeting_body(self.account, posted.title)
        try:
            if abandon_after_s is None:
                response = await client.post("/meetings", json=body)
            else:
                response = await asyncio.wait_for(client.post("/meetings", json=body),
                                                  abandon_after_s)
        except TimeoutError:
            posted.abandoned = True
            return posted
        except httpx.HTTPError as exc:
            posted.error = f"{type(exc).__name__}: {exc}"[:200]
            return posted
        posted.answered_at = time.time()
        posted.status = response.status_code
        if response.status_code == 201:
            meeting = response.json()["meeting"]
            posted.meeting_id, posted.ical_uid = meeting["id"], meeting["ical_uid"]
        else:
            posted.error = response.text[:200]
        return posted

    async def open_loop(self, rate: float, duration_s: float) -> list[Posted]:
        """POST ``rate`` meetings a second for ``duration_s``, each on schedule whatever
        the answers to earlier ones; waits for every answer (each bounded by the timeout)."""
        count = int(rate * duration_s)
        async with self.client() as client:
            start = time.time() + 0.2
            tasks = []
            for i in range(count):
                due = start + i / rate
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self.post(client, due)))
            return list(await asyncio.gather(*tasks))

    async def as_fast_as_possible(self, count: int, clients: int) -> list[Posted]:
        """POST ``count`` meetings from ``clients`` concurrent loops, each sending its next
        one when the previous is answered."""
        queue = iter(range(count))
        results: list[Posted] = []

        async def loop(client: httpx.AsyncClient) -> None:
            for _ in queue:
                results.append(await self.post(client, time.time()))

        async with self.client(max_connections=clients) as client:
            await asyncio.gather(*(loop(client) for _ in range(clients)))
        return results
