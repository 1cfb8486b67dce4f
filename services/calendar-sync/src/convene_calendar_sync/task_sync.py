"""CRM tasks into a sub-calendar of the owner's provider account (R7, R33).

records' TaskUpserted / RecordDeleted (task) keep a read model of tasks (the newest
version per task wins, so an older event arriving late never overwrites a newer state);
every task event then *reconciles* the task: the event it should have (``domain.tasks``)
against what was written last (``task_events``), so a redelivered event writes nothing
and a crash between the provider call and the record writes the same event again (ids
derived from the task).

* The tasks calendar is made once per connection, under a lease of the connection, on the
  first task to show (or when task sync is turned on), found again by its key after a
  crash; its id is remembered on the connection, which never lists, counts or syncs it.
* Turning task sync (or calendar sync) off, losing the paid seat, or deactivation deletes
  the whole tasks calendar at the provider (one call, nothing left behind); turning it on
  makes a new one and writes every live task of the owner with a due time (backfill).
* A task reassigned to another owner leaves the old owner's tasks calendar and goes to the
  new owner's, if eligible.

One replica works on a task at a time (a lease); a provider that is down, or a task busy
elsewhere, is retried by the outbound writes' durable timer (kind ``outbound_retry``,
subjects ``task`` and ``task_calendar``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from convene_kit.clock import as_utc
from convene_schemas.events.records import RecordDeleted, TaskUpserted, UserUpserted

from convene_calendar_sync import access
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain import connection as rules
from convene_calendar_sync.domain import tasks as task_rules
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.domain.errors import NotFound
from convene_calendar_sync.domain.tasks import Place
from convene_calendar_sync.outbound import retry_delay, retry_in
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarAdapter,
    CalendarGone,
    ProviderUnavailable,
)
from convene_calendar_sync.store import tasks_of_owner

logger = logging.getLogger(__name__)

TASK = "task"
TASK_CALENDAR = "task_calendar"
LEASE = timedelta(minutes=2)
BUSY_RETRY_S = 2.0  # another replica (or the handler) is working on it right now


# --- records' events ---------------------------------------------------------------------------

async def on_task(deps: Deps, task: TaskUpserted) -> None:
    await deps.tasks.put(task.account_id, task.task_id, task.version, {
        "task_id": task.task_id, "owner_user_id": task.owner_user_id, "title": task.title,
        "due_at": task.due_at, "status": task.status, "deleted": False,
        "updated_at": task.occurred_at})
    # always, even for an event already applied: the crash may have come before the write
    await reconcile_task(deps, task.account_id, task.task_id)


async def on_task_deleted(deps: Deps, deleted: RecordDeleted) -> None:
    if deleted.record_kind != "task":
        return
    await deps.tasks.put(deleted.account_id, deleted.record_id, deleted.version, {
        "task_id": deleted.record_id, "deleted": True, "updated_at": deleted.occurred_at})
    await reconcile_task(deps, deleted.account_id, deleted.record_id)


async def on_user(deps: Deps, user: UserUpserted) -> None:
    """A seat or an activation changed: the user's tasks calendar follows (made and filled,
    or deleted)."""
    connection = await _user_connection(deps, user.account_id, user.user_id)
    if connection is not None and (connection.task_sync_enabled or connection.task_calendar_id):
        await schedule_connection(deps, connection)


# --- one task ----------------------------------------------------------------------------------

def _task_timer_id(account_id: str, task_id: str) -> str:
    return f"outbound:task:{account_id}:{task_id}"


async def reconcile_task(deps: Deps, account_id: str, task_id: str,
                         timer: dict[str, Any] | None = None) -> None:
    """Bring the task's event to what it should be now (idempotent). ``timer``: the retry
    timer being fired, deleted when done unless it was planned again meanwhile (a change
    that arrived while this ran)."""
    timer_id = _task_timer_id(account_id, task_id)
    lease = await deps.leases.lease(f"lease:task:{account_id}:{task_id}", LEASE,
                                    now=deps.clock())
    if lease is None:
        await retry_in(deps, timer_id, TASK, BUSY_RETRY_S, account_id=account_id,
                       task_id=task_id)
        return
    try:
        retry_after = await _reconcile(deps, account_id, task_id)
    finally:
        await deps.leases.release_claim(lease.claim_id)
    if retry_after is not None:
        await retry_in(deps, timer_id, TASK, retry_after, account_id=account_id,
                       task_id=task_id)
    elif timer is not None:
        await deps.timers.delete_where({"_id": timer["_id"], "due_at": timer["due_at"]})


async def _reconcile(deps: Deps, account_id: str, task_id: str) -> float | None:
    """Returns None when done, else the delay before trying again."""
    task = _state(await deps.tasks.get(account_id, task_id))
    written = await deps.task_links.get(account_id, task_id)
    wanted = task_rules.task_event(task)
    try:
        target = await _target(deps, account_id, task) if wanted is not None else None
        plan = task_rules.plan(wanted, target, written)
        if plan.nothing:
            return None
        if plan.remove_from is not None:
            await _remove(deps, account_id, task_id, plan.remove_from)
        if plan.write_to is not None and plan.write is not None:
            await _write(deps, account_id, plan.write_to, plan.write)
    except _Busy:
        return BUSY_RETRY_S
    except ProviderUnavailable as exc:
        attempts = int((written or {}).get("attempts", 0)) + 1
        await deps.task_links.record(account_id, task_id, attempts=attempts)
        delay = retry_delay(deps, attempts, exc.retry_after_s)
        logger.info("provider unavailable for task %s; retrying in %.0f s (attempt %s)",
                    task_id, delay, attempts)
        return delay
    except _Refused:
        return None  # recorded (access lost): a reconnect plans the tasks again
    except CalendarGone:
        return BUSY_RETRY_S  # the tasks calendar was deleted by the user: a new one is made
    return None


async def _target(deps: Deps, account_id: str, task: dict[str, Any] | None) -> Place | None:
    """The tasks calendar the task belongs in (made if needed); None if its owner is not
    eligible."""
    assert task is not None
    connection = await _eligible_connection(deps, account_id, task["owner_user_id"])
    if connection is None:
        return None
    calendar_id = connection.task_calendar_id or await ensure_task_calendar(deps, connection)
    return Place(connection.connection_id, calendar_id)


def _state(task: dict[str, Any] | None) -> dict[str, Any] | None:
    if task is None or task.get("due_at") is None:
        return task
    return {**task, "due_at": as_utc(task["due_at"])}


class _Refused(Exception):
    """The provider refused the credentials (recorded as lost access)."""


class _Busy(Exception):
    """Another replica is making the connection's tasks calendar right now."""


async def _adapter(deps: Deps, connection: Connection) -> CalendarAdapter:
    try:
        return deps.adapters.for_connection(connection, await deps.credentials.get(
            connection.account_id, connection.connection_id))
    except AccessDenied as exc:
        await access.lost(deps, connection, connection.calendar_ids, exc.reason)
        raise _Refused() from exc


async def _write(deps: Deps, account_id: str, place: Place, event: task_rules.TaskEvent) -> None:
    connection = await deps.aggregates.load(deps.connections, account_id, place.connection_id)
    if connection is None:
        return
    adapter = await _adapter(deps, connection)
    try:
        provider_event_id = await adapter.upsert_task_event(place.calendar_id, event)
    except AccessDenied as exc:
        await access.lost(deps, connection, connection.calendar_ids, exc.reason)
        raise _Refused() from exc
    except CalendarGone:  # the user deleted it: a new one is made and filled
        await _forget_task_calendar(deps, connection, place.calendar_id)
        await schedule_connection(deps, connection)
        raise
    finally:
        await adapter.close()
    await deps.task_links.record(
        account_id, event.task_id, connection_id=place.connection_id,
        calendar_id=place.calendar_id, provider_event_id=provider_event_id,
        fingerprint=event.fingerprint(), written_version=event.version, attempts=0,
        updated_at=deps.clock())


async def _remove(deps: Deps, account_id: str, task_id: str, place: Place) -> None:
    connection = await deps.aggregates.load(deps.connections, account_id, place.connection_id)
    if connection is not None and connection.active and \
            connection.task_calendar_id == place.calendar_id:
        adapter = await _adapter(deps, connection)
        try:
            await adapter.delete_task_event(place.calendar_id, task_id)
        except AccessDenied as exc:
            await access.lost(deps, connection, connection.calendar_ids, exc.reason)
            raise _Refused() from exc
        except CalendarGone:
            pass  # the calendar, and the event with it, is gone already
        finally:
            await adapter.close()
    # else: the connection is gone or its tasks calendar was deleted, the event with it
    await deps.task_links.record(account_id, task_id, connection_id=None, calendar_id=None,
                                 provider_event_id=None, fingerprint=None, attempts=0,
                                 updated_at=deps.clock())


# --- the tasks calendar of a connection ----------------------------------------------------------

def _connection_timer_id(connection_id: str) -> str:
    return f"outbound:tasks:{connection_id}"


async def schedule_connection(deps: Deps, connection: Connection, delay_s: float = 0.0) -> None:
    """Make the connection's tasks calendar follow its settings (soon, by a timer)."""
    await retry_in(deps, _connection_timer_id(connection.connection_id), TASK_CALENDAR,
                   delay_s, account_id=connection.account_id,
                   connection_id=connection.connection_id, attempts=0)


async def _user_connection(deps: Deps, account_id: str, user_id: str) -> Connection | None:
    connection_id = await deps.slots.holder(account_id, user_id)
    if not connection_id:
        return None
    return await deps.aggregates.load(deps.connections, account_id, connection_id)


async def _eligible_connection(deps: Deps, account_id: str, user_id: str) -> Connection | None:
    connection = await _user_connection(deps, account_id, user_id)
    if connection is None or connection.user_id != user_id:
        return None
    return connection if await _eligible(deps, connection) else None


async def _eligible(deps: Deps, connection: Connection) -> bool:
    user = await deps.users.get(connection.account_id, connection.user_id)
    return task_rules.eligible(user, connection_active=connection.active,
                               sync_enabled=connection.sync_enabled,
                               task_sync_enabled=connection.task_sync_enabled)


async def ensure_task_calendar(deps: Deps, connection: Connection) -> str:
    """The connection's tasks calendar, made now if needed; :class:`_Busy` when another
    replica is making it."""
    lease = await deps.leases.lease(f"lease:tasks:{connection.connection_id}", LEASE,
                                    now=deps.clock())
    if lease is None:
        raise _Busy()
    try:
        return await _make_task_calendar(deps, connection)
    finally:
        await deps.leases.release_claim(lease.claim_id)


async def _make_task_calendar(deps: Deps, connection: Connection) -> str:
    current = await deps.aggregates.load(deps.connections, connection.account_id,
                                         connection.connection_id)
    if current is not None and current.task_calendar_id:
        return current.task_calendar_id
    adapter = await _adapter(deps, connection)
    try:
        calendar_id = await adapter.ensure_task_calendar(
            task_rules.task_calendar_key(connection.connection_id),
            task_rules.TASK_CALENDAR_NAME)
    except AccessDenied as exc:
        await access.lost(deps, connection, connection.calendar_ids, exc.reason)
        raise _Refused() from exc
    finally:
        await adapter.close()

    async def remember(current: Connection, now: datetime) -> rules.Change | None:
        return rules.set_task_calendar(current, calendar_id, now=now)

    await deps.aggregates.change(deps.connections, connection.account_id,
                                 connection.connection_id, remember,
                                 missing=NotFound(connection.connection_id))
    logger.info("made the tasks calendar of %s", connection.connection_id)
    return calendar_id


async def _forget_task_calendar(deps: Deps, connection: Connection, calendar_id: str) -> None:
    async def forget(current: Connection, now: datetime) -> rules.Change | None:
        if current.task_calendar_id != calendar_id:
            return None
        return rules.set_task_calendar(current, None, now=now)

    await deps.aggregates.change(deps.connections, connection.account_id,
                                 connection.connection_id, forget,
                                 missing=NotFound(connection.connection_id))
    await deps.task_links.drop_connection(connection.connection_id)


async def reconcile_connection(deps: Deps, account_id: str, connection_id: str, *,
                               attempt: int = 1) -> float | None:
    """Task sync on (and eligible): the tasks calendar exists and shows every live task of
    the owner with a due time. Off (or not eligible): the tasks calendar is deleted. Returns
    None when done, else the delay before trying again (``attempt``: the how-manieth try,
    for the backoff)."""
    lease = await deps.leases.lease(f"lease:tasks:{connection_id}", LEASE, now=deps.clock())
    if lease is None:
        return BUSY_RETRY_S
    try:
        connection = await deps.aggregates.load(deps.connections, account_id, connection_id)
        if connection is None:
            return None
        if await _eligible(deps, connection):
            await _make_task_calendar(deps, connection)
        elif connection.task_calendar_id:
            await _delete_task_calendar(deps, connection)
            return None
        else:
            return None
    except ProviderUnavailable as exc:
        delay = retry_delay(deps, attempt, exc.retry_after_s)
        logger.info("provider unavailable for the tasks calendar of %s; retrying in %.0f s "
                    "(attempt %s)", connection_id, delay, attempt)
        return delay
    except _Refused:
        return None
    finally:
        await deps.leases.release_claim(lease.claim_id)
    after = ""
    while True:  # backfill: each task under its own lease (busy ones retried by a timer)
        page = await tasks_of_owner(deps.tasks.collection, account_id, connection.user_id,
                                    after)
        for task in page:
            await reconcile_task(deps, account_id, task["task_id"])
        if len(page) < 1000:
            return None
        after = page[-1]["_id"]


async def _delete_task_calendar(deps: Deps, connection: Connection) -> None:
    """Delete the tasks calendar (its events with it) at the provider, then forget it."""
    calendar_id = connection.task_calendar_id
    assert calendar_id is not None
    if connection.active:
        adapter = await _adapter(deps, connection)
        try:
            await adapter.delete_calendar(calendar_id)
        except AccessDenied as exc:
            await access.lost(deps, connection, connection.calendar_ids, exc.reason)
            raise _Refused() from exc
        except CalendarGone:
            pass
        finally:
            await adapter.close()
    await _forget_task_calendar(deps, connection, calendar_id)
    logger.info("deleted the tasks calendar of %s", connection.connection_id)


async def drop_on_disconnect(deps: Deps, connection: Connection,
                             adapter: CalendarAdapter | None) -> None:
    """Disconnect (R32): the tasks calendar is deleted while the credentials still work
    (best effort), and its events forgotten."""
    if connection.task_calendar_id and adapter is not None:
        try:
            await adapter.delete_calendar(connection.task_calendar_id)
        except Exception as exc:  # noqa: BLE001 - best effort; disconnecting goes on
            logger.warning("the tasks calendar of %s could not be deleted (%s)",
                           connection.connection_id, type(exc).__name__)
    await deps.task_links.drop_connection(connection.connection_id)
    await deps.timers.delete(_connection_timer_id(connection.connection_id))


# --- retries (the outbound_retry timer kind) --------------------------------------------------------

async def retry_task(deps: Deps, timer: dict[str, Any]) -> None:
    await reconcile_task(deps, timer["account_id"], timer["task_id"], timer)


async def retry_connection(deps: Deps, timer: dict[str, Any]) -> None:
    attempt = int(timer.get("attempts", 0)) + 1
    delay = await reconcile_connection(deps, timer["account_id"], timer["connection_id"],
                                       attempt=attempt)
    if delay is None:  # unless planned again meanwhile (a setting changed while this ran)
        await deps.timers.delete_where({"_id": timer["_id"], "due_at": timer["due_at"]})
    else:
        await retry_in(deps, timer["_id"], TASK_CALENDAR, delay,
                       account_id=timer["account_id"], connection_id=timer["connection_id"],
                       attempts=attempt)


RETRIES = {TASK: retry_task, TASK_CALENDAR: retry_connection}
"""The subjects of the outbound_retry timer kind this module retries."""
