"""Every Kafka subscriber of calendar-sync, in one place.

* meetings.events.v1: MeetingScheduled / Updated / Rescheduled / Canceled -> the host's
  primary calendar (``outbound``); idempotent by construction (ids derived from the meeting,
  the newest version written kept per meeting).
* records.events.v1: users (who may connect, R22; their seat, R33) and contacts (whose
  events are published, R26) as read models, version-guarded; tasks (TaskUpserted,
  RecordDeleted of a task) into the owner's tasks calendar (``task_sync``, R33),
  idempotent by construction (ids derived from the task, what was written last compared).

Dead letters: none declared. Meeting events are complete snapshots the contract validated; a
provider refusing a write is not the message's fault (access lost is recorded, a provider
that is down is retried by a timer), so anything raised is an outage or a bug: retried,
never dead-lettered.
"""

from __future__ import annotations

from convene_kit.consumer import EventMeta, Handlers
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingsEvent,
    MeetingUpdated,
)
from convene_schemas.events.records import (
    ContactUpserted,
    RecordDeleted,
    RecordsEvent,
    TaskUpserted,
    UserUpserted,
)

from convene_calendar_sync import outbound, read_models, task_sync
from convene_calendar_sync.deps import Deps

TOPICS: list[str] = [MeetingsEvent.TOPIC, RecordsEvent.TOPIC]


def build_handlers(deps: Deps) -> Handlers:
    """The event handlers, by the event classes they consume (``Handlers.on``)."""
    handlers = Handlers()

    @handlers.on(MeetingScheduled, MeetingUpdated, MeetingRescheduled, MeetingCanceled)
    async def on_meeting(meeting: MeetingScheduled | MeetingUpdated | MeetingRescheduled
                         | MeetingCanceled, meta: EventMeta) -> None:
        await outbound.write_meeting(deps, meeting)

    @handlers.on(UserUpserted)
    async def on_user(user: UserUpserted, meta: EventMeta) -> None:
        await read_models.record_user(deps.users, user)
        await task_sync.on_user(deps, user)

    @handlers.on(ContactUpserted)
    async def on_contact(contact: ContactUpserted, meta: EventMeta) -> None:
        await read_models.record_contact(deps.contacts, contact)

    @handlers.on(RecordDeleted)
    async def on_deleted(deleted: RecordDeleted, meta: EventMeta) -> None:
        await read_models.record_deletion(deps.contacts, deleted)
        await task_sync.on_task_deleted(deps, deleted)

    @handlers.on(TaskUpserted)
    async def on_task(task: TaskUpserted, meta: EventMeta) -> None:
        await task_sync.on_task(deps, task)

    return handlers
