"""Sending a composed email: the :class:`Mailer` interface and its SMTP implementation.

A mailer either hands the message to the server or raises one of two errors:

* :class:`PermanentDeliveryError`: the server refused *this message* for good (5xx to
  RCPT or DATA). The email is marked failed and never retried.
* :class:`TransientDeliveryError`: nothing is known to be wrong with the message (no
  connection, timeout, 4xx, or a refusal of our own configuration: authentication, the
  sender address, STARTTLS). The email goes on the durable retry queue (``service_layer.retry_worker``); the
  error stays registered as an infrastructure error for code that lets it propagate.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from aiosmtplib import errors as smtp_errors
from convene_kit.store import register_infrastructure_error
from prometheus_client import Counter
from pydantic import SecretStr

from convene_notifications.settings import NotificationsSettings

_ENHANCED_STATUS = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


class DeliveryError(Exception):
    """An email was not handed over; ``code`` is the SMTP reply code when there was one."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(f"{code} {reason}" if code else reason)
        self.code = code
        self.reason = reason[:1000]
        match = _ENHANCED_STATUS.match(reason)
        self.enhanced_status = match.group(1) if match else None


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good (5xx): do not retry."""


class TransientDeliveryError(DeliveryError):
    """The message could not be handed over now: retry later (infrastructure failure)."""


register_infrastructure_error(TransientDeliveryError)


class Mailer(Protocol):
    """Hands one message to the mail system (tests inject a fake)."""

    async def send(self, message: EmailMessage | bytes, *, sender: str,
                   recipients: Sequence[str]) -> None:
        """Send ``message`` (or its exact bytes) from envelope ``sender`` to
        ``recipients``; raises a :class:`DeliveryError` subclass on failure."""
        ...


def _by_code(code: int, reason: str) -> DeliveryError:
    return (PermanentDeliveryError if 500 <= code < 600 else TransientDeliveryError)(reason, code)


def classify_smtp_error(exc: Exception) -> DeliveryError | None:
    """The delivery error an aiosmtplib/network exception stands for; None for anything
    else (a bug, which must surface as itself)."""
    if isinstance(exc, smtp_errors.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return _by_code(first.code, first.message)
    if isinstance(exc, (smtp_errors.SMTPRecipientRefused, smtp_errors.SMTPDataError)):
        return _by_code(exc.code, exc.message)
    if isinstance(exc, smtp_errors.SMTPResponseException):
        # Sender refused, authentication, HELO, greeting: our setup, not this message.
        return TransientDeliveryError(exc.message, exc.code)
    if isinstance(exc, (smtp_errors.SMTPException, OSError)):
        return TransientDeliveryError(f"{type(exc).__name__}: {exc}")
    return None


SMTP_CONNECTIONS_OPENED = Counter(
    "convene_smtp_connections_opened_total", "SMTP connections opened (reused ones are not).")

_GONE = (smtp_errors.SMTPServerDisconnected, ConnectionError)
"""What a reused connection the server closed while it sat idle fails with."""


@dataclass
class _Connection:
    """One open SMTP session of the pool."""

    client: aiosmtplib.SMTP
    messages: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class SmtpMailer:
    """Sends through an SMTP server with aiosmtplib, reusing connections.

    At most ``pool_size`` sessions are open at once; a session is reused for up to
    ``max_messages_per_connection`` messages and closed after ``idle_timeout_s`` unused (by
    :meth:`run`, a background task). A session that failed in any way is closed, never
    reused. A reused session the server closed meanwhile is replaced by a new one once, at
    once, so an idle timeout on the server's side costs no retry.
    """

    def __init__(self, host: str, port: int, *, starttls: bool = False,
                 username: str | None = None, password: SecretStr | None = None,
                 timeout_s: float = 30.0, ca_file: str | None = None, pool_size: int = 4,
                 max_messages_per_connection: int = 100, idle_timeout_s: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout_s = timeout_s
        self.ca_file = ca_file
        self.max_messages_per_connection = max_messages_per_connection
        self.idle_timeout_s = idle_timeout_s
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[_Connection] = []

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> SmtpMailer:
        """The mailer for the configured SMTP server."""
        return cls(settings.smtp_host, settings.smtp_port, starttls=settings.smtp_starttls,
                   username=settings.smtp_username, password=settings.smtp_password,
                   timeout_s=settings.smtp_timeout_s, ca_file=settings.smtp_ca_file,
                   pool_size=settings.smtp_pool_size,
                   max_messages_per_connection=settings.smtp_max_messages_per_connection,
                   idle_timeout_s=settings.smtp_idle_timeout_s)

    def __repr__(self) -> str:  # no credentials in reprs or logs
        return f"SmtpMailer({self.host}:{self.port}, starttls={self.starttls})"

    async def send(self, message: EmailMessage | bytes, *, sender: str,
                   recipients: Sequence[str]) -> None:
        """Send on a pooled session (STARTTLS and login happen when it is opened). The
        message goes out exactly as given, or as ``message.as_bytes()`` renders it with its
        own policy (aiosmtplib's ``send_message`` would re-fold its headers)."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        async with self._slots:
            reused = self._take_idle()
            if reused is not None:
                try:
                    await self._send_on(reused, sender, recipients, raw)
                    return
                except _GONE:
                    pass  # closed by the server while idle: once more on a new session
            await self._send_on(await self._open(), sender, recipients, raw, fresh=True)

    async def _send_on(self, connection: _Connection, sender: str, recipients: Sequence[str],
                       raw: bytes, *, fresh: bool = False) -> None:
        try:
            await connection.client.sendmail(sender, list(recipients), raw)
        except Exception as exc:
            await _close(connection)
            if not fresh and isinstance(exc, _GONE):
                raise
            error = classify_smtp_error(exc)
            if error is None:
                raise
            raise error from exc
        connection.messages += 1
        if connection.messages >= self.max_messages_per_connection:
            await _close(connection)
        else:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)

    async def _open(self) -> _Connection:
        client = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout_s,
            start_tls=self.starttls, cert_bundle=self.ca_file, username=self.username,
            password=self._password.get_secret_value() if self._password else None)
        try:
            await client.connect()
        except Exception as exc:
            client.close()
            error = classify_smtp_error(exc)
            if error is None:
                raise
            raise error from exc
        SMTP_CONNECTIONS_OPENED.inc()
        return _Connection(client)

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle session still worth reusing (LIFO)."""
        while self._idle:
            connection = self._idle.pop()
            if connection.client.is_connected:
                return connection
            connection.client.close()
        return None

    async def close_idle(self, older_than_s: float = 0.0) -> None:
        """Close the idle sessions unused for ``older_than_s`` seconds (all with 0)."""
        now = time.monotonic()
        keep = [c for c in self._idle if now - c.idle_since < older_than_s]
        expired = [c for c in self._idle if c not in keep]
        self._idle = keep
        for connection in expired:
            await _close(connection)

    async def run(self, stopping: asyncio.Event) -> None:
        """Background task: close sessions idle too long; close them all on shutdown."""
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.idle_timeout_s / 2)
            except TimeoutError:
                await self.close_idle(self.idle_timeout_s)
        await self.close_idle()


async def _close(connection: _Connection) -> None:
    """QUIT politely when possible, else drop the socket; never raises."""
    try:
        if connection.client.is_connected:
            await asyncio.wait_for(connection.client.quit(), timeout=5)
    except Exception:  # noqa: BLE001 - a session being closed has nothing left to report
        connection.client.close()
