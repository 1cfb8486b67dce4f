"""reminders: many reminders due within one minute, with two notifications replicas.

Meetings are published as ``MeetingScheduled`` events straight onto the stack's meetings
topic (as meetings would publish them): each has ``BENCH_REMINDER_ATTENDEES`` invited
contacts (a unique address each) and one reminder 1 minute before its start (the shortest
offset the contract allows), starts spread so that the reminders fall due evenly over
``BENCH_REMINDER_SPREAD_S`` seconds. Every meeting also sends its invitations first, as a
real one would: the due window begins only after notifications has worked through them
(the lead time is sized from a measured warm-up batch and reported).

Lateness is measured per reminder (one per recipient) against its due time, for (a) the
``ReminderDue`` on notifications.events.v1: its ``occurred_at`` (the fire, taken by the
replica that won the fire claim) and the Kafka record's timestamp (the publish), and (b) the
reminder email's ``received_at`` in the sink. Missed: no ReminderDue / no email within the
drain wait. Duplicated: more than one ReminderDue / email for one reminder.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import Attendee, MeetingScheduled, ical_uid_for

from bench.common import (
    SinkMail,
    SinkWatcher,
    env_float,
    env_int,
    fmt,
    fmt_dist,
    ms,
    tls_context,
    verdict,
)
from bench.harness import BenchStack, Target, close, endpoint, sink_watcher, stack_for
from bench.kafka_tools import TopicTail, group_lag

NAME = "reminders"
TARGET_P99_MS = 1000
OFFSET = ReminderOffset(amount=1, unit="minutes")
REMINDER_DUE = b"com.convene.notifications.ReminderDue"


@dataclass(frozen=True)
class Knobs:
    reminders: int = field(default_factory=lambda: env_int("BENCH_REMINDERS", 10_000))
    attendees: int = field(default_factory=lambda: env_int("BENCH_REMINDER_ATTENDEES", 4))
    spread_s: float = field(default_factory=lambda: env_float("BENCH_REMINDER_SPREAD_S", 60))
    min_lead_s: float = field(default_factory=lambda: env_float("BENCH_REMINDER_LEAD_S", 90))
    max_lead_s: float = field(default_factory=lambda: env_float("BENCH_REMINDER_MAX_LEAD_S",
                                                                1800))
    warmup: int = field(default_factory=lambda: env_int("BENCH_REMINDER_WARMUP", 40))
    idle_s: float = field(default_factory=lambda: env_float("BENCH_DRAIN_S", 60))

    @property
    def meetings(self) -> int:
        return math.ceil(self.reminders / self.attendees)


class MeetingFactory:
    """``MeetingScheduled`` events of one made-up account; every attendee has an address
    no one else uses, so the sink's envelope says which reminder a message is."""

    def __init__(self, attendees: int) -> None:
        self.account_id = f"acc_bench{uuid.uuid4().hex[:10]}"
        self.tag = uuid.uuid4().hex[:8]
        self.attendees = attendees
        self.addresses: set[str] = set()
        self._count = 0

    def address(self, meeting: int, attendee: int) -> str:
        address = f"r{self.tag}-{meeting:06d}-{attendee}@reminders.bench.example"
        self.addresses.add(address)
        return address

    def scheduled(self, start: datetime, with_reminder: bool) -> MeetingScheduled:
        self._count += 1
        n = self._count
        meeting_id = f"mtg_{uuid.uuid4().hex}"
        host = "usr_benchhost"
        return MeetingScheduled(
            account_id=self.account_id, version=0, occurred_at=datetime.now(timezone.utc),
            meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id),
            title=f"Reminder benchmark {n}", start=start, end=start + timedelta(minutes=30),
            time_zone="Europe/Rome", duration_minutes=30, host_user_id=host,
            host_email="host@bench.example", host_name="Bench Host", organizer_user_id=host,
            on_behalf=False,
            attendees=[Attendee(kind="contact", id=f"con_{self.tag}_{n}_{j}",
                                email=self.address(n, j), name=f"Contact {j}", language="en",
                                time_zone="Europe/Rome", invite=True)
                       for j in range(self.attendees)],
            reminders=[OFFSET] if with_reminder else [], reminders_include_description=False,
            attendee_description="<p>Agenda</p>", outcome="scheduled", associations=[],
            source="crm", send_invitations=True)


async def publish_all(stack: BenchStack, events: list[MeetingScheduled]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sends = []
        for event in events:
            record = to_kafka_message(event, event_id=new_event_id())
            sends.append(await producer.send(stack.topic(record.topic), value=record.value,
                                             key=record.key, headers=record.headers))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def processed(stack: BenchStack, timeout_s: float) -> float:
    """Wait until notifications committed every meeting event; returns when (epoch s)."""
    deadline = time.monotonic() + timeout_s
    bootstrap = endpoint("CONVENE_KAFKA_BOOTSTRAP")
    while time.monotonic() < deadline:
        try:
            lag = await group_lag(bootstrap, f"{stack.prefix}notifications",
                                  stack.topic("meetings.events.v1"))
        except KafkaError as exc:  # a broker restart (shared servers): ask again
            print(f"  (Kafka unavailable while waiting: {exc}; retrying)", flush=True)
            lag = None
        if lag == 0:
            return time.time()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"notifications did not process the meeting events in {timeout_s:.0f} s")


@dataclass
class Observed:
    """What came back, per reminder (its recipient's address)."""

    fired: dict[str, list[tuple[float, float, float]]] = field(
        default_factory=lambda: defaultdict(list))  # due, occurred_at, record time
    emails: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    mails: list[SinkMail] = field(default_factory=list)
    last_progress: float = field(default_factory=time.monotonic)

    def on_record(self, record: ConsumerRecord) -> None:
        if dict(record.headers).get("ce_type") != REMINDER_DUE:
            return
        data = json.loads(record.value)
        due = datetime.fromisoformat(data["due_at"]).timestamp()
        occurred = datetime.fromisoformat(data["occurred_at"]).timestamp()
        self.fired[data["recipient"]["email"].lower()].append(
            (due, occurred, record.timestamp / 1000))
        self.last_progress = time.monotonic()

    def on_mails(self, mails: list[SinkMail], ours: set[str]) -> None:
        for mail in mails:
            rcpt = next((r for r in mail.rcpt_tos if r in ours), None)
            if rcpt is None:
                continue
            self.mails.append(mail)
            if not mail.has_calendar:  # the invitation carries the .ics, the reminder not
                self.emails[rcpt].append(mail.received_at)
                self.last_progress = time.monotonic()


async def observe(observed: Observed, watcher: SinkWatcher, due: dict[str, float],
                  knobs: Knobs) -> float:
    """Until every reminder fired and was emailed, or nothing new for ``idle_s`` after the
    last due time (at most 4x that in all); returns how long it waited past the last due."""
    last_due = max(due.values())
    ours = set(due)
    while True:
        observed.on_mails(watcher.scan(), ours)
        now = time.time()
        done = len(observed.fired) >= len(due) and len(observed.emails) >= len(due)
        if done or (now > last_due and (
                time.monotonic() - observed.last_progress > knobs.idle_s
                or now - last_due > 4 * knobs.idle_s)):
            if done:
                await asyncio.sleep(3)  # duplicates that follow at once
                observed.on_mails(watcher.scan(), ours)
            return now - last_due
        await asyncio.sleep(0.5)


def lateness(due: dict[str, float], observed: Observed) -> dict[str, Any]:
    fired = [v[0][1] - v[0][0] for v in observed.fired.values() if v]
    published = [v[0][2] - v[0][0] for v in observed.fired.values() if v]
    emailed = [min(times) - due[a] for a, times in observed.emails.items() if times]
    return {
        "reminders": len(due),
        "fired_ms": ms(fired), "published_ms": ms(published), "emailed_ms": ms(emailed),
        "missed_fired": sum(1 for a in due if not observed.fired.get(a)),
        "missed_emailed": sum(1 for a in due if not observed.emails.get(a)),
        "duplicated_fired": sum(1 for v in observed.fired.values() if len(v) > 1),
        "duplicated_emailed": sum(1 for v in observed.emails.values() if len(v) > 1),
    }


async def fired_per_replica(stack: BenchStack) -> dict[str, float | None]:
    """``convene_reminders_fired_total`` of each notifications process (its /metrics)."""
    fired: dict[str, float | None] = {}
    async with httpx.AsyncClient(timeout=10, verify=tls_context()) as client:
        for key, process in stack.services.items():
            try:
                text = (await client.get(f"{process.url}/metrics")).text
            except httpx.HTTPError:
                fired[key] = None
                continue
            fired[key] = next((float(line.split()[-1]) for line in text.splitlines()
                               if line.startswith("convene_reminders_fired_total ")), None)
    return fired


async def run_target(target: Target, knobs: Knobs, ours: list[SinkMail]) -> dict[str, Any]:
    stack = stack_for(target, NAME)
    factory = MeetingFactory(knobs.attendees)
    watcher = sink_watcher()
    observed = Observed()
    tail = TopicTail(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                     stack.topic("notifications.events.v1"), observed.on_record)
    print(f"reminders [{target.label} {target.revision}]: {knobs.meetings} meetings x "
          f"{knobs.attendees} attendees = {knobs.meetings * knobs.attendees} reminders due "
          f"over {knobs.spread_s:.0f} s; two notifications replicas (logs in {stack.workdir})",
          flush=True)
    try:
        stack.start("notifications")
        stack.add_replica("notifications", "notifications-2")
        await tail.start()

        # Warm-up: invitations only (no reminder), to size the lead time.
        far = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
        warmup = [factory.scheduled(far, with_reminder=False) for _ in range(knobs.warmup)]
        began = time.time()
        await publish_all(stack, warmup)
        warm_rate = knobs.warmup / (await processed(stack, 600) - began)
        needed = knobs.meetings / warm_rate
        lead = min(knobs.max_lead_s, max(knobs.min_lead_s, 1.5 * needed + 30))
        print(f"  warm-up: {knobs.warmup} meetings processed at {warm_rate:.1f}/s; the "
              f"setup should take about {needed:.0f} s; first reminder due in {lead:.0f} s",
              flush=True)

        first_due = time.time() + lead
        due: dict[str, float] = {}
        events = []
        for i in range(knobs.meetings):
            due_at = datetime.fromtimestamp(first_due + knobs.spread_s * i / knobs.meetings,
                                            timezone.utc)
            due_at = due_at.replace(microsecond=due_at.microsecond // 1000 * 1000)
            event = factory.scheduled(due_at + timedelta(minutes=1), with_reminder=True)
            events.append(event)
            for attendee in event.attendees:
                assert attendee.email is not None  # every attendee here has one
                due[attendee.email.lower()] = due_at.timestamp()
        setup_began = time.time()
        await publish_all(stack, events)
        setup_done = await processed(stack, lead + 600)
        setup = {"warmup_meetings": knobs.warmup, "warmup_rate_per_s": warm_rate,
                 "lead_s": lead, "setup_s": setup_done - setup_began,
                 "setup_done_before_first_due_s": first_due - setup_done}
        print(f"  setup: {knobs.meetings} meetings (their invitations sent, timers set) in "
              f"{setup['setup_s']:.0f} s, {setup['setup_done_before_first_due_s']:.0f} s "
              f"before the first due time", flush=True)

        waited = await observe(observed, watcher, due, knobs)
        figures = lateness(due, observed)
        result = {"target": target.label, "revision": target.revision, "setup": setup,
                  "waited_after_last_due_s": waited, **figures,
                  "timers_fired_per_replica": await fired_per_replica(stack)}
        print_result(result)
        return result
    finally:
        try:
            await tail.stop()
        finally:
            await close(stack)
            observed.on_mails(watcher.scan(), factory.addresses)  # invitations included
            ours.extend(observed.mails)


def print_result(r: dict[str, Any]) -> None:
    print(f"  {r['reminders']} reminders; waited {r['waited_after_last_due_s']:.0f} s after "
          f"the last due time")
    print(f"    ReminderDue fired (occurred_at - due)  {fmt_dist(r['fired_ms'])}")
    print(f"    ReminderDue published (record time)    {fmt_dist(r['published_ms'])}")
    print(f"    reminder email (received_at - due)     {fmt_dist(r['emailed_ms'])}")
    print(f"    missed: {r['missed_fired']} not fired, {r['missed_emailed']} not emailed; "
          f"duplicated: {r['duplicated_fired']} fired twice, {r['duplicated_emailed']} "
          f"emailed twice")
    print(f"    timers fired per replica: {r['timers_fired_per_replica']}")
    for what, key in (("fired", "fired_ms"), ("emailed", "emailed_ms")):
        p99 = r[key]["p99"]
        print(f"  {verdict(p99 is not None and p99 <= TARGET_P99_MS)}  {what} lateness p99 "
              f"<= {TARGET_P99_MS} ms: {fmt(p99, ' ms')}")


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    return {
        "fired p50 ms": result["fired_ms"]["p50"], "fired p99 ms": result["fired_ms"]["p99"],
        "fired max ms": result["fired_ms"]["max"],
        "emailed p50 ms": result["emailed_ms"]["p50"],
        "emailed p99 ms": result["emailed_ms"]["p99"],
        "emailed max ms": result["emailed_ms"]["max"],
        "missed fired": result["missed_fired"], "missed emailed": result["missed_emailed"],
        "duplicated fired": result["duplicated_fired"],
        "duplicated emailed": result["duplicated_emailed"],
        "setup s": result["setup"]["setup_s"],
    }


async def main(targets: list[Target], ours: list[SinkMail]) -> dict[str, Any]:
    knobs = Knobs()
    results = {t.label: await run_target(t, knobs, ours) for t in targets}
    return {"knobs": {**asdict(knobs), "meetings": knobs.meetings}, "runs": results,
            "headline": {label: headline(r) for label, r in results.items()}}
