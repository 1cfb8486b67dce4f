"""CRM tasks in a sub-calendar of the owner's provider account (R7, R33). Pure rules.

* **Who**: a task is shown only when its owner is an active user with a paid seat
  (``PAID_SEATS``) and has an active connection with calendar sync and task sync on
  (:func:`eligible`).
* **Where**: one sub-calendar per connection, made for tasks ("Convene tasks"), never the
  primary, never counted for availability, never synced inbound.
* **What**: a task with a due time is a :data:`TASK_EVENT_MINUTES`-minute event in UTC at
  that time, titled with the task's title; a completed task keeps its event, titled
  ``"✓ <title>"`` and shown as free (transparent). A task without a due time, deleted, or
  whose owner is not eligible has no event (one written before is removed).
* **Which version**: records' read model keeps the newest TaskUpserted per task, so the
  event is always written from the newest state; :func:`plan` compares it with what was
  written last (a fingerprint and the place) so a redelivered event writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from convene_schemas.events.records import PAID_SEATS

TASK_EVENT_MINUTES = 30
COMPLETED_PREFIX = "✓ "
TASK_CALENDAR_NAME = "Convene tasks"


def task_calendar_key(connection_id: str) -> str:
    """The deterministic name part of a connection's tasks calendar (CalDAV collection
    ``convene-tasks-<key>``, Google's description marker)."""
    return hashlib.sha256(f"convene-tasks:{connection_id}".encode()).hexdigest()[:16]


def task_uid(task_id: str) -> str:
    """The iCalendar UID of a task's event: stable per task, never a meeting's."""
    return f"convene-task-{task_id}"


@dataclass(frozen=True)
class TaskEvent:
    """A task as written into the tasks calendar."""

    task_id: str
    uid: str
    version: int  # the task's version (iCalendar SEQUENCE)
    title: str  # already prefixed when completed
    start: datetime  # aware, UTC
    end: datetime
    completed: bool

    def fingerprint(self) -> str:
        """What the provider event shows: equal fingerprints, nothing to write."""
        data = {k: v for k, v in asdict(self).items() if k != "version"}
        return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()
                              ).hexdigest()[:32]


def eligible(user: Mapping[str, Any] | None, *, connection_active: bool, sync_enabled: bool,
             task_sync_enabled: bool) -> bool:
    """R33: with calendar sync and task sync on, and a paid seat, an active user's tasks
    are shown."""
    return bool(user is not None and user.get("active", False)
                and user.get("seat") in PAID_SEATS
                and connection_active and sync_enabled and task_sync_enabled)


def task_event(task: Mapping[str, Any] | None) -> TaskEvent | None:
    """The event a task (its read-model state) is shown as; None for none."""
    if task is None or task.get("deleted") or task.get("due_at") is None:
        return None
    start: datetime = task["due_at"]
    completed = task.get("status") == "completed"
    title = str(task["title"])
    return TaskEvent(task_id=str(task["task_id"]), uid=task_uid(str(task["task_id"])),
                     version=int(task["version"]),
                     title=f"{COMPLETED_PREFIX}{title}" if completed else title,
                     start=start, end=start + timedelta(minutes=TASK_EVENT_MINUTES),
                     completed=completed)


@dataclass(frozen=True)
class Place:
    """Where a task's event lives: a connection's tasks calendar."""

    connection_id: str
    calendar_id: str


@dataclass(frozen=True)
class Plan:
    """What to do for one task: remove the event from ``remove_from`` (first), then write
    ``write`` into ``write_to``. Nothing to do when both are None."""

    remove_from: Place | None = None
    write_to: Place | None = None
    write: TaskEvent | None = None

    @property
    def nothing(self) -> bool:
        return self.remove_from is None and self.write_to is None


def plan(wanted: TaskEvent | None, target: Place | None,
         written: Mapping[str, Any] | None) -> Plan:
    """From the wanted event, where it should be (None: the owner is not eligible) and
    what was written last (``connection_id``, ``calendar_id``, ``fingerprint``), what to
    do. A reassigned task, or one whose owner turned task sync off, leaves the old place;
    an unchanged one writes nothing (a redelivered or older event)."""
    current = None
    if written and written.get("connection_id") and written.get("calendar_id"):
        current = Place(written["connection_id"], written["calendar_id"])
    if wanted is None or target is None:
        return Plan(remove_from=current)
    if current == target and written and written.get("fingerprint") == wanted.fingerprint():
        return Plan()
    return Plan(remove_from=current if current not in (None, target) else None,
                write_to=target, write=wanted)
