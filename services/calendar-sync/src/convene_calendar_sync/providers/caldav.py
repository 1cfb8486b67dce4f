"""The CalDAV adapter (iCloud, Fastmail, Nextcloud, Radicale, ...): RFC 4791 over the
``caldav`` library's async client, RFC 6578 sync-collection for changes, iCalendar built
and read with ``icalendar`` and series expanded with ``recurring_ical_events``.

The URL is the user's, so every request goes through the egress guard
(:func:`convene_kit.egress.guarded_client`): caldav's HTTP session is replaced by a guarded
httpx client (:class:`GuardedDAVClient`). Choices worth knowing:

* Basic auth is sent with every request (no 401 round trip; Digest is not supported).
* The primary calendar is the first VEVENT calendar in href order: RFC 6638's default
  calendar is not read (Radicale has none), and every calendar of the calendar home is
  reported with ``owner`` access (calendars shared from elsewhere are not listed).
* All-day and floating times are read in the calendar's time zone (its
  ``calendar-timezone``), UTC when it has none.
* Writes never ask the server to schedule: attendees carry ``SCHEDULE-AGENT=CLIENT``
  (RFC 6638 §7.1), ``RSVP=FALSE`` and ``PARTSTAT=NEEDS-ACTION``; Radicale implements no
  RFC 6638 scheduling at all (its DAV header lacks ``calendar-auto-schedule``).
* Only Convene's own ``X-CONVENE-MEETING-ID`` marks an event as an integration's: no other
  integration writes a marker that can be recognized reliably and cheaply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any, NoReturn, cast
from urllib.parse import quote, unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

import httpx
from caldav.aio import Calendar, CalendarSet
from caldav.lib import error as dav_error
from convene_kit.egress import EgressPolicy, EgressRefused, Resolver, guarded_client
from lxml import etree

from convene_calendar_sync.domain.calendar_events import (
    ChangePage,
    OutboundEvent,
    ProviderCalendar,
    RemoteEvent,
    WrittenEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent, task_uid
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarGone,
    CursorExpired,
    NotACalendarServer,
    ProviderError,
    ProviderUnavailable,
    UrlRefused,
)
from convene_calendar_sync.providers.caldav_http import GuardedDAVClient
from convene_calendar_sync.providers.caldav_ical import (
    remote_event,
    resource_name,
    task_to_ical,
    to_ical,
    zone_name_of,
)

log = logging.getLogger(__name__)


_CALDAV = "{urn:ietf:params:xml:ns:caldav}"
_CURRENT_USER_PRINCIPAL = "{DAV:}current-user-principal"
_HOME_SET = f"{_CALDAV}calendar-home-set"
_ADDRESS_SET = f"{_CALDAV}calendar-user-address-set"
_CALENDAR_PROPS = ["{DAV:}resourcetype", "{DAV:}displayname", f"{_CALDAV}calendar-timezone",
                   f"{_CALDAV}supported-calendar-component-set"]
_VALID_SYNC_TOKEN = "{DAV:}valid-sync-token"
_GETETAG = "{DAV:}getetag"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TASK_COLLECTION_PREFIX = "convene-tasks-"
"""The collection name of a tasks sub-calendar, before its key: never listed as a
calendar of the account."""


def _public_url(url: str) -> str:
    """``url`` without userinfo, query or fragment: safe for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{parts.port}' if parts.port else ''}{parts.path}"


class CalDavAdapter:
    """A CalDAV account at ``url`` with a username and (app) password. ``resolver``
    replaces the system resolver of the egress guard (tests)."""

    provider = "caldav"

    def __init__(self, url: str, username: str, password: str, *, policy: EgressPolicy,
                 timeout_s: float = 15.0, resolver: Resolver | None = None) -> None:
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and \
                parts.port != 0
        except ValueError:  # e.g. a port that is not a number
            valid = False
        if not valid:
            raise UrlRefused("the CalDAV URL must be an http or https URL with a host")
        self._url = _public_url(url)  # userinfo in the URL is never used nor repeated
        self._username = username
        self._client = GuardedDAVClient(
            session_factory=lambda: guarded_client(policy, resolver=resolver, timeout=timeout_s,
                                                   follow_redirects=True),
            url=self._url, username=username, password=password,
            auth=httpx.BasicAuth(username, password), enable_rfc6764=False,
            rate_limit_handle=False)
        self._principal: tuple[str, str, tuple[str, ...]] | None = None  # url, home, mailtos
        self._zones: dict[str, tzinfo] = {}

    # -- errors ------------------------------------------------------------------------

    @asynccontextmanager
    async def _errors(self, action: str, *, calendar_url: str | None = None,
                      connecting: bool = False) -> AsyncIterator[None]:
        """Translate whatever caldav/httpx raise into the adapter errors of :mod:`.base`.
        Messages name the action and the URL without credentials, never a server body."""
        where = _public_url(calendar_url or self._url)
        try:
            yield
        except ProviderError:
            raise
        except EgressRefused as exc:
            raise UrlRefused(f"{action}: {exc.message}") from exc
        except dav_error.RateLimitError as exc:
            raise ProviderUnavailable(f"{action}: {where} is rate limiting",
                                      retry_after_s=exc.retry_after_seconds) from exc
        except dav_error.AuthorizationError as exc:
            if exc.status == 403:
                raise AccessDenied(f"{action}: {where} refused access (403)",
                                   reason="permission_denied") from exc
            raise AccessDenied(f"{action}: {where} refused the credentials (401)",
                               reason="password_changed") from exc
        except dav_error.DAVError as exc:
            self._raise_for_status(exc.status or 0, action, where, connecting=connecting,
                                   calendar=calendar_url is not None, cause=exc)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"{action}: {where} timed out") from exc
        except (httpx.TransportError, httpx.TooManyRedirects) as exc:
            raise ProviderUnavailable(f"{action}: cannot reach {where} "
                                      f"({type(exc).__name__})") from exc
        except (etree.XMLSyntaxError, ValueError) as exc:
            if connecting:
                raise NotACalendarServer(f"{where} does not answer as a CalDAV server") from exc
            raise ProviderUnavailable(f"{action}: {where} sent an unreadable answer") from exc

    @staticmethod
    def _raise_for_status(status: int, action: str, where: str, *, connecting: bool = False,
                          calendar: bool = False, cause: Exception | None = None) -> NoReturn:
        if status >= 500 or status in (408, 429):
            raise ProviderUnavailable(f"{action}: {where} answered {status}") from cause
        if connecting:
            raise NotACalendarServer(f"{where} does not answer as a CalDAV server "
                                     f"({status or 'no status'})") from cause
        if calendar and status in (404, 409, 410):  # 409: PUT into a missing collection
            raise CalendarGone(f"{action}: the calendar {where} is gone ({status})") from cause
        raise ProviderError(f"{action}: {where} answered {status or 'an error'}") from cause

    # -- account and calendars ---------------------------------------------------------

    async def verify(self) -> list[ProviderCalendar]:
        """Connect-time check: a CalDAV server (``calendar-access`` in its DAV header,
        RFC 4791 §5.1) that accepts the credentials; returns the calendars."""
        async with self._errors("connecting", connecting=True):
            response = await self._client.options(self._url)
            if response.status >= 300:
                self._raise_for_status(response.status, "connecting", self._url,
                                       connecting=True)
            dav = {token.strip().lower() for token in response.headers.get("DAV", "").split(",")}
            if "calendar-access" not in dav:
                raise NotACalendarServer(f"{self._url} does not announce CalDAV "
                                         "(no calendar-access in its DAV header)")
            return await self._list_calendars(connecting=True)

    async def account_email(self) -> str:
        """The principal's ``mailto:`` calendar-user address, else the username when it
        is an email address, else ``username@<host>``."""
        async with self._errors("reading the account"):
            _, _, mailtos = await self._discover()
        if mailtos:
            return mailtos[0]
        if _EMAIL.fullmatch(self._username):
            return self._username.lower()
        return f"{self._username}@{urlsplit(self._url).hostname}".lower()

    async def list_calendars(self) -> list[ProviderCalendar]:
        """The event calendars of the account's calendar home, the primary first."""
        async with self._errors("listing calendars"):
            return await self._list_calendars()

    async def _discover(self, *, connecting: bool = False) -> tuple[str, str, tuple[str, ...]]:
        """The principal URL, its calendar home and its ``mailto:`` addresses (cached)."""
        if self._principal is None:
            found = await self._client.propfind(self._url, props=[_CURRENT_USER_PRINCIPAL])
            self._require_multistatus(found.status, connecting)
            principal = self._url
            for result in found.results or ():
                principal = urljoin(self._url, _props(result).get(_CURRENT_USER_PRINCIPAL)
                                    or principal)
            props = await self._client.propfind(principal, props=[_HOME_SET, _ADDRESS_SET])
            self._require_multistatus(props.status, connecting)
            home, addresses = principal, list[str]()
            for result in props.results or ():
                home_set = _props(result).get(_HOME_SET)
                if isinstance(home_set, list):
                    home_set = home_set[0] if home_set else None
                home = urljoin(principal, home_set) if home_set else home
                addresses += _props(result).get(_ADDRESS_SET) or []
            mailtos = tuple(dict.fromkeys(
                address[7:].lower() for address in addresses
                if address.lower().startswith("mailto:") and _EMAIL.fullmatch(address[7:])))
            self._principal = (principal, home, mailtos)
        return self._principal

    def _require_multistatus(self, status: int, connecting: bool) -> None:
        if status != 207:  # a PROPFIND that WebDAV understood answers 207 Multi-Status
            self._raise_for_status(status, "discovering calendars", self._url,
                                   connecting=connecting or status in (200, 404, 405, 501))

    async def _list_calendars(self, *, connecting: bool = False) -> list[ProviderCalendar]:
        _, home, _ = await self._discover(connecting=connecting)
        listing = await self._client.propfind(home, props=_CALENDAR_PROPS, depth=1)
        self._require_multistatus(listing.status, connecting)
        found: list[tuple[str, str, str | None]] = []
        for result in listing.results or ():
            props = _props(result)
            components = props.get(f"{_CALDAV}supported-calendar-component-set") or ["VEVENT"]
            if f"{_CALDAV}calendar" not in (props.get("{DAV:}resourcetype") or []) or \
                    "VEVENT" not in components:
                continue
            url = urljoin(home, result.href)
            if _is_task_collection(url):
                continue  # R33: Convene's tasks sub-calendar is never offered
            name = props.get("{DAV:}displayname") or url.rstrip("/").rsplit("/", 1)[-1]
            zone = zone_name_of(props.get(f"{_CALDAV}calendar-timezone"))
            if zone:
                self._zones[url] = ZoneInfo(zone)
            found.append((url, str(name), zone))
        found.sort()
        return [ProviderCalendar(calendar_id=url, name=name, primary=index == 0,
                                 access="owner", time_zone=zone)
                for index, (url, name, zone) in enumerate(found)]

    async def _calendar_zone(self, calendar_url: str) -> tzinfo:
        """The calendar's time zone for all-day and floating times: UTC when it has none."""
        if calendar_url not in self._zones:
            response = await self._client.propfind(
                calendar_url, props=[f"{_CALDAV}calendar-timezone"])
            if response.status != 207:
                self._raise_for_status(response.status, "reading the calendar",
                                       _public_url(calendar_url), calendar=True)
            names = [zone_name_of(_props(result).get(f"{_CALDAV}calendar-timezone"))
                     for result in response.results or ()]
            zone = next((name for name in names if name), None)
            self._zones[calendar_url] = ZoneInfo(zone) if zone else UTC
        return self._zones[calendar_url]

    # -- writing -----------------------------------------------------------------------

    def event_url(self, calendar_id: str, event: OutboundEvent) -> str:
        """Where the meeting's event lives: ``<calendar>/<resource name>.ics``."""
        return f"{calendar_id.rstrip('/')}/{quote(resource_name(event.ical_uid), safe='')}.ics"

    async def upsert_event(self, calendar_id: str, event: OutboundEvent) -> WrittenEvent:
        """Create the event (``If-None-Match: *``) or, when it exists, replace it on its
        current ETag (``If-Match``); a write that loses a race is retried once."""
        href = self.event_url(calendar_id, event)
        await self._put(href, to_ical(event).decode(), calendar_id)
        return WrittenEvent(provider_event_id=href)

    async def _put(self, href: str, body: str, calendar_id: str) -> None:
        put_headers = {"Content-Type": "text/calendar; charset=utf-8"}
        async with self._errors("writing the event", calendar_url=calendar_id):
            for _attempt in range(2):
                created = await self._client.put(href, body, {**put_headers,
                                                              "If-None-Match": "*"})
                if created.status != 412:
                    self._written(created.status, calendar_id)
                    return
                etag = await self._etag(href, calendar_id)
                if etag is None:
                    continue  # deleted since: create it again
                replaced = await self._client.put(href, body, {**put_headers, "If-Match": etag})
                if replaced.status != 412:
                    self._written(replaced.status, calendar_id)
                    return
        raise ProviderUnavailable(f"writing the event: {_public_url(href)} kept changing")

    def _written(self, status: int, calendar_id: str) -> None:
        if not 200 <= status < 300:
            self._raise_for_status(status, "writing the event", _public_url(calendar_id),
                                   calendar=True)

    async def _etag(self, href: str, calendar_id: str) -> str | None:
        response = await self._client.request(href, "HEAD")
        if response.status in (404, 410):
            return None
        if not 200 <= response.status < 300:
            self._raise_for_status(response.status, "reading the event", _public_url(href),
                                   calendar=True)
        etag = response.headers.get("ETag")
        if not etag:
            raise ProviderError(f"{_public_url(calendar_id)} gives events no ETag")
        return str(etag)

    async def delete_event(self, calendar_id: str, event: OutboundEvent) -> None:
        """Delete the meeting's event; one that is already gone is fine."""
        await self._delete(self.event_url(calendar_id, event), calendar_id)

    # -- tasks (R33) -------------------------------------------------------------------

    def task_url(self, calendar_id: str, task_id: str) -> str:
        """Where a task's event lives: a resource named after its UID."""
        name = quote(resource_name(task_uid(task_id)), safe="")
        return f"{calendar_id.rstrip('/')}/{name}.ics"

    async def ensure_task_calendar(self, key: str, name: str) -> str:
        """``<calendar home>/convene-tasks-<key>/``: used if it is there, else made with
        MKCALENDAR (caldav's ``make_calendar``) for events only."""
        async with self._errors("making the tasks calendar"):
            _, home, _ = await self._discover()
            cal_id = f"{TASK_COLLECTION_PREFIX}{key}"
            url = urljoin(home if home.endswith("/") else home + "/", cal_id + "/")
            if await self._is_calendar(url):
                return url
            calendar_home: Any = CalendarSet(client=cast(Any, self._client), url=home)
            try:
                made = await calendar_home.make_calendar(
                    name=name, cal_id=cal_id, supported_calendar_component_set=["VEVENT"])
            except dav_error.DAVError:
                if await self._is_calendar(url):  # made meanwhile: fine
                    return url
                raise
            return str(made.url)

    async def _is_calendar(self, url: str) -> bool:
        found = await self._client.propfind(url, props=["{DAV:}resourcetype"], depth=0)
        if found.status in (404, 410):
            return False
        self._require_multistatus(found.status, False)
        return any(f"{_CALDAV}calendar" in (_props(r).get("{DAV:}resourcetype") or [])
                   for r in found.results or ())

    async def delete_calendar(self, calendar_id: str) -> None:
        """DELETE the collection (its events with it); one already gone is fine."""
        await self._delete(calendar_id, calendar_id, action="deleting the calendar")

    async def upsert_task_event(self, calendar_id: str, event: TaskEvent) -> str:
        href = self.task_url(calendar_id, event.task_id)
        await self._put(href, task_to_ical(event).decode(), calendar_id)
        return href

    async def delete_task_event(self, calendar_id: str, task_id: str) -> None:
        await self._delete(self.task_url(calendar_id, task_id), calendar_id)

    async def _delete(self, href: str, calendar_id: str, *,
                      action: str = "deleting the event") -> None:
        async with self._errors(action, calendar_url=calendar_id):
            response = await self._client.delete(href)
            if not (200 <= response.status < 300 or response.status in (404, 410)):
                self._raise_for_status(response.status, action,
                                       _public_url(calendar_id), calendar=True)

    # -- reading -----------------------------------------------------------------------

    async def changes(self, calendar_id: str, cursor: str | None, *,
                      window_start: datetime, window_end: datetime) -> ChangePage:
        """RFC 6578 sync-collection since ``cursor`` (None: a full listing), in one page.
        An expired token raises :class:`CursorExpired` (caldav's silent fallback to a full
        listing is disabled)."""
        async with self._errors("reading changes", calendar_url=calendar_id):
            # caldav's collections are typed for its sync client; awaiting works on ours.
            calendar: Any = Calendar(client=cast(Any, self._client), url=calendar_id)
            try:
                synced = await calendar.get_objects_by_sync_token(
                    sync_token=cursor, load_objects=False, disable_fallback=True)
            except dav_error.AuthorizationError as exc:
                if _VALID_SYNC_TOKEN in exc.preconditions:
                    raise CursorExpired("the calendar's sync token is no longer valid") from exc
                raise
            if not synced.sync_token:
                raise ProviderError("reading changes: the server gave no sync token")
            gone = set(synced.deleted_urls)
            events = [RemoteEvent(provider_event_id=_member_url(calendar_id, url), deleted=True)
                      for url in sorted(gone, key=str)]
            live = [obj.url for obj in synced.objects if obj.url.canonical() not in gone]
            if live:
                zone = await self._calendar_zone(calendar_id)
                own = {*(await self._discover())[2], await self.account_email()}
                # One calendar-multiget for the data, each with the ETag of that data; a
                # member deleted meanwhile is simply missing (the next delta lists it).
                for loaded in await calendar.multiget(live):
                    href = _member_url(calendar_id, loaded.url)
                    try:
                        remote = remote_event(
                            href, loaded.data, etag=loaded.props.get(_GETETAG), zone=zone,
                            own_addresses=own, window=(window_start, window_end))
                    except ValueError:  # one unreadable resource must not block the sync
                        log.warning("skipping unreadable calendar resource %s",
                                    _public_url(href))
                        continue
                    if remote is not None:
                        events.append(remote)
        return ChangePage(events=tuple(events), cursor=str(synced.sync_token),
                          full=cursor is None, done=True)

    async def close(self) -> None:
        """Release the HTTP connections."""
        await self._client.close()


def _is_task_collection(url: str) -> bool:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]).startswith(
        TASK_COLLECTION_PREFIX)


def _props(result: Any) -> dict[str, Any]:
    """The properties of one PROPFIND result (caldav's ``PropfindResult``)."""
    return dict(getattr(result, "properties", None) or {})


def _member_url(calendar_id: str, url: Any) -> str:
    """A calendar member's id: the calendar URL plus the member's quoted file name, the
    same spelling :meth:`CalDavAdapter.event_url` uses, whatever quoting the server chose."""
    name = unquote(urlsplit(str(url)).path.rstrip("/").rsplit("/", 1)[-1])
    return f"{calendar_id.rstrip('/')}/{quote(name, safe='')}"


# -- iCalendar -------------------------------------------------------------------------


