"""Service functions behind the emails API."""

from __future__ import annotations

from typing import Any

from convene_notifications.store import MailLog


async def list_emails(mail_log: MailLog, account_id: str, meeting_id: str) -> list[dict[str, Any]]:
    """The mail-log entries of one meeting of the caller's account (another account's
    meeting simply has none)."""
    return await mail_log.for_meeting(account_id, meeting_id)
