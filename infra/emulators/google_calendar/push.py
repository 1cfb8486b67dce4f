"""Push channels (events.watch, channels.stop) and their notifications, as the push guide
describes them (providers.md §2.6): a `sync` message (number 1) right after the watch, `exists`
on every change of the watched calendar, `not_exists` when the calendar is gone; no body; the
headers X-Goog-Channel-ID, -Token (if set), -Expiration, X-Goog-Resource-ID, -URI, -State and
X-Goog-Message-Number. Nothing is sent after a channel expires or is stopped. A 500, 502, 503,
504 or no answer is retried with exponential backoff.

Notifications of one channel go out in order, one at a time, from a task per channel.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import logging
import re
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from infra.emulators.google_calendar import errors, times
from infra.emulators.google_calendar.state import Calendar, Channel, EmulatorState

log = logging.getLogger("google-emulator.push")
CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")
RETRIED_STATUSES = (500, 502, 503, 504)


class PushChannels:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.queues: dict[str, asyncio.Queue[dict[str, str] | None]] = {}
        self.workers: set[asyncio.Task[None]] = set()

    # --- API -------------------------------------------------------------------------------

    def watch(self, calendar: Calendar, user: str, body: dict[str, Any],
              resource_uri: str) -> dict[str, Any]:
        channel_id = body.get("id")
        if not channel_id:
            raise errors.required("Missing channel id.", "id")
        if not isinstance(channel_id, str) or not CHANNEL_ID.fullmatch(channel_id):
            raise errors.ApiError(400, "channelIdInvalid", "Channel id must match "
                                  "[A-Za-z0-9\\-_\\+/=]+ and be at most 64 characters.")
        if channel_id in self.state.channels:
            raise errors.ApiError(400, "channelIdNotUnique", "Channel id not unique")
        if body.get("type") not in ("web_hook", "webhook"):
            raise errors.invalid("Invalid value for: type", "type")
        address = body.get("address") or ""
        self._check_address(address)
        now = self.state.now()
        ttl = (body.get("params") or {}).get("ttl")
        try:
            lifetime = int(ttl) if ttl is not None else self.state.config.default_channel_ttl
        except ValueError:
            raise errors.invalid("Invalid value for: params.ttl", "params.ttl") from None
        expiration = now + timedelta(seconds=min(lifetime, self.state.config.max_channel_ttl))
        if body.get("expiration"):
            try:
                requested = times.UTC_EPOCH + timedelta(milliseconds=int(body["expiration"]))
            except (TypeError, ValueError, OverflowError):
                raise errors.invalid("Invalid value for: expiration", "expiration") from None
            expiration = min(expiration, max(requested, now))
        channel = Channel(id=channel_id, resource_id=calendar.resource_id,
                          resource_uri=resource_uri, calendar_id=calendar.id, user=user,
                          address=address, token=body.get("token"), expiration=expiration)
        self.state.channels[channel_id] = channel
        self._send(channel, "sync")
        answer = {"kind": "api#channel", "id": channel.id, "resourceId": channel.resource_id,
                  "resourceUri": channel.resource_uri, "expiration": str(_millis(expiration))}
        if channel.token is not None:
            answer["token"] = channel.token
        return answer

    def stop(self, user: str, body: dict[str, Any]) -> None:
        channel = self.state.channels.get(body.get("id") or "")
        if (channel is None or channel.user != user or channel.stopped
                or channel.resource_id != body.get("resourceId")):
            raise errors.not_found()
        channel.stopped = True

    def _check_address(self, address: str) -> None:
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.ApiError(400, "push.webhookUrlUnparseable",
                                  f"Unparseable WebHook callback URL: {address}")
        if parts.scheme != "https" and self.state.config.require_https_push:
            raise errors.ApiError(400, "push.webhookUrlNotHttps",
                                  f"WebHook callback must be HTTPS: {address}")
        if not self.state.config.push_to_any_host and not _loopback(parts.hostname):
            raise errors.ApiError(400, "push.webhookUrlUnauthorized",
                                  f"Unauthorized WebHook callback channel: {address}")

    # --- notifications ---------------------------------------------------------------------

    def changed(self, calendar: Calendar) -> None:
        for channel in self._active(calendar.id):
            self._send(channel, "exists")

    def gone(self, calendar: Calendar) -> None:
        for channel in self._active(calendar.id):
            self._send(channel, "not_exists")
            channel.stopped = True

    def _active(self, calendar_id: str) -> list[Channel]:
        now = self.state.now()
        return [c for c in self.state.channels.values()
                if c.calendar_id == calendar_id and not c.stopped and c.expiration > now]

    def _send(self, channel: Channel, resource_state: str) -> None:
        channel.message_number += 1
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": resource_state,
            "X-Goog-Message-Number": str(channel.message_number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        queue = self.queues.get(channel.id)
        if queue is None:
            queue = self.queues[channel.id] = asyncio.Queue()
            task = asyncio.get_running_loop().create_task(self._deliver_all(channel, queue))
            self.workers.add(task)
            task.add_done_callback(self.workers.discard)
        queue.put_nowait(headers)

    async def _deliver_all(self, channel: Channel,
                           queue: asyncio.Queue[dict[str, str] | None]) -> None:
        while (headers := await queue.get()) is not None:
            await self._deliver(channel, headers)

    async def _deliver(self, channel: Channel, headers: dict[str, str]) -> None:
        delays = (0.0, *self.state.config.push_retry_delays)
        for attempt, delay in enumerate(delays, start=1):
            await asyncio.sleep(delay)
            record: dict[str, Any] = {
                "channelId": channel.id, "address": channel.address, "attempt": attempt,
                "state": headers["X-Goog-Resource-State"],
                "messageNumber": int(headers["X-Goog-Message-Number"]),
                "at": times.utc_millis(self.state.now()),
            }
            try:
                record["status"] = await asyncio.to_thread(
                    _post, channel.address, headers, self.state.config.push_timeout)
            except (OSError, http.client.HTTPException) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            self.state.notifications.append(record)
            if record.get("status") not in RETRIED_STATUSES and "error" not in record:
                return
            log.info("push to %s failed (%s), attempt %d", channel.address,
                     record.get("status") or record.get("error"), attempt)

    async def close(self) -> None:
        for queue in self.queues.values():
            queue.put_nowait(None)
        for task in list(self.workers):
            task.cancel()
        if self.workers:
            await asyncio.gather(*self.workers, return_exceptions=True)
        self.queues.clear()


def _post(address: str, headers: dict[str, str], timeout: float) -> int:
    """One notification: a POST with no body (http.client: no proxies, quick to import)."""
    parts = urlsplit(address)
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=b"", headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
