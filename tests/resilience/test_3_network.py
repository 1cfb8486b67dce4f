"""Network faults between a service and its store or Kafka, through a TCP fault proxy
(chaos/fault_proxy.py) that adds latency, then resets every connection, then swallows
everything (a black hole), then passes again, while meetings are posted. Meetings (the
API's writes, publishing their events) and notifications (consuming, timers, mail log) are
the services behind the proxies. /readyz answers within its own timeout plus a margin and
names the dependency as not ready during the black hole, nothing is lost, and they recover
without a restart.

The store: one proxy per service in front of FerretDB.

Kafka: a client that bootstraps through a proxy then connects to whatever address the broker
advertises, so the suite's broker has a PROXIED listener (infra/servers/kafka.py) that
advertises the port of a proxy here. Both services bootstrap through one proxy and are sent
to the advertised one; both proxies take the same fault. That the bytes really pass through
them is checked, not assumed: each proxy accepted connections, and during the black hole
meetings' stored meetings wait in their outbox while not one event is acknowledged. A POST
/meetings publishes right after its write; the idempotent producer never gives up on a
record, so the wait for Kafka's acknowledgement is bounded by the kit
(CONVENE_KAFKA_PUBLISH_TIMEOUT_S) and the event left to the outbox relay: the API keeps
answering while Kafka is cut off (figure longest_without_a_201_s)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from itertools import pairwise
from urllib.parse import urlparse

import httpx
import pytest
from chaos.fault_proxy import FaultProxy
from chaos.instance import port_env
from chaos.load import Run, new_run, outcome, post_meetings
from chaos.services import Supervised, readyz, wait_ready
from convene_kit.outbox import PENDING_SINCE_FIELD
from pymongo import AsyncMongoClient
from support import endpoint
from support.services import Stack

PROXIED = ("meetings", "notifications")
READINESS_TIMEOUT_S = 2.0  # the kit's default readiness_timeout_s
ANSWER_MARGIN_S = 3.0
PUBLISH_TIMEOUT_S = 5.0  # the kit's default kafka_publish_timeout_s
PHASES = [("latency", 0.2), ("reset", 0.0), ("blackhole", 0.0), ("pass", 0.0)]


async def observe(stack: Stack, proxies: list[FaultProxy], mode: str, latency: float,
                  seconds: float, check: str) -> dict:
    """Switch every proxy to ``mode`` and probe /readyz of the proxied services for
    ``seconds``: the slowest answer, and who said ``check`` was not ready (with its why)."""
    for proxy in proxies:
        proxy.set(mode, latency)
    began = time.monotonic()
    slowest, not_ready = 0.0, {}
    while time.monotonic() - began < seconds:
        for probe in await asyncio.gather(*(readyz(stack, n, timeout=30) for n in PROXIED)):
            slowest = max(slowest, probe.took_s)
            if probe.status != 200 and probe.checks.get(check, "ok") != "ok":
                not_ready[probe.service] = probe.status, probe.checks.get(check)
        await asyncio.sleep(0.5)
    return {"slowest_readyz_s": round(slowest, 1),
            "not_ready": {k: list(v) for k, v in not_ready.items()}}


def assert_no_hang_nothing_lost(observed: dict, run: Run, result) -> None:
    for mode in ("latency", "reset", "blackhole"):
        assert observed[mode]["slowest_readyz_s"] < READINESS_TIMEOUT_S + ANSWER_MARGIN_S, (
            f"/readyz hung during {mode}: {observed}")
    assert set(observed["blackhole"]["not_ready"]) == set(PROXIED), observed
    assert run.gave_up == 0, run.statuses
    assert result.lost_invitations == 0, result.figures()
    assert result.lost_reminders == 0, result.figures()
    assert result.lost_timeline == 0, result.figures()
    assert result.extra_invitations + result.extra_reminders <= 1, result.figures()


@pytest.mark.timeout(1800)
async def test_latency_resets_and_a_black_hole_to_the_store_lose_nothing(
    supervised: Supervised, account, profile, rng: random.Random, figures
) -> None:
    stack = supervised.stack
    store_port = urlparse(endpoint("CONVENE_MONGO_URL")).port
    proxies = {name: FaultProxy(store_port).start() for name in PROXIED}
    try:
        for name in PROXIED:
            await asyncio.to_thread(supervised.restart, name,
                                    {"CONVENE_MONGO_URL": proxies[name].url})
        await wait_ready(stack, list(PROXIED), timeout=120)
        pids = supervised.pids()
        restarts = len(supervised.supervisor.restarts)
        run = new_run(stack, account, "network", rng)
        phase = profile.network_phase_s
        posting = asyncio.create_task(post_meetings(
            stack, account, run, profile.network_meetings,
            profile.network_meetings / (phase * len(PHASES)), rng,
            reminder_every=profile.reminder_every, retry_for_s=phase * 4 + 240))
        observed = {mode: await observe(stack, list(proxies.values()), mode, latency, phase,
                                        "store")
                    for mode, latency in PHASES}
        recovered_at = time.monotonic()
        recovery = await wait_ready(stack, list(PROXIED), timeout=120)
        await posting
        result = await outcome(stack, account, run, cap_s=profile.drain_cap_s)
        figures["network_store"] = {
            "phase_s": phase, "meetings_posted": profile.network_meetings,
            "answers": dict(run.statuses), "gave_up": run.gave_up, "phases": observed,
            "proxy_connections": {n: dict(p.counts) for n, p in proxies.items()},
            "ready_after_fault_s": recovery,
            "recovery_s": round(time.monotonic() - recovered_at, 1), **result.figures()}

        assert supervised.pids() == pids and len(supervised.supervisor.restarts) == restarts
        assert all(p.counts["reset"] > 0 and p.counts["held"] > 0 for p in proxies.values())
        assert_no_hang_nothing_lost(observed, run, result)
    finally:
        for name in PROXIED:  # back to the store directly, then the proxies go
            await asyncio.to_thread(supervised.restart, name)
        for proxy in proxies.values():
            proxy.stop()


async def events_published(stack: Stack, name: str) -> float:
    """The events ``name`` has had acknowledged by Kafka (its /metrics, every topic)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{stack.url(name)}/metrics")).text
    return sum(float(value) for value in re.findall(
        r"^convene_events_published_total\{[^}]*\} (\S+)$", text, re.MULTILINE))


async def unpublished_meetings(stack: Stack, run: Run) -> int:
    """The run's stored meetings whose events still wait in their outbox."""
    client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"), timeoutMS=30000)
    try:
        return await client[stack.database("meetings")]["meetings"].count_documents(
            {"title": {"$regex": f"^{run.tag}-"}, PENDING_SINCE_FIELD: {"$exists": True}})
    finally:
        await client.close()


def longest_silence(moments: list[float], began: float, ended: float) -> float:
    """The longest stretch between ``began`` and ``ended`` without one of ``moments``."""
    marks = sorted([began, *(m for m in moments if began < m < ended), ended])
    return round(max(b - a for a, b in pairwise(marks)), 1)


@pytest.mark.timeout(1800)
async def test_latency_resets_and_a_black_hole_to_kafka_lose_nothing(
    supervised: Supervised, account, profile, rng: random.Random, figures
) -> None:
    stack = supervised.stack
    ports = port_env()
    listener = int(ports["CONVENE_KAFKA_PROXIED_PORT"])
    advertised = FaultProxy(listener, port=int(ports["CONVENE_KAFKA_PROXY_PORT"])).start()
    proxies = {"bootstrap": FaultProxy(listener).start(), "advertised": advertised}
    try:
        for name in PROXIED:
            await asyncio.to_thread(supervised.restart, name,
                                    {"CONVENE_KAFKA_BOOTSTRAP": proxies["bootstrap"].address})
        await wait_ready(stack, list(PROXIED), timeout=120)
        # Both in the path: the services bootstrapped through one and were sent to the other.
        assert all(p.counts["accepted"] > 0 for p in proxies.values()), {
            n: p.counts for n, p in proxies.items()}
        pids = supervised.pids()
        restarts = len(supervised.supervisor.restarts)
        run = new_run(stack, account, "netkafka", rng)
        phase = profile.network_phase_s
        accepted_at: list[float] = []
        posting_began = time.monotonic()
        posting = asyncio.create_task(post_meetings(
            stack, account, run, profile.network_meetings,
            profile.network_meetings / (phase * len(PHASES)), rng,
            reminder_every=profile.reminder_every, retry_for_s=phase * 4 + 240,
            on_accepted=lambda _: accepted_at.append(time.monotonic())))
        observed, blackhole = {}, {}
        for mode, latency in PHASES:
            published_before = await events_published(stack, "meetings")
            observed[mode] = await observe(stack, list(proxies.values()), mode, latency, phase,
                                           "kafka")
            if mode == "blackhole":
                blackhole = {
                    "events_published": await events_published(stack, "meetings")
                    - published_before,
                    "meetings_waiting_to_publish": await unpublished_meetings(stack, run)}
        recovered_at = time.monotonic()
        recovery = await wait_ready(stack, list(PROXIED), timeout=120)
        await posting
        result = await outcome(stack, account, run, cap_s=profile.drain_cap_s)
        figures["network_broker"] = {
            "phase_s": phase, "meetings_posted": profile.network_meetings,
            "answers": dict(run.statuses), "gave_up": run.gave_up,
            "longest_without_a_201_s": longest_silence(accepted_at, posting_began,
                                                       max(accepted_at, default=recovered_at)),
            "phases": observed, "during_blackhole": blackhole,
            "proxy_connections": {n: dict(p.counts) for n, p in proxies.items()},
            "ready_after_fault_s": recovery,
            "recovery_s": round(time.monotonic() - recovered_at, 1), **result.figures()}

        assert supervised.pids() == pids and len(supervised.supervisor.restarts) == restarts
        assert advertised.counts["reset"] > 0 and advertised.counts["held"] > 0, advertised.counts
        # The black hole really cut meetings off Kafka: events waited, none was acknowledged.
        assert blackhole["meetings_waiting_to_publish"] > 0, blackhole
        assert blackhole["events_published"] == 0, blackhole
        # ...and the API kept answering: a POST waits for Kafka's acknowledgement at most the
        # kit's publish timeout, then leaves its event to the outbox relay
        silence = figures["network_broker"]["longest_without_a_201_s"]
        assert silence < PUBLISH_TIMEOUT_S + ANSWER_MARGIN_S * 3, figures["network_broker"]
        assert_no_hang_nothing_lost(observed, run, result)
    finally:
        for name in PROXIED:  # back to Kafka directly, then the proxies go
            await asyncio.to_thread(supervised.restart, name)
        for proxy in proxies.values():
            proxy.stop()
