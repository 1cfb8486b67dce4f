"""A server of the suite's own instance stopped mid-run and started again: Kafka, FerretDB,
PostgreSQL (under FerretDB), the SMTP sink. Meetings are posted throughout. Nothing is
lost; every service recovers by itself (same process, no restart by the supervisor);
/readyz of each service that depends on the server answers 503 naming the failing check
while it is down (polled during the outage), and 200 after.

The outage length is an observation window (a bounded sleep on purpose), not a wait."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from chaos.load import new_run, outcome, post_meetings
from chaos.services import Supervised, readyz, wait_ready
from support.services import PACKAGES

SERVICES = list(PACKAGES)


def outage_s(profile, server: str) -> float:
    return {"kafka": profile.kafka_outage_s, "smtp": profile.smtp_outage_s}.get(
        server, profile.store_outage_s)


# The servers whose loss /readyz reports, per README and architecture.md: Kafka and the
# store. The SMTP sink is not a readiness dependency of notifications (mail is retried from
# its log; taking the API out of service would not help), so it is only observed.
READINESS = {"kafka": SERVICES, "ferretdb": SERVICES, "postgres": SERVICES, "smtp": []}


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("server", ["kafka", "ferretdb", "postgres", "smtp"])
async def test_a_server_outage_loses_nothing_and_services_recover_alone(
    server: str, supervised: Supervised, instance, account, profile, rng: random.Random,
    figures
) -> None:
    stack = supervised.stack
    await wait_ready(stack, SERVICES, timeout=120)
    pids = supervised.pids()
    restarts = len(supervised.supervisor.restarts)
    run = new_run(stack, account, f"out{server}", rng)
    down_for = outage_s(profile, server)
    # the load spans the outage and some time either side
    posting = asyncio.create_task(post_meetings(
        stack, account, run, profile.outage_meetings, profile.outage_meetings / (down_for + 10),
        rng, reminder_every=profile.reminder_every, retry_for_s=down_for + 240))
    await asyncio.sleep(3)

    seen_not_ready: dict[str, dict] = {}
    slowest_answer_s = 0.0
    stopped_at = time.monotonic()
    await asyncio.to_thread(instance.stop, server)
    while time.monotonic() - stopped_at < down_for:
        probes = await asyncio.gather(*(readyz(stack, name) for name in SERVICES))
        for probe in probes:
            slowest_answer_s = max(slowest_answer_s, probe.took_s)
            if probe.status == 503 and probe.service not in seen_not_ready:
                seen_not_ready[probe.service] = probe.checks
        await asyncio.sleep(0.5)
    await asyncio.to_thread(instance.start, server)
    restarted_at = time.monotonic()
    recovery = await wait_ready(stack, SERVICES, timeout=180)
    await posting
    result = await outcome(stack, account, run, cap_s=profile.drain_cap_s)
    figures[f"outage_{server}"] = {
        "down_s": down_for, "meetings_posted": profile.outage_meetings,
        "answers": dict(run.statuses), "gave_up": run.gave_up,
        "not_ready_seen": {n: sorted(k for k, v in c.items() if v != "ok")
                           for n, c in seen_not_ready.items()},
        "slowest_readyz_answer_s": round(slowest_answer_s, 1),
        "server_restart_s": round(restarted_at - stopped_at - down_for, 1),
        "ready_after_restart_s": recovery,
        "service_restarts": len(supervised.supervisor.restarts) - restarts,
        **result.figures()}

    assert supervised.pids() == pids, "a service had to be restarted"
    assert len(supervised.supervisor.restarts) == restarts
    missing = [name for name in READINESS[server] if name not in seen_not_ready]
    assert not missing, f"/readyz stayed 200 while {server} was down: {missing}"
    assert run.gave_up == 0, run.statuses
    assert result.lost_invitations == 0, result.figures()
    assert result.lost_reminders == 0, result.figures()
    assert result.lost_timeline == 0, result.figures()
    assert result.extra_invitations + result.extra_reminders <= 1, result.figures()
