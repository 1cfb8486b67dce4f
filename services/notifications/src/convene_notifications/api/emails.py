"""GET /emails: the mail log of one meeting, for operators and tests.

Shows what was sent to whom and how it went; never an email's subject or body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from convene_kit.auth import CurrentPrincipal
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from convene_notifications.service_layer.emails import list_emails
from convene_notifications.store import MailLog

router = APIRouter(tags=["emails"])


class EmailError(BaseModel):
    """Why an email failed (final for ``failed``; the last try's for ``sending``)."""

    reason: str = Field(description="invalid_address, rejected or temporary_failure.")
    code: int | None = Field(default=None, description="The SMTP reply code, if any.")
    message: str = Field(description="The server's reply or the local explanation.")


class EmailRead(BaseModel):
    """One outgoing email."""

    id: str = Field(description="The email's id, derived from its idempotency key.")
    meeting_id: str
    recipient: str = Field(description="The address it was (to be) sent to.")
    kind: str = Field(description="invitation, update or cancellation.")
    sequence: int = Field(description="The .ics SEQUENCE (the meeting's version).")
    state: str = Field(description="sending, retrying (on the retry queue), sent or failed.")
    message_id: str = Field(description="The Message-ID header, the same on every try.")
    sent_at: datetime | None = None
    error: EmailError | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> EmailRead:
        """The read model of a mail-log entry."""
        return cls(id=entry["_id"], meeting_id=entry["meeting_id"],
                   recipient=entry["recipient"], kind=entry["kind"],
                   sequence=entry["sequence"], state=entry["state"],
                   message_id=entry["message_id"], sent_at=entry.get("sent_at"),
                   error=entry.get("error"))


class EmailList(BaseModel):
    """Emails of one meeting, oldest first."""

    items: list[EmailRead]


def mail_log(request: Request) -> MailLog:
    """The mail log the service was built with (bootstrap puts it on the app)."""
    return request.app.state.mail_log


@router.get("/emails", response_model=EmailList, summary="The emails of one meeting")
async def get_emails(
    principal: CurrentPrincipal,
    log: Annotated[MailLog, Depends(mail_log)],
    meeting_id: Annotated[str, Query(min_length=1, max_length=200)],
) -> EmailList:
    entries = await list_emails(log, principal.account_id, meeting_id)
    return EmailList(items=[EmailRead.of(entry) for entry in entries])
