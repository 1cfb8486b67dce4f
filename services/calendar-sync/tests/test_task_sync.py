"""CRM tasks in a sub-calendar of the owner's account (R33): who is eligible, the event a
task is shown as, versions, completion, reassignment, deletion, task sync off, a provider
that is down, and the tasks calendar kept out of listings, availability and inbound sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from calendar_sync_support import (
    ACCOUNT,
    NOW,
    FakeAdapter,
    task_deleted,
    task_upserted,
    user_upserted,
)
from convene_calendar_sync.domain import tasks as rules
from convene_calendar_sync.domain.tasks import Place
from convene_calendar_sync.providers.base import ProviderUnavailable

CALDAV = {"url": "https://caldav.example/dav/", "username": "alice", "password": "pw"}
PRIMARY = "https://caldav.example/dav/alice/work/"
PAID = {"seat": "sales_enterprise", "active": True}


# --- the rules (pure) ------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "switches", "shown"), [
    (PAID, (True, True, True), True),
    ({"seat": "service_professional", "active": True}, (True, True, True), True),
    ({"seat": "none", "active": True}, (True, True, True), False),
    ({"active": True}, (True, True, True), False),  # seat not known yet
    ({**PAID, "active": False}, (True, True, True), False),
    (PAID, (True, True, False), False),  # task sync off
    (PAID, (True, False, True), False),  # calendar sync off
    (PAID, (False, True, True), False),  # disconnected
    (None, (True, True, True), False),
])
def test_only_an_active_paid_user_with_both_syncs_on_is_eligible(
        user: Any, switches: tuple[bool, bool, bool], shown: bool) -> None:
    active, sync, task_sync = switches
    assert rules.eligible(user, connection_active=active, sync_enabled=sync,
                          task_sync_enabled=task_sync) is shown


def _task(**fields: Any) -> dict[str, Any]:
    return {"task_id": "t1", "version": 3, "title": "Call Dana", "due_at": NOW,
            "status": "in_progress", "deleted": False, **fields}


def test_a_task_is_a_short_utc_event_at_its_due_time() -> None:
    event = rules.task_event(_task())
    assert event is not None
    assert (event.title, event.start, event.end, event.completed) == (
        "Call Dana", NOW, NOW + timedelta(minutes=rules.TASK_EVENT_MINUTES), False)
    assert event.uid == rules.task_uid("t1") and event.version == 3


def test_a_completed_task_is_checked_and_a_task_without_due_time_or_deleted_is_not_shown(
        ) -> None:
    done = rules.task_event(_task(status="completed"))
    assert done is not None and done.completed and done.title == "✓ Call Dana"
    assert done.fingerprint() != rules.task_event(_task()).fingerprint()  # type: ignore[union-attr]
    assert rules.task_event(_task(due_at=None)) is None
    assert rules.task_event(_task(deleted=True)) is None
    assert rules.task_event(None) is None


def test_the_plan_writes_once_moves_on_reassignment_and_removes_when_not_shown() -> None:
    event = rules.task_event(_task())
    assert event is not None
    here, there = Place("con_a", "cal_a"), Place("con_b", "cal_b")
    first = rules.plan(event, here, None)
    assert (first.remove_from, first.write_to, first.write) == (None, here, event)
    written = {"connection_id": "con_a", "calendar_id": "cal_a",
               "fingerprint": event.fingerprint()}
    assert rules.plan(event, here, written).nothing  # redelivered: nothing to write
    newer = rules.task_event(_task(version=4, title="Call Dana again"))
    assert rules.plan(newer, here, written).write_to == here
    moved = rules.plan(event, there, written)  # reassigned to an eligible owner
    assert (moved.remove_from, moved.write_to) == (here, there)
    gone = rules.plan(event, None, written)  # owner not eligible (any more)
    assert (gone.remove_from, gone.write_to) == (here, None)
    assert rules.plan(None, here, written).remove_from == here  # deleted / no due time
    assert rules.plan(None, None, None).nothing


# --- the service ------------------------------------------------------------------------------

async def _connected(harness: Any, client: httpx.AsyncClient, mint: Any, *,
                     user: str = "u1", login: str = "alice",
                     seat: str = "sales_professional", task_sync: bool = True) -> Any:
    await harness.deliver(user_upserted(user, seat=seat))
    account = harness.adapters.account(login, f"{login}@caldav.example", "pw")
    primary = f"https://caldav.example/dav/{login}/work/"
    account.add_calendar(primary, primary=True)
    answer = await client.post("/connections/caldav", headers=mint(user),
                               json={**CALDAV, "username": login})
    assert answer.status_code == 201, answer.text
    account.connection_id = answer.json()["connection_id"]
    if task_sync:
        changed = await client.patch(f"/connections/{account.connection_id}",
                                     headers=mint(user), json={"task_sync_enabled": True})
        assert changed.status_code == 200
    await harness.fire_timers()
    return account


def _shown(account: Any) -> dict[str, Any]:
    """The tasks shown in the (one) tasks calendar: task id -> event."""
    [calendar] = account.task_calendars.values()
    return calendar


async def test_a_paid_users_task_is_written_once_into_a_calendar_made_once(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    [made] = [c for c in account.task_calls if c[0] == "make_calendar"]
    assert made[2] == rules.TASK_CALENDAR_NAME

    await harness.deliver(task_upserted("t1"))
    await harness.deliver(task_upserted("t1"))  # redelivered
    await harness.deliver(task_upserted("t2", title="Send the quote"))

    shown = _shown(account)
    assert {t: e.title for t, e in shown.items()} == {"t1": "Call Dana back",
                                                      "t2": "Send the quote"}
    assert shown["t1"].start == NOW + timedelta(days=1)
    assert [c for c in account.task_calls if c[0] == "upsert"] == [
        ("upsert", made[1], "t1"), ("upsert", made[1], "t2")]
    assert [c[0] for c in account.task_calls].count("make_calendar") == 1


async def test_the_tasks_calendar_is_never_listed_counted_or_synced(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1"))
    [tasks_calendar] = account.task_calendars
    connection = (await client.get(f"/connections/{account.connection_id}",
                                   headers=mint("u1"))).json()
    assert tasks_calendar not in str(connection)
    refused = await client.patch(f"/connections/{account.connection_id}", headers=mint("u1"),
                                 json={"calendar_ids": [PRIMARY, tasks_calendar]})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "calendar_not_listed"
    timers = harness.collection("timers").docs.values()
    assert all(t.get("calendar_id") != tasks_calendar for t in timers)  # no inbound sync


async def test_edits_and_completion_follow_and_an_older_version_never_overwrites(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1", version=0))
    later = NOW + timedelta(days=2)
    await harness.deliver(task_upserted("t1", version=1, title="Call Dana (moved)", due_at=later))
    await harness.deliver(task_upserted("t1", version=0))  # late and older: ignored
    event = _shown(account)["t1"]
    assert (event.title, event.start, event.completed) == ("Call Dana (moved)", later, False)

    await harness.deliver(task_upserted("t1", version=2, title="Call Dana (moved)",
                                        due_at=later, status="completed"))
    event = _shown(account)["t1"]
    assert (event.title, event.completed) == ("✓ Call Dana (moved)", True)
    assert event.version == 2

    await harness.deliver(task_upserted("t1", version=3, title="Call Dana (moved)",
                                        due_at=None))
    assert "t1" not in _shown(account)  # no due time: not shown


async def test_deletion_removes_the_event_and_a_restore_brings_it_back(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1", version=0))
    await harness.deliver(task_deleted("t1", version=1))
    assert _shown(account) == {}
    await harness.deliver(task_deleted("t1", version=1))  # redelivered: nothing more
    assert [c[0] for c in account.task_calls].count("delete") == 1
    await harness.deliver(task_upserted("t1", version=2))
    assert "t1" in _shown(account)


async def test_a_task_reassigned_leaves_the_old_owners_calendar(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1", version=0))
    await harness.deliver(user_upserted("u2"))  # paid, but no calendar connected
    await harness.deliver(task_upserted("t1", version=1, owner_user_id="u2"))
    assert _shown(account) == {}
    await harness.deliver(task_upserted("t1", version=2, owner_user_id="u1"))
    assert "t1" in _shown(account)


async def test_without_a_paid_seat_or_task_sync_nothing_is_written(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    unpaid = await _connected(harness, client, mint, seat="none")  # task sync on
    off = await _connected(harness, client, mint, user="u2", login="bob", task_sync=False)
    paid = await _connected(harness, client, mint, user="u3", login="carol")  # the witness
    await harness.deliver(task_upserted("t1"))
    await harness.deliver(task_upserted("t2", owner_user_id="u2"))
    await harness.deliver(task_upserted("t3", owner_user_id="u3"))
    await harness.fire_timers()
    assert unpaid.task_calendars == {} and unpaid.task_calls == []
    assert off.task_calendars == {} and off.task_calls == []
    assert set(_shown(paid)) == {"t3"}


async def test_gaining_a_seat_fills_the_calendar_and_losing_it_deletes_the_calendar(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint, seat="none")
    await harness.deliver(task_upserted("t1"))
    await harness.deliver(user_upserted("u1", version=1, seat="sales_professional"))
    await harness.fire_timers()
    assert set(_shown(account)) == {"t1"}  # backfilled
    await harness.deliver(user_upserted("u1", version=2, seat="none"))
    await harness.fire_timers()
    assert account.task_calendars == {}
    assert account.task_calls[-1][0] == "delete_calendar"


async def test_task_sync_off_deletes_the_calendar_and_on_again_makes_and_fills_a_new_one(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1"))
    await harness.deliver(task_upserted("t2", due_at=None))
    path = f"/connections/{account.connection_id}"
    await client.patch(path, headers=mint("u1"), json={"task_sync_enabled": False})
    await harness.fire_timers()
    assert account.task_calendars == {}
    assert [c[0] for c in account.task_calls][-1] == "delete_calendar"
    await harness.deliver(task_upserted("t3"))
    assert account.task_calendars == {}  # off: nothing written

    await client.patch(path, headers=mint("u1"), json={"task_sync_enabled": True})
    await harness.fire_timers()
    assert set(_shown(account)) == {"t1", "t3"}  # t2 has no due time


async def test_a_provider_that_is_down_is_retried_by_the_outbound_timer(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.unavailable = 1
    await harness.deliver(task_upserted("t1"))
    assert _shown(account) == {}
    timer_id = f"outbound:task:{ACCOUNT}:t1"
    timer = harness.collection("timers").docs[timer_id]
    assert (timer["kind"], timer["subject"]) == ("outbound_retry", "task")
    assert await harness.fire_timers() == 0  # not due yet
    harness.clock.advance(harness.service.settings.sync_retry_s + 1)
    await harness.fire_timers()
    assert set(_shown(account)) == {"t1"}
    assert timer_id not in harness.collection("timers").docs


async def test_disconnect_deletes_the_tasks_calendar(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1"))
    gone = await client.delete(f"/connections/{account.connection_id}", headers=mint("u1"))
    assert gone.status_code == 200
    assert account.task_calendars == {}
    assert harness.collection("task_events").docs == {}
    await harness.deliver(task_upserted("t1", version=1, title="After"))
    assert account.task_calendars == {}


async def test_a_task_reassigned_moves_to_the_new_owners_calendar(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    alice = await _connected(harness, client, mint)
    bob = await _connected(harness, client, mint, user="u2", login="bob")
    await harness.deliver(task_upserted("t1", version=0))
    assert set(_shown(alice)) == {"t1"} and _shown(bob) == {}

    await harness.deliver(task_upserted("t1", version=1, owner_user_id="u2"))
    assert _shown(alice) == {}
    assert _shown(bob)["t1"].version == 1
    await harness.deliver(task_upserted("t1", version=1, owner_user_id="u2"))  # redelivered
    assert [c[0] for c in alice.task_calls].count("delete") == 1
    assert [c[0] for c in bob.task_calls].count("upsert") == 1


async def test_a_crash_after_the_provider_write_rewrites_the_same_event(
        harness: Any, client: httpx.AsyncClient, mint: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    account = await _connected(harness, client, mint)
    links = harness.service.deps.task_links
    record = links.record
    crashes = [RuntimeError("the process died before recording the write")]

    async def dies_once(account_id: str, task_id: str, **state: Any) -> None:
        if crashes and state.get("provider_event_id"):
            raise crashes.pop()
        await record(account_id, task_id, **state)

    monkeypatch.setattr(links, "record", dies_once)
    with pytest.raises(RuntimeError):
        await harness.deliver(task_upserted("t1"))
    assert await links.get(ACCOUNT, "t1") is None  # written at the provider, not recorded

    await harness.deliver(task_upserted("t1"))  # Kafka redelivers the uncommitted event
    [calendar_id] = account.task_calendars
    assert [c for c in account.task_calls if c[0] != "make_calendar"] == [
        ("upsert", calendar_id, "t1"), ("upsert", calendar_id, "t1")]  # the same event twice
    assert list(_shown(account)) == ["t1"]
    assert (await links.get(ACCOUNT, "t1"))["calendar_id"] == calendar_id
    await harness.deliver(task_upserted("t1"))
    assert len(account.task_calls) == 3  # recorded now: nothing more


async def test_a_crash_after_making_the_calendar_finds_it_again(
        harness: Any, client: httpx.AsyncClient, mint: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from convene_calendar_sync.domain import connection as connection_rules

    account = await _connected(harness, client, mint, task_sync=False)
    await harness.deliver(task_upserted("t1"))
    remember = connection_rules.set_task_calendar
    crashes = [RuntimeError("the process died before remembering the calendar")]

    def dies_once(*args: Any, **kwargs: Any) -> Any:
        if crashes:
            raise crashes.pop()
        return remember(*args, **kwargs)

    monkeypatch.setattr(connection_rules, "set_task_calendar", dies_once)
    path = f"/connections/{account.connection_id}"
    await client.patch(path, headers=mint("u1"), json={"task_sync_enabled": True})
    await harness.fire_timers()  # made at the provider, then the crash
    assert not crashes and len(account.task_calendars) == 1
    await harness.fire_timers()  # the timer is still there: tried again
    assert [c[0] for c in account.task_calls].count("make_calendar") == 1
    assert set(_shown(account)) == {"t1"}
    assert not any(t["_id"].startswith("outbound:tasks:")
                   for t in harness.collection("timers").docs.values())


async def test_calendar_sync_off_or_a_deactivated_user_deletes_the_calendar(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(task_upserted("t1"))
    path = f"/connections/{account.connection_id}"
    await client.patch(path, headers=mint("u1"), json={"sync_enabled": False})
    await harness.fire_timers()
    assert account.task_calendars == {}
    await harness.deliver(task_upserted("t1", version=1, title="Not while sync is off"))
    assert account.task_calendars == {}

    await client.patch(path, headers=mint("u1"), json={"sync_enabled": True})
    await harness.fire_timers()
    assert _shown(account)["t1"].title == "Not while sync is off"
    await harness.deliver(user_upserted("u1", version=1, active=False))
    await harness.fire_timers()
    assert account.task_calendars == {}
    assert harness.collection("task_events").docs == {}


async def test_a_provider_down_while_making_the_calendar_is_retried_with_backoff(
        harness: Any, client: httpx.AsyncClient, mint: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    account = await _connected(harness, client, mint, task_sync=False)
    await harness.deliver(task_upserted("t1"))
    make = FakeAdapter.ensure_task_calendar
    outages = [ProviderUnavailable("down"), ProviderUnavailable("still down")]

    async def down_twice(self: Any, key: str, name: str) -> str:
        if outages:
            raise outages.pop()
        return await make(self, key, name)

    monkeypatch.setattr(FakeAdapter, "ensure_task_calendar", down_twice)
    await client.patch(f"/connections/{account.connection_id}", headers=mint("u1"),
                       json={"task_sync_enabled": True})
    await harness.fire_timers()
    timers = harness.collection("timers").docs
    timer = timers[f"outbound:tasks:{account.connection_id}"]
    first = timer["due_at"] - harness.clock()
    assert (timer["subject"], timer["attempts"]) == ("task_calendar", 1)
    harness.clock.advance(first.total_seconds() + 1)
    await harness.fire_timers()  # down again: waits longer
    timer = timers[f"outbound:tasks:{account.connection_id}"]
    assert timer["attempts"] == 2 and timer["due_at"] - harness.clock() > first
    assert account.task_calendars == {}
    harness.clock.advance((timer["due_at"] - harness.clock()).total_seconds() + 1)
    await harness.fire_timers()
    assert set(_shown(account)) == {"t1"}
    assert f"outbound:tasks:{account.connection_id}" not in timers
