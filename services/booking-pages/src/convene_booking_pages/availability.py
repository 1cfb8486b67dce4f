"""The hosts' busy time, read from calendar-sync's mirror over HTTP (no provider call on the
request path, R29): one GET per host and range, with this service's token."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

import httpx

from convene_booking_pages.domain.errors import Unavailable
from convene_booking_pages.settings import BookingPagesSettings

logger = logging.getLogger(__name__)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class HostAvailability:
    """What booking needs to know of one host over a range."""

    connected: bool
    bookable: bool
    inactive_calendar_ids: list[str] = field(default_factory=list)
    busy: list[Interval] = field(default_factory=list)


class AvailabilityClient:
    """calendar-sync's ``/internal/.../availability``; every failure is :class:`Unavailable`
    (503 to the visitor: booking without knowing the host's time could double-book)."""

    def __init__(self, settings: BookingPagesSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        token = settings.calendar_sync_token.get_secret_value()
        self._client = httpx.AsyncClient(
            base_url=settings.calendar_sync_url.rstrip("/"), transport=transport,
            timeout=settings.calendar_sync_timeout_s,
            headers={"Authorization": f"Bearer {token}"} if token else {})

    async def of_host(self, account_id: str, user_id: str, start: datetime,
                      end: datetime) -> HostAvailability:
        path = (f"/internal/accounts/{quote(account_id, safe='')}/users/"
                f"{quote(user_id, safe='')}/availability")
        try:
            answer = await self._client.get(path, params={"start": start.isoformat(),
                                                          "end": end.isoformat()})
        except httpx.HTTPError as exc:
            logger.warning("calendar-sync's availability did not answer: %s",
                           type(exc).__name__)
            raise Unavailable("availability_unavailable", "Free times cannot be checked right "
                              "now; please try again in a moment.") from exc
        if answer.status_code != 200:
            logger.warning("calendar-sync's availability answered %s", answer.status_code)
            raise Unavailable("availability_unavailable", "Free times cannot be checked right "
                              "now; please try again in a moment.")
        body = answer.json()
        return HostAvailability(
            connected=bool(body["connected"]), bookable=bool(body["bookable"]),
            inactive_calendar_ids=list(body.get("inactive_calendar_ids", [])),
            busy=[(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
                  for b in body.get("busy_merged", [])])
