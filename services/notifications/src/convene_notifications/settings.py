"""Settings of the notifications service: CONVENE_* environment variables (see convene_kit)."""

from __future__ import annotations

from email.headerregistry import Address

from convene_kit.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator

from convene_notifications.domain.addresses import parse_mailbox


class NotificationsSettings(ServiceSettings):
    """notifications' settings; everything else comes from the shared base."""

    service_name: str = "notifications"
    http_port: int = 8104

    # Outgoing mail (SMTP submission)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 18025
    smtp_starttls: bool = Field(default=False, description="Upgrade with STARTTLS (required).")
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="Never logged.")
    smtp_timeout_s: float = 30.0
    smtp_ca_file: str | None = Field(
        default=None, description="PEM bundle the SMTP server's certificate is verified "
        "against (STARTTLS); the system's trust store when unset.")
    smtp_pool_size: int = Field(default=4, ge=1, description="SMTP sessions open at once, at most.")
    smtp_max_messages_per_connection: int = Field(
        default=100, ge=1, description="Messages sent on one SMTP session before it is closed.")
    smtp_idle_timeout_s: float = Field(
        default=30.0, gt=0, description="An SMTP session unused this long is closed.")
    reminder_poll_interval_s: float = Field(default=0.5, gt=0,
                                            description="How often due reminders are polled.")
    reminder_batch_size: int = Field(default=100, ge=1,
                                     description="Due timers fired per poll, at most.")
    mail_retry_base_s: float = Field(default=10.0, gt=0,
                                     description="First wait after a transient SMTP failure.")
    mail_retry_cap_s: float = Field(default=1800.0, gt=0,
                                    description="Longest wait between two attempts.")
    mail_retry_max_attempts: int = Field(default=12, ge=1,
                                         description="Attempts before an email is given up.")
    mail_retry_poll_interval_s: float = Field(default=1.0, gt=0,
                                              description="How often due retries are polled.")
    mail_retry_batch_size: int = Field(default=50, ge=1,
                                       description="Due retries tried per poll, at most.")
    mail_retry_lease_s: float = Field(default=300.0, gt=0,
                                      description="How long one replica holds an attempt.")
    join_link_wait_s: float = Field(default=600.0, ge=0, description=(
        "How long the first invitation of a video meeting waits for its join link."))
    mail_from: str = Field(
        default="Convene <meetings@convene.test>",
        description="The From mailbox of every email; its domain also names Message-IDs.",
    )

    @field_validator("smtp_username", "smtp_password", "smtp_ca_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("mail_from")
    @classmethod
    def _valid_mailbox(cls, value: str) -> str:
        if parse_mailbox(value) is None:
            raise ValueError(f"mail_from is not a mailbox: {value!r}")
        return value

    @property
    def sender(self) -> Address:
        """``mail_from`` as an address (validated at start-up)."""
        sender = parse_mailbox(self.mail_from)
        assert sender is not None
        return sender
