"""The calendar connection aggregate and the events it raises (R22, R25, R30–R32).

A :class:`Connection` is one provider account of one user: the calendars the account lists,
the ones the user added (all of them count for availability, R29), the primary one (where
meetings are written, R15), and the switches (calendar sync R26, task sync R33). Its id is
derived from (account, user, provider, provider account), so connecting the same account
again after a disconnect continues the same aggregate (``reconnected``, R32) and two
concurrent connects of one account cannot make two.

Credentials are not part of the aggregate: they are sealed in their own collection and never
reach an event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from convene_schemas.base import Event
from convene_schemas.events.calendar_sync import (
    AccessLossReason,
    Calendar,
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarConnected,
    CalendarConnectionUpdated,
    CalendarDisconnected,
)
from pydantic import BaseModel, ConfigDict, Field

from convene_calendar_sync.domain.calendar_events import ProviderCalendar
from convene_calendar_sync.domain.errors import RuleViolation

Provider = Literal["google", "caldav"]
Purpose = Literal["all", "calendar_settings", "meetings_settings"]
SettingField = Literal["calendars", "primary_calendar_id", "sync_enabled", "task_sync_enabled"]

SYNC_ON_BY_DEFAULT: dict[str, bool] = {"google": True, "caldav": True}
"""R26: calendar sync is on by default for Google (and Microsoft 365, part 2)."""

WRITABLE = ("owner", "writer")


def connection_id_for(account_id: str, user_id: str, provider: str, account_email: str) -> str:
    """The one id a provider account of a user has: ``con_`` + 32 hex digits."""
    key = f"{account_id}:{user_id}:{provider}:{account_email.strip().lower()}"
    return "con_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class ListedCalendar(BaseModel):
    """A calendar the provider account lists (what the user may add)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendar_id: str
    name: str
    primary: bool
    access: Literal["owner", "writer", "reader", "free_busy"]
    time_zone: str | None = None

    @classmethod
    def of(cls, calendar: ProviderCalendar) -> ListedCalendar:
        return cls(calendar_id=calendar.calendar_id, name=calendar.name[:500],
                   primary=calendar.primary, access=calendar.access,
                   time_zone=calendar.time_zone)


class Connection(BaseModel):
    """One provider account of one user, as calendar-sync stores it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: str
    account_id: str
    user_id: str
    provider: Provider
    account_email: str
    server_url: str | None = None  # CalDAV: the URL the user gave (no credentials in it)
    listed: list[ListedCalendar] = Field(default_factory=list)
    calendar_ids: list[str] = Field(default_factory=list)  # added by the user; all count
    primary_calendar_id: str
    inactive_calendar_ids: list[str] = Field(default_factory=list)  # access lost (R30)
    access_lost_reason: str | None = None
    sync_enabled: bool = True
    task_sync_enabled: bool = False
    # R33: the sub-calendar made for tasks (never listed, counted, primary or synced inbound)
    task_calendar_id: str | None = None
    purpose: Purpose = "all"
    status: Literal["active", "disconnected"] = "active"
    was_disconnected: bool = False
    credentials_at: datetime | None = None  # when the current credentials were given
    version: int = 0
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def bookable(self) -> bool:
        """R30: every counted calendar is reachable."""
        return self.active and not (set(self.inactive_calendar_ids) & set(self.calendar_ids))

    def listed_calendar(self, calendar_id: str) -> ListedCalendar | None:
        return next((c for c in self.listed if c.calendar_id == calendar_id), None)

    def calendars(self) -> list[Calendar]:
        """The contract's view of the calendars the user added."""
        inactive = set(self.inactive_calendar_ids)
        out = []
        for calendar_id in self.calendar_ids:
            listed = self.listed_calendar(calendar_id)
            access = listed.access if listed else "reader"
            out.append(Calendar(
                calendar_id=calendar_id, name=listed.name if listed else calendar_id,
                primary=calendar_id == self.primary_calendar_id,
                access="reader" if access == "free_busy" else access,
                active=calendar_id not in inactive))
        return out

    def _state(self, now: datetime) -> dict[str, Any]:
        return {"account_id": self.account_id, "version": self.version, "occurred_at": now,
                "connection_id": self.connection_id, "user_id": self.user_id,
                "provider": self.provider}

    def state_fields(self, now: datetime) -> dict[str, Any]:
        """The fields of :class:`ConnectionState` events."""
        return {**self._state(now), "account_email": self.account_email,
                "calendars": self.calendars(), "primary_calendar_id": self.primary_calendar_id,
                "sync_enabled": self.sync_enabled, "task_sync_enabled": self.task_sync_enabled,
                "purpose": self.purpose}

    def next(self, now: datetime, **values: Any) -> Connection:
        return self.model_copy(update={**values, "version": self.version + 1,
                                       "updated_at": now})


Change = tuple[Connection, list[Event]]


def _primary_of(listed: Sequence[ListedCalendar]) -> ListedCalendar:
    writable = [c for c in listed if c.access in WRITABLE]
    primary = next((c for c in writable if c.primary), None) or (writable[0] if writable else None)
    if primary is None:
        raise RuleViolation("no_writable_calendar",
                            "The account has no calendar Convene can write meetings to.")
    return primary


def new_connection(*, account_id: str, user_id: str, provider: Provider, account_email: str,
                   listed: Iterable[ProviderCalendar], now: datetime,
                   server_url: str | None = None) -> Change:
    """A first connection of this provider account: its primary calendar added (R29)."""
    calendars = [ListedCalendar.of(c) for c in listed]
    primary = _primary_of(calendars)
    connection = Connection(
        connection_id=connection_id_for(account_id, user_id, provider, account_email),
        account_id=account_id, user_id=user_id, provider=provider, account_email=account_email,
        server_url=server_url, listed=calendars, calendar_ids=[primary.calendar_id],
        primary_calendar_id=primary.calendar_id, sync_enabled=SYNC_ON_BY_DEFAULT[provider],
        credentials_at=now, created_at=now, updated_at=now)
    return connection, [CalendarConnected(**connection.state_fields(now))]


def reconnect(connection: Connection, *, listed: Iterable[ProviderCalendar], now: datetime,
              server_url: str | None = None) -> Change:
    """The same provider account connected again: after a disconnect a fresh start
    (``reconnected``, R32); while connected (new credentials, e.g. after a password change)
    the calendars it lists are refreshed and lost access is restored (R30)."""
    calendars = [ListedCalendar.of(c) for c in listed
                 if c.calendar_id != connection.task_calendar_id]  # R33: never offered
    listed_ids = {c.calendar_id for c in calendars}
    if not connection.active:
        primary = _primary_of(calendars)
        new = connection.next(now, status="active", was_disconnected=True, listed=calendars,
                              calendar_ids=[primary.calendar_id],
                              primary_calendar_id=primary.calendar_id,
                              inactive_calendar_ids=[], access_lost_reason=None,
                              server_url=server_url or connection.server_url,
                              sync_enabled=SYNC_ON_BY_DEFAULT[connection.provider],
                              task_sync_enabled=False, task_calendar_id=None,
                              credentials_at=now)
        return new, [CalendarConnected(**new.state_fields(now), reconnected=True)]
    kept = [c for c in connection.calendar_ids if c in listed_ids] or [
        _primary_of(calendars).calendar_id]
    primary_id = (connection.primary_calendar_id if connection.primary_calendar_id in kept
                  else kept[0])
    restored = [c for c in connection.inactive_calendar_ids if c in listed_ids]
    gone = [c for c in connection.calendar_ids if c not in listed_ids]
    new = connection.next(now, listed=calendars, calendar_ids=kept, primary_calendar_id=primary_id,
                          inactive_calendar_ids=[], access_lost_reason=None,
                          server_url=server_url or connection.server_url, credentials_at=now)
    events: list[Event] = []
    if restored:
        events.append(CalendarAccessRestored(**new._state(now), restored_calendar_ids=restored))
    changed: list[SettingField] = []
    if gone:
        changed.append("calendars")
    if primary_id != connection.primary_calendar_id:
        changed.append("primary_calendar_id")
    if changed:
        events.append(CalendarConnectionUpdated(**new.state_fields(now), changed_fields=changed))
    if not events:  # nothing a consumer needs to know: refreshed credentials only
        return new, []
    return new, events


def change_settings(connection: Connection, *, now: datetime,
                    calendar_ids: Sequence[str] | None = None,
                    primary_calendar_id: str | None = None,
                    sync_enabled: bool | None = None,
                    task_sync_enabled: bool | None = None) -> Change | None:
    """New settings (R26, R29, R31, R33); None when nothing changes."""
    if not connection.active:
        raise RuleViolation("connection_disconnected", "The connection is disconnected.")
    values: dict[str, Any] = {}
    primary = primary_calendar_id or connection.primary_calendar_id
    wanted = list(dict.fromkeys(calendar_ids)) if calendar_ids is not None else list(
        connection.calendar_ids)
    if primary not in wanted:
        wanted.insert(0, primary)
    for calendar_id in wanted:
        listed = connection.listed_calendar(calendar_id)
        if listed is None or calendar_id == connection.task_calendar_id:
            raise RuleViolation("calendar_not_listed",
                                "The account does not list this calendar.",
                                {"calendar_id": calendar_id})
        if listed.access == "free_busy":  # R31: without event details it cannot be mirrored
            raise RuleViolation("calendar_details_hidden",
                                "This shared calendar shows only free/busy, not event "
                                "details; ask its owner to share event details.",
                                {"calendar_id": calendar_id})
    primary_listed = connection.listed_calendar(primary)
    if primary_listed is None or primary_listed.access not in WRITABLE:
        raise RuleViolation("primary_not_writable",
                            "The primary calendar must be one Convene can write to.",
                            {"calendar_id": primary})
    if wanted != connection.calendar_ids:
        values["calendar_ids"] = wanted
    if primary != connection.primary_calendar_id:
        values["primary_calendar_id"] = primary
    if sync_enabled is not None and sync_enabled != connection.sync_enabled:
        values["sync_enabled"] = sync_enabled
    if task_sync_enabled is not None and task_sync_enabled != connection.task_sync_enabled:
        values["task_sync_enabled"] = task_sync_enabled
    if not values:
        return None
    new = connection.next(now, **values)
    changed: list[SettingField] = [
        "calendars" if field == "calendar_ids" else field for field in values]  # type: ignore[misc]
    return new, [CalendarConnectionUpdated(**new.state_fields(now), changed_fields=changed)]


def disconnect(connection: Connection, *, now: datetime,
               reason: Literal["disconnected_by_user", "user_deactivated", "replaced"]
               = "disconnected_by_user") -> Change | None:
    """The connection removed (R32); None when it already is."""
    if not connection.active:
        return None
    new = connection.next(now, status="disconnected")
    return new, [CalendarDisconnected(**new._state(now), reason=reason)]


def lose_access(connection: Connection, *, calendar_ids: Iterable[str],
                reason: AccessLossReason, now: datetime,
                credentials_at: datetime | None = None) -> Change | None:
    """R30: calendars the account can no longer read; None when already known, or when
    the failure came from credentials older than the connection's (``credentials_at``: a
    call that started before the user reconnected)."""
    if credentials_at is not None and connection.credentials_at not in (None, credentials_at):
        return None
    newly = [c for c in dict.fromkeys(calendar_ids)
             if c in connection.calendar_ids and c not in connection.inactive_calendar_ids]
    if not connection.active or not newly:
        return None
    new = connection.next(now, inactive_calendar_ids=[*connection.inactive_calendar_ids, *newly],
                          access_lost_reason=reason)
    return new, [CalendarAccessLost(**new._state(now), reason=reason,
                                    affected_calendar_ids=newly)]


def restore_access(connection: Connection, *, calendar_ids: Iterable[str],
                   now: datetime) -> Change | None:
    """Calendars readable again (a sync succeeded after a temporary loss)."""
    back = [c for c in dict.fromkeys(calendar_ids) if c in connection.inactive_calendar_ids]
    if not connection.active or not back:
        return None
    rest = [c for c in connection.inactive_calendar_ids if c not in back]
    new = connection.next(now, inactive_calendar_ids=rest,
                          access_lost_reason=connection.access_lost_reason if rest else None)
    return new, [CalendarAccessRestored(**new._state(now), restored_calendar_ids=back)]



def set_task_calendar(connection: Connection, calendar_id: str | None, *,
                      now: datetime) -> Change | None:
    """Remember (or forget, None) the sub-calendar made for the connection's tasks (R33);
    internal to calendar-sync, so no event. None when nothing changes, or the connection
    is no longer active (its sub-calendar is not remembered across a disconnect)."""
    if calendar_id == connection.task_calendar_id or (calendar_id and not connection.active):
        return None
    listed = [c for c in connection.listed if c.calendar_id != calendar_id]
    return connection.next(now, task_calendar_id=calendar_id, listed=listed), []
