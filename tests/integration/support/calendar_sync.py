"""calendar-sync's integration-test helpers: an account whose host may connect a calendar,
Radicale calendars made per test (CalDAV, the real server), calendar-sync's API, and the
events of its topic."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import caldav
import httpx
from convene_kit.testing import read_records, topic_size
from convene_schemas.envelope import from_kafka_message

from support import audit, crash_after_provider_write, endpoint, wait_for
from support.services import Stack
from support.skeleton import auth

if TYPE_CHECKING:
    from infra.emulators.google_calendar.client import EmulatorAdmin


def radicale_password(user: str) -> str:
    return json.loads(Path(endpoint("CONVENE_CALDAV_CREDENTIALS_FILE")).read_text())[user]


def _edit_htpasswd(edit: Callable[[str], str]) -> None:
    """Rewrite Radicale's htpasswd file in one step (Radicale reads it on every login: a
    file truncated and then written could be read empty, and the failed login would be
    remembered for 90 s)."""
    users = Path(endpoint("CONVENE_CALDAV_CREDENTIALS_FILE")).with_name("users")
    draft = users.with_name(f"users.{uuid.uuid4().hex}.tmp")
    draft.write_text(edit(users.read_text()))
    os.replace(draft, users)


@asynccontextmanager
async def own_radicale_user() -> AsyncIterator[RadicaleCalendars]:
    """A Radicale user made for one test, for tests that change its password. Never a shared
    user: Radicale remembers a failed login (user and password) for 90 s (cache_logins), so
    a shared user's password changed and restored would keep failing other tests' logins
    with the old one after it."""
    from passlib.hash import sha512_crypt  # ships with Radicale

    user, password = f"u{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(12)
    _edit_htpasswd(lambda text: f"{text}{user}:{sha512_crypt.hash(password)}\n")
    calendars = RadicaleCalendars(user, password)
    try:
        yield calendars
    finally:
        await calendars.cleanup()
        _edit_htpasswd(lambda text: re.sub(rf"(?m)^{user}:.*\n", "", text))


class SyncAccount:
    """A CRM account (through records' API) with a host who may connect a calendar (R22),
    a colleague, and a contact with an email address."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.id = f"acc_{uuid.uuid4().hex[:12]}"
        admin = stack.token(self.id, "usr_admin", roles="admin")
        tag = uuid.uuid4().hex[:6]
        with httpx.Client(base_url=stack.url("records"), headers=auth(admin), timeout=10) as c:
            assert c.post("/account", json={"name": "Hooli"}).status_code == 201
            self.host = c.post("/users", json={
                "email": f"host-{tag}@hooli.example", "name": "Hana Host",
                "time_zone": "Europe/Rome", "language": "en", "seat": "sales_professional",
                "personal_email_access": True}).json()
            self.colleague = c.post("/users", json={
                "email": f"coll-{tag}@hooli.example", "name": "Cole League",
                "time_zone": "Europe/Rome", "language": "en", "seat": "sales_professional"}).json()
            self.contact = c.post("/contacts", json={
                "email": f"dana-{tag}@client.example", "first_name": "Dana"}).json()
        assert "id" in self.host and "id" in self.colleague and "id" in self.contact

    def token(self, user_id: str | None = None, roles: str = "team") -> str:
        return self.stack.token(self.id, user_id or self.host["id"], roles=roles)


async def sync_call(stack: Stack, method: str, path: str, token: str, **kwargs: Any
                    ) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url("calendar-sync"), timeout=30) as client:
        return await client.request(method, path, headers=auth(token), **kwargs)


async def meetings_call(stack: Stack, method: str, path: str, token: str, json: Any = None
                        ) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=30) as client:
        return await client.request(method, path, json=json, headers=auth(token))


class RadicaleCalendars:
    """Calendars of one Radicale user made for one test (removed at the end)."""

    def __init__(self, user: str = "alice", password: str | None = None) -> None:
        self.user = user
        self.password = password or radicale_password(user)
        self.url = endpoint("CONVENE_CALDAV_URL")
        self.made: list[str] = []

    def _client(self) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.url, username=self.user, password=self.password)

    async def make(self, name: str) -> str:
        """A new calendar; its collection URL (what calendar-sync calls the calendar id)."""
        cal_id = f"{name}-{uuid.uuid4().hex[:8]}"

        def make() -> str:
            with self._client() as client:
                return str(client.principal().make_calendar(name=cal_id, cal_id=cal_id).url)

        url = await asyncio.to_thread(make)
        self.made.append(url)
        return url

    async def resources(self, calendar_url: str) -> dict[str, str]:
        """href -> iCalendar text of every object in the calendar."""
        def read() -> dict[str, str]:
            with self._client() as client:
                calendar = client.calendar(url=calendar_url)
                found = {}
                for item in calendar.objects():
                    try:
                        item.load()
                    except caldav.lib.error.NotFoundError:
                        continue  # deleted between the listing and the read
                    found[str(item.url)] = item.data or ""
                return found

        return await asyncio.to_thread(read)

    async def put(self, calendar_url: str, ics: str) -> str:
        def save() -> str:
            with self._client() as client:
                return str(client.calendar(url=calendar_url).save_event(ics).url)

        return await asyncio.to_thread(save)

    async def delete(self, href: str) -> None:
        def remove() -> None:
            with self._client() as client:
                client.request(href, "DELETE")

        await asyncio.to_thread(remove)

    async def calendar_urls(self) -> list[str]:
        """Every calendar collection of the user (those of other tests included)."""
        def listing() -> list[str]:
            with self._client() as client:
                return [str(c.url) for c in client.principal().calendars()]

        return await asyncio.to_thread(listing)

    def change_password(self) -> str:
        """Give the user a new password at the server (the new one, also kept here)."""
        from passlib.hash import sha512_crypt  # ships with Radicale

        new_password = f"changed-{uuid.uuid4().hex}"
        _edit_htpasswd(lambda text: re.sub(rf"(?m)^{re.escape(self.user)}:.*$",
                                           f"{self.user}:{sha512_crypt.hash(new_password)}",
                                           text))
        self.password = new_password
        return new_password

    async def cleanup(self) -> None:
        def remove() -> None:
            with self._client() as client:
                for url in self.made:
                    try:
                        client.calendar(url=url).delete()
                    except Exception:  # noqa: BLE001 - best effort, the next make is fresh anyway
                        pass

        await asyncio.to_thread(remove)


def vevent(uid: str, title: str, start: datetime, minutes: int = 30, *,
           organizer: str, attendees: tuple[str, ...] = (), extra: str = "") -> str:
    """A VEVENT as a calendar app writes it (UTC times)."""
    def stamp(moment: datetime) -> str:
        return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Calendar//EN", "BEGIN:VEVENT",
             f"UID:{uid}", f"DTSTAMP:{stamp(datetime.now(timezone.utc))}",
             f"DTSTART:{stamp(start)}", f"DTEND:{stamp(start + timedelta(minutes=minutes))}",
             f"SUMMARY:{title}", f"ORGANIZER:mailto:{organizer}"]
    lines += [f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{a}" for a in attendees]
    if extra:
        lines += extra.strip().splitlines()
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


async def connect_caldav(stack: Stack, acc: SyncAccount, radicale: RadicaleCalendars,
                         primary: str, *additional: str) -> dict[str, Any]:
    """Connect the host's CalDAV account (retried while calendar-sync has not seen the
    host yet), then make ``primary`` the primary and count ``additional`` too."""
    body = {"url": radicale.url, "username": radicale.user, "password": radicale.password}

    async def attempt() -> httpx.Response | None:
        answer = await sync_call(stack, "POST", "/connections/caldav", acc.token(), json=body)
        if answer.status_code == 403:  # records' UserUpserted not applied yet
            return None
        return answer

    connected = await wait_for(attempt, "calendar-sync to know the host", timeout=40)
    assert connected.status_code == 201, connected.text
    connection_id = connected.json()["connection_id"]
    changed = await sync_call(stack, "PATCH", f"/connections/{connection_id}", acc.token(),
                              json={"primary_calendar_id": primary,
                                    "calendar_ids": [primary, *additional]})
    assert changed.status_code == 200, changed.text
    return changed.json()


async def _events(stack: Stack, logical_topic: str, account_id: str) -> list[Any]:
    bootstrap = endpoint("CONVENE_KAFKA_BOOTSTRAP")
    if await topic_size(bootstrap, stack.topic(logical_topic)) == 0:
        return []
    records = await read_records(bootstrap, stack.topic(logical_topic), expected=1)
    events = [from_kafka_message(r.value, r.headers, r.key).event for r in records]
    return [e for e in events if e.account_id == account_id]


async def sync_events(stack: Stack, account_id: str, kind: type | None = None) -> list[Any]:
    """The account's events on the stack's calendar-sync topic, in topic order."""
    return [e for e in await _events(stack, "calendar-sync.events.v1", account_id)
            if kind is None or isinstance(e, kind)]


async def meeting_events_of(stack: Stack, account_id: str) -> list[Any]:
    """The account's events on the stack's meetings topic, in topic order."""
    return await _events(stack, "meetings.events.v1", account_id)


async def disconnect_all(stack: Stack, acc: SyncAccount) -> None:
    """Disconnect the host's connections (a test's connections stop polling its servers)."""
    listed = await sync_call(stack, "GET", "/connections", acc.token())
    for connection in listed.json().get("connections", []):
        if connection["status"] == "active":
            await sync_call(stack, "DELETE", f"/connections/{connection['connection_id']}",
                            acc.token())


@asynccontextmanager
async def dies_after_the_provider_write(stack: Stack, title: str) -> AsyncIterator[None]:
    """calendar-sync restarted so that it dies (SIGKILL) right after the provider accepts
    the meeting titled ``title`` (support/crash_after_provider_write.py); the block makes
    that meeting. On leaving, the death is checked and calendar-sync started normally."""
    stack.restart("calendar-sync", module=crash_after_provider_write.MODULE,
                  extra={crash_after_provider_write.TITLE_VARIABLE: title})
    sync = stack.services["calendar-sync"]
    try:
        yield
        await wait_for(lambda: sync.process.poll() is not None, "calendar-sync to die",
                       timeout=40)
        assert sync.process.returncode == -9
        assert crash_after_provider_write.MESSAGE in sync.log_tail(), sync.log_tail()
    finally:
        stack.start("calendar-sync")


async def host_bookable(stack: Stack, acc: SyncAccount) -> bool:
    """Whether a colleague sees the host as bookable over the coming week (R30)."""
    now = datetime.now(timezone.utc)
    answer = await sync_call(stack, "GET", f"/users/{acc.host['id']}/availability",
                             acc.token(acc.colleague["id"]),
                             params={"start": now.isoformat(),
                                     "end": (now + timedelta(days=7)).isoformat()})
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["bookable"])


# --- tasks (R33) ---------------------------------------------------------------------------------

async def records_call(stack: Stack, method: str, path: str, token: str, json: Any = None
                       ) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url("records"), timeout=30) as client:
        return await client.request(method, path, json=json, headers=auth(token))


async def add_user(stack: Stack, acc: SyncAccount, name: str, seat: str) -> dict[str, Any]:
    """Another user of the account who may connect a calendar, with ``seat``."""
    admin = stack.token(acc.id, "usr_admin", roles="admin")
    made = await records_call(stack, "POST", "/users", admin, json={
        "email": f"{name.lower()}-{uuid.uuid4().hex[:6]}@hooli.example", "name": name,
        "time_zone": "Europe/Rome", "language": "en", "seat": seat,
        "personal_email_access": True})
    assert made.status_code == 201, made.text
    return made.json()


async def turn_task_sync_on(stack: Stack, token: str, connection_id: str) -> dict[str, Any]:
    changed = await sync_call(stack, "PATCH", f"/connections/{connection_id}", token,
                              json={"task_sync_enabled": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["task_sync_enabled"] is True
    return changed.json()


# --- Google (the emulator) ----------------------------------------------------------------------

async def authorize_google(stack: Stack, token: str, google: EmulatorAdmin,
                           email: str) -> dict[str, str]:
    """Start connecting as ``token``'s user, let the emulated ``email`` consent, and return
    the callback's query (``state``, ``code``) as Google's redirect carries it."""
    async def start() -> httpx.Response | None:
        answer = await sync_call(stack, "POST", "/connections/google", token)
        return None if answer.status_code == 403 else answer  # the user not known yet

    started = await wait_for(start, "calendar-sync to know the user", timeout=40)
    assert started.status_code == 200, started.text
    google.consent(email)
    async with httpx.AsyncClient(timeout=10) as browser:
        redirect = await browser.get(started.json()["authorization_url"])
    assert redirect.status_code == 302, redirect.text
    query = parse_qs(urlparse(redirect.headers["location"]).query)
    return {name: values[0] for name, values in query.items()}


async def connect_google_account(stack: Stack, token: str, google: EmulatorAdmin,
                                 email: str) -> dict[str, Any]:
    """Connect the emulator's ``email`` for ``token``'s user through the authorization code
    flow; the connection as answered. Its refresh tokens join the run's audit."""
    callback = await authorize_google(stack, token, google, email)
    done = await sync_call(stack, "GET", "/connections/google/callback", token, params=callback)
    assert done.status_code == 201, done.text
    for grant in google.grants(email):  # the run's audit: no refresh token anywhere
        audit.AUDIT.remember_secret(grant["refreshToken"] or "")
    return done.json()  # type: ignore[no-any-return]


STORM_KINDS = ("rateLimitExceeded", "userRateLimitExceeded", "429", "503")
"""What a throttling storm answers: 403 rateLimitExceeded, 403 userRateLimitExceeded, 429
rateLimitExceeded and 503 backendError (all retried by googleapiclient, then by calendar-sync)."""

STORM_REASONS = ("rateLimitExceeded", "userRateLimitExceeded", "backendError")


def add_throttling_storm(google: EmulatorAdmin, rounds: int, calls_per_fault: int = 3) -> int:
    """Queue ``rounds`` of every storm kind (``calls_per_fault`` failing calls each) on every
    events call of the emulator, interleaved so that consecutive failures are of every kind;
    the number of calls that will fail."""
    for _ in range(rounds):
        for kind in STORM_KINDS:
            google.add_fault("events.*", kind, calls_per_fault)
    return rounds * len(STORM_KINDS) * calls_per_fault


def failed_calls(google: EmulatorAdmin, email: str) -> list[dict]:
    """The user's API calls the emulator answered with a throttling or backend error (of its
    last 10,000 requests)."""
    return [r for r in google.requests() if r.get("user") == email
            and r.get("status") in (403, 429, 503) and r.get("reason") in STORM_REASONS]
