"""Sending a composed email: the :class:`Mailer` interface and its SMTP implementation.

A mailer either hands the message to the server or raises one of two errors:

* :class:`PermanentDeliveryError`: the server refused *this message* for good (5xx to
  RCPT or DATA). The email is marked failed and never retried.
* :class:`TransientDeliveryError`: nothing is known to be wrong with the message (no
  connection, timeout, 4xx, or a refusal of our own configuration: authentication, the
  sender address, STARTTLS). It is registered as an infrastructure error, so the consumer
  retries the event with backoff and does not commit it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from aiosmtplib import errors as smtp_errors
from convene_kit.store import register_infrastructure_error
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

    async def send(self, message: EmailMessage, *, sender: str, recipients: Sequence[str]) -> None:
        """Send ``message`` from envelope ``sender`` to ``recipients``; raises a
        :class:`DeliveryError` subclass on failure."""
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


class SmtpMailer:
    """Sends through an SMTP server with aiosmtplib, one connection per message."""

    def __init__(self, host: str, port: int, *, starttls: bool = False,
                 username: str | None = None, password: SecretStr | None = None,
                 timeout_s: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> SmtpMailer:
        """The mailer for the configured SMTP server."""
        return cls(settings.smtp_host, settings.smtp_port, starttls=settings.smtp_starttls,
                   username=settings.smtp_username, password=settings.smtp_password,
                   timeout_s=settings.smtp_timeout_s)

    def __repr__(self) -> str:  # no credentials in reprs or logs
        return f"SmtpMailer({self.host}:{self.port}, starttls={self.starttls})"

    async def send(self, message: EmailMessage, *, sender: str, recipients: Sequence[str]) -> None:
        """Connect, (STARTTLS, log in,) send, quit. The message goes out exactly as
        ``message.as_bytes()`` renders it with its own policy (aiosmtplib's
        ``send_message`` would re-fold its headers with ``email.policy.SMTP``)."""
        client = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout_s,
            start_tls=self.starttls, username=self.username,
            password=self._password.get_secret_value() if self._password else None)
        try:
            async with client:
                await client.sendmail(sender, list(recipients), message.as_bytes())
        except Exception as exc:
            error = classify_smtp_error(exc)
            if error is None:
                raise
            raise error from exc
