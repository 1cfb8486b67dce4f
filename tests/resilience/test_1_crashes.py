"""Each service in turn SIGKILLed at a random (seeded) moment of a run of scheduled meetings
and started again by the supervisor (the only instance, no replica): no invitation,
reminder, timeline entry or event in the host's Google calendar is lost, at most one email
per crash is duplicated, and no calendar event is (calendar-sync writes a meeting under an
event id derived from it, so a write redone after a crash updates the same event).

The kill moments are counted in accepted meetings, so a slow machine moves them in time but
not in the run; each victim is ready again before the next one is armed."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from chaos.load import new_run, outcome, post_meetings
from chaos.services import Supervised, wait_ready

# calendar-sync writes every meeting to the host's Google calendar (the emulator) and reads
# it back; booking-pages has little work here (no page is booked), but it consumes meeting
# and user events: its consumers and start-up are what a crash exercises.
VICTIMS = ("records", "meetings", "notifications", "calendar-sync", "booking-pages")


@pytest.mark.timeout(3600)
async def test_each_service_killed_and_restarted_loses_nothing(
    supervised: Supervised, account, host_calendar, profile, rng: random.Random, figures
) -> None:
    stack = supervised.stack
    run = new_run(stack, account, "crashes", rng)
    count = profile.crash_meetings
    slice_size = count / len(VICTIMS)
    kill_at = [int(i * slice_size + rng.uniform(0.1, 0.9) * slice_size) for i in range(len(VICTIMS))]
    crashes: list[dict] = []
    progress = asyncio.Event()

    async def chaos() -> None:
        for victim, point in zip(VICTIMS, kill_at, strict=True):
            while run.accepted < point:
                progress.clear()
                await asyncio.wait_for(progress.wait(), timeout=300)
            before = supervised.supervisor.restarts_of(victim)
            pid = supervised.pids()[victim]
            killed_at = time.monotonic()
            await asyncio.to_thread(stack.services[victim].kill)
            # the supervisor starts it again: wait for a new process, then for it to be ready
            deadline = killed_at + 120
            while supervised.supervisor.restarts_of(victim) == before:
                assert time.monotonic() < deadline, f"the supervisor did not restart {victim}"
                await asyncio.sleep(0.1)
            await wait_ready(stack, [victim], timeout=120)
            crashes.append({"service": victim, "at_meeting": point, "old_pid": pid,
                            "new_pid": supervised.pids()[victim],
                            "recovery_s": round(time.monotonic() - killed_at, 1)})

    started = time.monotonic()
    chaos_task = asyncio.create_task(chaos())
    await post_meetings(stack, account, run, count, profile.crash_rate, rng,
                        reminder_every=profile.reminder_every,
                        on_accepted=lambda _: progress.set())
    await asyncio.wait_for(chaos_task, timeout=600)
    posted_s = time.monotonic() - started
    result = await outcome(stack, account, run, cap_s=profile.drain_cap_s,
                           calendar=host_calendar)
    figures["crashes"] = {"meetings_posted": count, "accepted": run.accepted,
                          "gave_up": run.gave_up, "post_s": round(posted_s, 1),
                          "answers": dict(run.statuses), "crashes": len(crashes),
                          "kills": crashes, **result.figures()}

    assert len(crashes) == len(VICTIMS)
    assert all(c["new_pid"] != c["old_pid"] for c in crashes)
    assert run.gave_up == 0, run.statuses
    # every retry carried its POST's Idempotency-Key: a POST whose answer a crash lost is
    # answered with the meeting it stored, never stored again
    assert result.meetings == count, result.figures()
    assert result.lost_invitations == 0, result.figures()
    assert result.lost_reminders == 0, result.figures()
    assert result.lost_timeline == 0, result.figures()
    assert result.lost_provider_events == 0, result.figures()
    assert result.extra_provider_events == 0, result.figures()
    assert sum(result.expected_reminders.values()) > 0
    duplicated_emails = result.extra_invitations + result.extra_reminders
    assert duplicated_emails <= len(crashes), result.figures()
