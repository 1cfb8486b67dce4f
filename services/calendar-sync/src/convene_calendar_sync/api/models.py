"""Request and response models of calendar-sync's API. No model carries a credential out:
passwords come in (``CalDavConnect``) and are never echoed; tokens never appear."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from convene_kit.boundary import RequestModel
from pydantic import BaseModel, Field, SecretStr

from convene_calendar_sync.domain.connection import Connection


class CalDavConnect(RequestModel):
    """POST /connections/caldav: a CalDAV account (iCloud, Fastmail, Nextcloud style)."""

    url: str = Field(min_length=8, max_length=2000,
                     description="The CalDAV server or calendar-home URL (http or https).")
    username: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=1000,
                                description="An app password; stored encrypted, never shown.")


class ConnectionSettings(RequestModel):
    """PATCH /connections/{id}: any of the settings (omitted: unchanged)."""

    calendar_ids: list[str] | None = Field(
        default=None, max_length=50, description="The calendars that count for "
        "availability (R29); each must be listed by the account with event details (R31).")
    primary_calendar_id: str | None = Field(
        default=None, max_length=1024, description="Where meetings are written (R15).")
    sync_enabled: bool | None = Field(default=None, description="Calendar sync (R26).")
    task_sync_enabled: bool | None = Field(default=None, description="Task sync (R33).")


class GoogleStart(BaseModel):
    authorization_url: str = Field(description="Send the user's browser here.")


class CalendarRead(BaseModel):
    calendar_id: str
    name: str
    access: Literal["owner", "writer", "reader", "free_busy"]
    added: bool = Field(description="Counts for availability (R29).")
    primary: bool
    active: bool = Field(description="False while access is lost (R30).")


class ConnectionRead(BaseModel):
    connection_id: str
    provider: Literal["google", "caldav"]
    account_email: str
    server_url: str | None = None
    status: Literal["active", "disconnected"]
    bookable: bool = Field(description="Every counted calendar is reachable (R30).")
    access_lost_reason: str | None = None
    sync_enabled: bool
    task_sync_enabled: bool
    purpose: Literal["all", "calendar_settings", "meetings_settings"]
    primary_calendar_id: str
    calendars: list[CalendarRead]
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, connection: Connection) -> ConnectionRead:
        inactive = set(connection.inactive_calendar_ids)
        return cls(
            connection_id=connection.connection_id, provider=connection.provider,
            account_email=connection.account_email, server_url=connection.server_url,
            status=connection.status, bookable=connection.bookable,
            access_lost_reason=connection.access_lost_reason,
            sync_enabled=connection.sync_enabled,
            task_sync_enabled=connection.task_sync_enabled, purpose=connection.purpose,
            primary_calendar_id=connection.primary_calendar_id,
            calendars=[CalendarRead(calendar_id=c.calendar_id, name=c.name, access=c.access,
                                    added=c.calendar_id in connection.calendar_ids,
                                    primary=c.calendar_id == connection.primary_calendar_id,
                                    active=c.calendar_id not in inactive)
                       for c in connection.listed],
            version=connection.version, updated_at=connection.updated_at)


class ConnectionList(BaseModel):
    connections: list[ConnectionRead]
