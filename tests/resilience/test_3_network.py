"""Network faults between a service and its store, through a TCP fault proxy
(chaos/fault_proxy.py): meetings (the API's writes) and notifications (consuming, timers,
mail log) reach FerretDB only through one proxy each, which adds latency, then resets every
connection, then swallows everything (a black hole), then passes again, while meetings are
posted. The services time out instead of hanging (/readyz answers within its own timeout
plus a margin and says the store is not ready during the black hole), nothing is lost, and
they recover without a restart.

Between a service and Kafka this is not done: the broker advertises its own address
(advertised.listeners), so a client that bootstraps through a proxy talks to the broker
directly afterwards; a Kafka fault proxy needs the broker to advertise the proxy's port."""

from __future__ import annotations

import asyncio
import random
import time
from urllib.parse import urlparse

import pytest
from chaos.fault_proxy import FaultProxy
from chaos.load import new_run, outcome, post_meetings
from chaos.services import Supervised, readyz, wait_ready
from support import endpoint

PROXIED = ("meetings", "notifications")
READINESS_TIMEOUT_S = 2.0  # the kit's default readiness_timeout_s
ANSWER_MARGIN_S = 3.0


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
        phases = [("latency", 0.2), ("reset", 0.0), ("blackhole", 0.0), ("pass", 0.0)]
        posting = asyncio.create_task(post_meetings(
            stack, account, run, profile.network_meetings,
            profile.network_meetings / (phase * len(phases)), rng,
            reminder_every=profile.reminder_every, retry_for_s=phase * 4 + 240))
        observed: dict[str, dict] = {}
        for mode, latency in phases:
            for proxy in proxies.values():
                proxy.set(mode, latency)
            began = time.monotonic()
            slowest, not_ready = 0.0, {}
            while time.monotonic() - began < phase:  # an observation window per fault
                for probe in await asyncio.gather(*(readyz(stack, n, timeout=30) for n in PROXIED)):
                    slowest = max(slowest, probe.took_s)
                    if probe.status != 200:
                        not_ready[probe.service] = probe.status, probe.checks.get("store")
                await asyncio.sleep(0.5)
            observed[mode] = {"slowest_readyz_s": round(slowest, 1),
                              "not_ready": {k: list(v) for k, v in not_ready.items()}}
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
        for mode in ("latency", "reset", "blackhole"):
            assert observed[mode]["slowest_readyz_s"] < READINESS_TIMEOUT_S + ANSWER_MARGIN_S, (
                f"/readyz hung during {mode}: {observed}")
        assert set(observed["blackhole"]["not_ready"]) == set(PROXIED), observed
        assert all(p.counts["reset"] > 0 and p.counts["held"] > 0 for p in proxies.values())
        assert run.gave_up == 0, run.statuses
        assert result.lost_invitations == 0, result.figures()
        assert result.lost_reminders == 0, result.figures()
        assert result.lost_timeline == 0, result.figures()
        assert result.extra_invitations + result.extra_reminders <= 1, result.figures()
    finally:
        for name in PROXIED:  # back to the store directly, then the proxies go
            await asyncio.to_thread(supervised.restart, name)
        for proxy in proxies.values():
            proxy.stop()
