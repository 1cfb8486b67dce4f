"""Support of calendar-sync's unit tests: builders of records' events, and an in-memory
calendar provider behind the real AdapterFactory (its credential handling, sealing and
opening, runs; only the network is replaced)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from convene_calendar_sync.adapters import AdapterFactory
from convene_calendar_sync.domain.calendar_events import (
    BusyInterval,
    ChangePage,
    OutboundEvent,
    ProviderCalendar,
    RemoteEvent,
    WrittenEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarGone,
    CursorExpired,
    ProviderError,
    ProviderUnavailable,
)
from convene_calendar_sync.providers.google import GoogleGrant
from convene_schemas.events.records import (
    ContactUpserted,
    RecordDeleted,
    TaskUpserted,
    UserUpserted,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ACCOUNT = "acc_1"
BOOKING_PAGES_TOKEN = "booking-pages-token-" + "x" * 32


@dataclass
class FakeCalendar:
    calendar: ProviderCalendar
    events: dict[str, RemoteEvent] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # provider ids, one per change


@dataclass
class FakeAccount:
    """One provider account: its password (or refresh token) and calendars."""

    email: str
    secret: str
    calendars: dict[str, FakeCalendar] = field(default_factory=dict)
    unavailable: int = 0  # the next N calls fail with ProviderUnavailable
    expire_cursors: set[str] = field(default_factory=set)  # calendars whose cursor is dropped
    writes: list[tuple[str, str, OutboundEvent]] = field(default_factory=list)
    channels: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # Google push
    # R33: tasks calendars (id -> task id -> the event) and every task call, in order
    task_calendars: dict[str, dict[str, TaskEvent]] = field(default_factory=dict)
    task_calls: list[tuple[str, str, str]] = field(default_factory=list)
    now: Any = field(default=lambda: NOW)  # the provider's clock (tests share theirs)

    def add_calendar(self, calendar_id: str, *, primary: bool = False, access: str = "owner",
                     name: str | None = None) -> FakeCalendar:
        cal = FakeCalendar(ProviderCalendar(calendar_id=calendar_id, name=name or calendar_id,
                                            primary=primary, access=access))  # type: ignore[arg-type]
        self.calendars[calendar_id] = cal
        return cal

    def put(self, calendar_id: str, event: RemoteEvent) -> None:
        """The owner edits their calendar directly."""
        cal = self.calendars[calendar_id]
        cal.events[event.provider_event_id] = event
        cal.log.append(event.provider_event_id)

    def delete(self, calendar_id: str, provider_event_id: str) -> None:
        cal = self.calendars[calendar_id]
        cal.events[provider_event_id] = RemoteEvent(provider_event_id=provider_event_id,
                                                    deleted=True)
        cal.log.append(provider_event_id)


class FakeAdapter:
    def __init__(self, account: FakeAccount | None, secret: str, provider: str) -> None:
        self.account = account
        self.secret = secret
        self.provider = provider
        self.closed = False

    def _check(self) -> FakeAccount:
        account = self.account
        if account is None or account.secret != self.secret:
            raise AccessDenied("refused", reason="password_changed"
                               if self.provider == "caldav" else "token_revoked")
        if account.unavailable:
            account.unavailable -= 1
            raise ProviderUnavailable("down for a while")
        return account

    async def verify(self) -> list[ProviderCalendar]:
        return await self.list_calendars()

    async def account_email(self) -> str:
        return self._check().email

    async def list_calendars(self) -> list[ProviderCalendar]:
        account = self._check()
        return sorted((c.calendar for c in account.calendars.values()),
                      key=lambda c: (not c.primary, c.calendar_id))

    async def upsert_event(self, calendar_id: str, event: OutboundEvent) -> WrittenEvent:
        account = self._check()
        provider_id = f"evt-{event.meeting_id}"
        account.writes.append(("upsert", calendar_id, event))
        account.put(calendar_id, RemoteEvent(
            provider_event_id=provider_id, deleted=False, ical_uid=event.ical_uid,
            title=event.title, start=event.start, end=event.end,
            attendee_emails=tuple(a.email for a in event.attendees),
            organizer_email=event.organizer_email, convene_meeting_id=event.meeting_id,
            created_by_integration=True, occurrences=(BusyInterval(event.start, event.end),)))
        join = "https://meet.example/abc-defg-hij" if event.want_google_meet else None
        return WrittenEvent(provider_event_id=provider_id, join_url=join)

    async def delete_event(self, calendar_id: str, event: OutboundEvent) -> None:
        account = self._check()
        account.writes.append(("delete", calendar_id, event))
        account.delete(calendar_id, f"evt-{event.meeting_id}")

    async def ensure_task_calendar(self, key: str, name: str) -> str:
        account = self._check()
        calendar_id = f"tasks-{key}"
        if calendar_id not in account.task_calendars:
            account.task_calendars[calendar_id] = {}
            account.task_calls.append(("make_calendar", calendar_id, name))
        return calendar_id

    async def delete_calendar(self, calendar_id: str) -> None:
        account = self._check()
        account.task_calls.append(("delete_calendar", calendar_id, ""))
        account.task_calendars.pop(calendar_id, None)

    async def upsert_task_event(self, calendar_id: str, event: TaskEvent) -> str:
        account = self._check()
        if calendar_id not in account.task_calendars:
            raise CalendarGone("no such calendar")
        account.task_calls.append(("upsert", calendar_id, event.task_id))
        account.task_calendars[calendar_id][event.task_id] = event
        return f"task-{event.task_id}"

    async def delete_task_event(self, calendar_id: str, task_id: str) -> None:
        account = self._check()
        if calendar_id not in account.task_calendars:
            raise CalendarGone("no such calendar")
        account.task_calls.append(("delete", calendar_id, task_id))
        account.task_calendars[calendar_id].pop(task_id, None)

    async def changes(self, calendar_id: str, cursor: str | None, *, window_start: datetime,
                      window_end: datetime) -> ChangePage:
        account = self._check()
        cal = account.calendars[calendar_id]
        if cursor is not None and calendar_id in account.expire_cursors:
            account.expire_cursors.discard(calendar_id)
            raise CursorExpired("gone")
        if cursor is None:  # like Google's: from the window's start (timeMin)
            events = [e for e in cal.events.values()
                      if not e.deleted and (e.end is None or e.end > window_start)]
            return ChangePage(events=tuple(events), cursor=str(len(cal.log)), full=True,
                              done=True)
        changed = list(dict.fromkeys(cal.log[int(cursor):]))
        return ChangePage(events=tuple(cal.events[i] for i in changed), cursor=str(len(cal.log)),
                          full=False, done=True)

    async def watch(self, calendar_id: str, channel_id: str, address: str, token: str,
                    ttl_s: int) -> tuple[str, datetime]:
        account = self._check()
        account.channels[channel_id] = (calendar_id, address, token)
        return f"res-{calendar_id}", account.now() + timedelta(seconds=ttl_s)

    async def stop_channel(self, channel_id: str, resource_id: str) -> None:
        self._check().channels.pop(channel_id, None)

    async def close(self) -> None:
        self.closed = True


class FakeAdapters(AdapterFactory):
    """The real factory with the provider calls replaced by :class:`FakeAccount` lookups."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accounts: dict[str, FakeAccount] = {}  # by login (CalDAV) or refresh token
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (verifier, refresh token)
        self.revoked: list[str] = []
        self.resolver = self.resolve

    @staticmethod
    async def resolve(host: str, port: int) -> list[str]:
        """Names ending in .example are public servers here; IP literals are themselves."""
        if host.endswith(".example"):
            return ["93.184.215.14"]
        import ipaddress

        return [str(ipaddress.ip_address(host.strip("[]")))]

    def account(self, login: str, email: str, secret: str) -> FakeAccount:
        account = FakeAccount(email=email, secret=secret)
        self.accounts[login] = account
        return account

    def caldav(self, url: str, username: str, password: str) -> FakeAdapter:  # type: ignore[override]
        return FakeAdapter(self.accounts.get(username), password, "caldav")

    def google_adapter(self, refresh_token: str,  # type: ignore[override]
                       account_email: str | None = None) -> FakeAdapter:
        account = self.accounts.get(refresh_token)
        return FakeAdapter(account, account.secret if account else "", "google")

    def google_authorization_url(self, state: str, code_verifier: str) -> str:
        return f"https://accounts.example/auth?state={state}"

    async def exchange_google_code(self, code: str, code_verifier: str) -> GoogleGrant:
        verifier, token = self.codes.get(code, ("", ""))
        if not token or verifier != code_verifier:
            raise ProviderError("bad code")
        account = self.accounts[token]
        return replace_grant(token, account.email)

    async def revoke_google(self, refresh_token: str) -> None:
        self.revoked.append(refresh_token)
        account = self.accounts.get(refresh_token)
        if account is not None:
            account.secret = "revoked"


def replace_grant(token: str, email: str) -> GoogleGrant:
    fields = {f: None for f in GoogleGrant.__dataclass_fields__}  # type: ignore[attr-defined]
    fields.update(refresh_token=token, account_email=email,
                  scopes=("https://www.googleapis.com/auth/calendar",))
    return GoogleGrant(**fields)  # type: ignore[arg-type]



def user_upserted(user_id: str, version: int = 0, **fields: Any) -> UserUpserted:
    values: dict[str, Any] = {
        "email": f"{user_id}@acme.example", "name": f"User {user_id}",
        "time_zone": "Europe/Rome", "language": "it", "seat": "sales_professional",
        "personal_email_access": True, "active": True}
    values.update(fields)
    return UserUpserted(account_id=fields.pop("account_id", ACCOUNT), version=version,
                        occurred_at=NOW - timedelta(days=1), user_id=user_id, **values)


def contact_upserted(contact_id: str, email: str, version: int = 0) -> ContactUpserted:
    return ContactUpserted(account_id=ACCOUNT, version=version,
                           occurred_at=NOW - timedelta(days=1), contact_id=contact_id,
                           email=email, email_valid=True, email_invalid_reason=None,
                           first_name="Dana", last_name="Lee")


async def connect_google(harness: Any, client: Any, mint: Any, user_id: str = "u1") -> Any:
    """Connect ``user_id``'s Google account (refresh token ``refresh-1``) through the API:
    start, the user consents (a code for the stored verifier), the callback. Returns the
    provider account; ``account.connection`` is the callback's answer."""
    await harness.deliver(user_upserted(user_id))
    email = f"{user_id}@gmail.example"
    google = harness.adapters.account("refresh-1", email, "refresh-1")
    google.now = harness.clock
    google.add_calendar(email, primary=True)
    started = await client.post("/connections/google", headers=mint(user_id))
    state = started.json()["authorization_url"].split("state=")[1]
    [pending] = [d for d in harness.collection("oauth_states").docs.values()
                 if d.get("user_id") == user_id]
    verifier = harness.service.deps.box.open(
        pending["verifier"], context=f"calendar-sync:oauth-state:{ACCOUNT}:{user_id}")
    harness.adapters.codes["c"] = (verifier, "refresh-1")
    done = await client.get("/connections/google/callback",
                            params={"state": state, "code": "c"}, headers=mint(user_id))
    assert done.status_code == 201, done.text
    google.connection = done.json()
    return google


def task_upserted(task_id: str, version: int = 0, **fields: Any) -> TaskUpserted:
    values: dict[str, Any] = {"title": "Call Dana back", "owner_user_id": "u1",
                              "due_at": NOW + timedelta(days=1), "status": "not_started"}
    values.update(fields)
    return TaskUpserted(account_id=ACCOUNT, version=version,
                        occurred_at=NOW + timedelta(seconds=version), task_id=task_id, **values)


def task_deleted(task_id: str, version: int) -> RecordDeleted:
    return RecordDeleted(account_id=ACCOUNT, version=version,
                         occurred_at=NOW + timedelta(seconds=version), record_kind="task",
                         record_id=task_id)
