"""A bounded run of scheduled meetings and what became of each: its invitation in the SMTP
sink, its reminder (for the meetings given a near one), its entry on the contact's timeline
and, when the host's calendar is given, its event in the host's Google calendar.

The meetings of a run are the ones meetings *stored* with the run's tag (a POST that died
with the process may or may not have stored its meeting; a retried one may have stored two):
each stored meeting must have exactly what it is owed. Posting reuses the benchmarks' form
(bench.load.meeting_body) and sink reader (bench.common.SinkWatcher).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
from convene_schemas.events.meetings import ical_uid_for
from pymongo import AsyncMongoClient
from support import endpoint
from support.notifications import new_contact
from support.services import Stack
from support.skeleton import Account, auth

from bench.common import SinkMail, SinkWatcher
from bench.load import meeting_body
from chaos.providers import HostCalendar, duplicated_events, events_per_meeting, lost_events

RETRYABLE = {500, 502, 503, 504}
READ_MODEL_CODES = ("unknown_host", "unknown_attendee", "no_connected_calendar")
OUTDATED_CODES = ("reminder_in_past", "start_in_past")


@dataclass
class Run:
    """One scenario's meetings: all for one new contact, titled ``<tag>-<n>``."""

    name: str
    tag: str
    contact: dict
    reminder_titles: set[str] = field(default_factory=set)
    accepted: int = 0
    gave_up: int = 0
    statuses: Counter = field(default_factory=Counter)  # every answer, retries included
    started_at: float = field(default_factory=time.monotonic)
    watcher: SinkWatcher = field(default_factory=lambda: SinkWatcher(
        Path(endpoint("CONVENE_MAIL_SINK_DIR"))))

    def title(self, index: int) -> str:
        return f"{self.tag}-{index:05d}"


def new_run(stack: Stack, account: Account, name: str, rng: random.Random) -> Run:
    contact = new_contact(stack, account, first_name="Res")
    return Run(name, f"res{name[:6]}{rng.randrange(16**6):06x}", contact)


def _body(account: Account, run: Run, title: str, reminder: bool, rng: random.Random) -> dict:
    body = meeting_body(account, title)
    body["attendees"] = [{"kind": "contact", "id": run.contact["id"]}]
    body["associations"] = [{"kind": "contact", "id": run.contact["id"]}]
    body["reminders"] = []
    if reminder:  # due 15-45 s after the POST: it fires within the run
        start = datetime.now(timezone.utc) + timedelta(seconds=60 + rng.uniform(15, 45))
        body["start"] = start.replace(microsecond=0).isoformat()
        body["reminders"] = [{"amount": 1, "unit": "minutes"}]
    return body


async def post_meetings(stack: Stack, account: Account, run: Run, count: int, rate: float,
                        rng: random.Random, *, reminder_every: int = 0,
                        retry_for_s: float = 240.0, concurrency: int = 16,
                        on_accepted: Callable[[int], None] | None = None) -> None:
    """POST ``count`` meetings at ``rate`` a second (open loop, at most ``concurrency`` in
    flight), each retried on no answer or a 5xx until ``retry_for_s`` has passed.

    As a gateway should, every retry is the same request with the same Idempotency-Key, so
    a POST whose answer was lost (a killed service, a reset) is never stored twice. Only a
    request the rules refuse by now (its reminder's or its start's time passed during a long
    outage: then nothing was stored under the key) is made anew, with a new key."""
    gate = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, index: int) -> None:
        title = run.title(index)
        reminder = bool(reminder_every) and index % reminder_every == 0
        if reminder:
            run.reminder_titles.add(title)
        deadline = time.monotonic() + retry_for_s
        body, key = _body(account, run, title, reminder, rng), str(uuid.uuid4())
        async with gate:
            while True:
                try:
                    response = await client.post("/meetings", json=body,
                                                 headers={"Idempotency-Key": key})
                    run.statuses[str(response.status_code)] += 1
                    if response.status_code == 201:
                        run.accepted += 1
                        if on_accepted is not None:
                            on_accepted(run.accepted)
                        return
                    code = (response.json().get("error", {}).get("code")
                            if response.status_code == 422 else None)
                    retry = response.status_code in RETRYABLE or code in READ_MODEL_CODES
                    if code in OUTDATED_CODES:
                        body, key = _body(account, run, title, reminder, rng), str(uuid.uuid4())
                        retry = True
                except (httpx.TransportError, ValueError) as exc:
                    run.statuses[type(exc).__name__] += 1
                    retry = True
                if not retry or time.monotonic() > deadline:
                    run.gave_up += 1
                    return
                await asyncio.sleep(0.5)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.url("meetings"), headers=auth(account.host_token),
                                 timeout=30, limits=limits) as client:
        tasks = []
        began = time.monotonic()
        for index in range(count):
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, index)))
        await asyncio.gather(*tasks)


async def stored_meetings(stack: Stack, run: Run) -> list[dict]:
    """Every meeting meetings stored for the run (id, title and source)."""
    return await meetings_titled(stack, f"{run.tag}-")


async def meetings_titled(stack: Stack, prefix: str) -> list[dict]:
    """Every meeting meetings stored with a title starting with ``prefix`` (id, title and
    source: ``crm``, or ``calendar_sync`` for one synced in from a calendar)."""
    client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"), timeoutMS=30000)
    try:
        cursor = client[stack.database("meetings")]["meetings"].find(
            {"title": {"$regex": f"^{prefix}"}}, {"_id": 1, "title": 1, "source": 1})
        return [doc async for doc in cursor]
    finally:
        await client.close()


async def timeline_ids(stack: Stack, account: Account, run: Run) -> Counter:
    """Meeting id -> entries on the run's contact's timeline (every page)."""
    found: Counter = Counter()
    cursor = None
    async with httpx.AsyncClient(base_url=stack.url("records"), headers=auth(account.admin),
                                 timeout=30) as client:
        for _ in range(1000):
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            response = await client.get(f"/contacts/{run.contact['id']}/timeline", params=params)
            if response.status_code != 200:
                raise RuntimeError(f"timeline: HTTP {response.status_code} {response.text[:200]}")
            page = response.json()
            found.update(item["meeting_id"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return found


@dataclass
class Outcome:
    meetings: int
    invitations: dict[str, int]  # ical uid -> invitations to the contact
    reminders: dict[str, int]  # title -> reminder emails to the contact
    expected_reminders: dict[str, int]  # title -> meetings with that title and a reminder
    timeline: Counter  # meeting id -> entries
    meeting_ids: list[str]
    waited_s: float
    provider_events: dict[str, list[tuple[str, str]]] | None = None  # None: not counted

    @property
    def lost_invitations(self) -> int:
        return sum(1 for mid in self.meeting_ids if not self.invitations.get(ical_uid_for(mid)))

    @property
    def extra_invitations(self) -> int:
        return sum(max(0, n - 1) for n in self.invitations.values())

    @property
    def lost_reminders(self) -> int:
        return sum(max(0, want - self.reminders.get(t, 0))
                   for t, want in self.expected_reminders.items())

    @property
    def extra_reminders(self) -> int:
        return sum(max(0, self.reminders.get(t, 0) - want)
                   for t, want in self.expected_reminders.items())

    @property
    def lost_timeline(self) -> int:
        return sum(1 for mid in self.meeting_ids if not self.timeline.get(mid))

    @property
    def extra_timeline(self) -> int:
        return sum(max(0, n - 1) for n in self.timeline.values())

    @property
    def lost_provider_events(self) -> int:
        if self.provider_events is None:
            return 0
        return lost_events(self.provider_events, self.meeting_ids)

    @property
    def extra_provider_events(self) -> int:
        return 0 if self.provider_events is None else duplicated_events(self.provider_events)

    @property
    def lost_anything(self) -> bool:
        return bool(self.lost_invitations or self.lost_reminders or self.lost_timeline
                    or self.lost_provider_events)

    def figures(self) -> dict[str, Any]:
        lost = {"invitations": self.lost_invitations, "reminders": self.lost_reminders,
                "timeline_entries": self.lost_timeline}
        duplicated = {"invitations": self.extra_invitations, "reminders": self.extra_reminders,
                      "timeline_entries": self.extra_timeline}
        if self.provider_events is not None:
            lost["provider_events"] = self.lost_provider_events
            duplicated["provider_events"] = self.extra_provider_events
        return {"meetings": self.meetings,
                "reminders_expected": sum(self.expected_reminders.values()),
                "lost": lost, "duplicated": duplicated, "drain_wait_s": round(self.waited_s, 1)}


def _reminder_title(mail: SinkMail, tag: str) -> str | None:
    """The run's meeting title in a reminder's subject (reminders carry no .ics)."""
    raw = mail.eml.read_bytes()
    subject = str(BytesParser(policy=default_policy).parsebytes(raw, headersonly=True)["Subject"])
    found = re.search(re.escape(tag) + r"-\d{5}", subject)
    return found.group(0) if subject.startswith("Reminder") and found else None


async def outcome(stack: Stack, account: Account, run: Run, *, cap_s: float,
                  settle_s: float = 5.0, calendar: HostCalendar | None = None) -> Outcome:
    """Wait (at most ``cap_s``) until every stored meeting of the run has its invitation,
    timeline entry, if it had one its reminder and, if ``calendar`` is given, its event in
    the host's calendar; then ``settle_s`` more for duplicates."""
    stored = await stored_meetings(stack, run)
    ids = [str(doc["_id"]) for doc in stored]
    uids = {ical_uid_for(mid) for mid in ids}
    expected_reminders = Counter(doc["title"] for doc in stored
                                 if doc["title"] in run.reminder_titles)
    invitations: dict[str, int] = defaultdict(int)
    reminders: dict[str, int] = defaultdict(int)
    address = run.contact["email"].lower()
    started = time.monotonic()
    settle_until = None
    timeline: Counter = Counter()
    provider_events: dict[str, list[tuple[str, str]]] | None = None if calendar is None else {}
    next_timeline = 0.0
    while True:
        for mail in run.watcher.scan():
            if address not in mail.rcpt_tos:
                continue
            if mail.has_calendar and mail.ical_uid in uids:
                invitations[mail.ical_uid] += 1
            elif not mail.has_calendar:
                title = _reminder_title(mail, run.tag)
                if title is not None:
                    reminders[title] += 1
        now = time.monotonic()
        if now >= next_timeline or settle_until is not None:
            try:
                timeline = await timeline_ids(stack, account, run)
            except (httpx.HTTPError, RuntimeError):
                pass  # records is restarting: the next poll reads it
            if calendar is not None:
                try:
                    provider_events = events_per_meeting(await calendar.stored_events(), ids)
                except (httpx.HTTPError, RuntimeError):
                    pass  # the next poll reads it
            next_timeline = now + 3.0
        current = Outcome(len(ids), dict(invitations), dict(reminders), expected_reminders,
                          timeline, ids, now - started, provider_events)
        complete = not current.lost_anything
        if complete and settle_until is None:
            settle_until = now + settle_s
        if (settle_until is not None and now >= settle_until) or now - started > cap_s:
            return current
        await asyncio.sleep(1.0)
