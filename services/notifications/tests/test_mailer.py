"""SMTP outcomes map to "failed for good" or "retry later", and secrets stay secret."""

from __future__ import annotations

import os

import pytest
from aiosmtplib import errors as smtp
from convene_kit.store import is_infrastructure_error
from convene_notifications.mailer import (
    PermanentDeliveryError,
    SmtpMailer,
    TransientDeliveryError,
    classify_smtp_error,
)
from convene_notifications.settings import NotificationsSettings
from pydantic import SecretStr


@pytest.mark.parametrize(("exc", "code"), [
    (smtp.SMTPRecipientsRefused([smtp.SMTPRecipientRefused(550, "5.1.1 no such user", "x@y.z")]),
     550),
    (smtp.SMTPRecipientRefused(553, "5.1.3 bad address", "x@y.z"), 553),
    (smtp.SMTPDataError(554, "5.7.1 message refused"), 554),
])
def test_5xx_to_the_recipient_or_the_data_is_permanent(exc: Exception, code: int) -> None:
    error = classify_smtp_error(exc)
    assert isinstance(error, PermanentDeliveryError) and error.code == code
    assert not is_infrastructure_error(error)


@pytest.mark.parametrize("exc", [
    smtp.SMTPRecipientsRefused([smtp.SMTPRecipientRefused(450, "4.2.1 mailbox busy", "x@y.z")]),
    smtp.SMTPDataError(451, "4.3.0 try again later"),
    smtp.SMTPConnectError("Error connecting to 127.0.0.1 on port 18025: refused"),
    smtp.SMTPServerDisconnected("Connection lost"),
    smtp.SMTPReadTimeoutError("Timed out waiting for server response"),
    smtp.SMTPAuthenticationError(535, "5.7.8 bad credentials"),  # our setup, not the mail
    smtp.SMTPSenderRefused(550, "5.7.1 sender not allowed", "meetings@convene.test"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_no_connection_timeouts_4xx_and_our_own_setup_are_retried(exc: Exception) -> None:
    error = classify_smtp_error(exc)
    assert isinstance(error, TransientDeliveryError)
    assert is_infrastructure_error(error)


def test_the_enhanced_status_code_is_kept() -> None:
    error = classify_smtp_error(smtp.SMTPDataError(554, "5.7.1 spam detected"))
    assert error is not None and error.enhanced_status == "5.7.1"


def test_a_bug_is_not_mistaken_for_a_delivery_failure() -> None:
    assert classify_smtp_error(TypeError("oops")) is None


def test_the_password_never_shows_in_reprs() -> None:
    settings = NotificationsSettings(smtp_username="mailer", smtp_password="hunter2-secret")
    mailer = SmtpMailer.from_settings(settings)
    assert "hunter2" not in repr(mailer) and "hunter2" not in repr(settings)
    assert isinstance(settings.smtp_password, SecretStr)


def test_defaults_point_at_the_local_sink_without_starttls(monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith("CONVENE_")]:
        monkeypatch.delenv(name)
    settings = NotificationsSettings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "127.0.0.1", 18025, False)
    assert str(settings.sender) == "Convene <meetings@convene.test>"
    assert (settings.service_name, settings.http_port) == ("notifications", 8104)


def test_a_bad_sender_setting_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="mail_from"):
        NotificationsSettings(mail_from="not an address")
