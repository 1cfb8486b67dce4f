"""The invitation email as a MIME message (stdlib ``email`` only).

Structure (what Google Calendar, Outlook and Apple Mail all recognise as an iMIP
invitation, RFC 6047)::

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8
        text/calendar; method=REQUEST; charset=utf-8
      application/ics; name="invite.ics"   (attachment, the same .ics)

Headers are set only through the library with :data:`MAIL_POLICY` (``email.policy.SMTP``,
which refuses CR/LF in a header value); addresses are :class:`~email.headerregistry.Address`
objects and the subject is made single-line first, so no user text can add a header.
Every body part is 7bit, quoted-printable or base64, so the message is plain ASCII and
needs no 8BITMIME/SMTPUTF8 from the server; send ``message.as_bytes()`` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime

from convene_notifications.domain.addresses import single_line
from convene_notifications.domain.planning import Method

ICS_FILENAME = "invite.ics"


class _MailPolicy(EmailPolicy):
    """``email.policy.SMTP``, except that a header is never folded right after its name.

    CPython moves a whole value of about 70-77 characters onto a continuation line
    (``Subject:\r\n Invitation: ...``). That is valid RFC 5322, but Python's own parser
    then reads the value with a leading space; joining the first two lines keeps every
    line far below the 998-octet limit.
    """

    def fold(self, name: str, value: str) -> str:
        folded = super().fold(name, value)
        empty_first_line = f"{name}:{self.linesep} "
        if folded.startswith(empty_first_line):
            return f"{name}: {folded[len(empty_first_line):]}"
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        folded = super().fold_binary(name, value)
        empty_first_line = f"{name}:{self.linesep} ".encode("ascii")
        if folded.startswith(empty_first_line):
            return f"{name}: ".encode("ascii") + folded[len(empty_first_line):]
        return folded


MAIL_POLICY = _MailPolicy(linesep="\r\n")
"""The policy of every message: SMTP line endings, headers through the header registry."""


@dataclass(frozen=True)
class EmailContent:
    """What a template rendered for one recipient: subject and the two readable bodies."""

    subject: str
    text: str
    html: str


def _cte(text: str) -> str:
    # Chosen here, not by the server's 8BITMIME support, so the bytes never depend on it.
    return "7bit" if text.isascii() else "quoted-printable"


def _text_and_html(
    *,
    sender: Address,
    recipient: Address,
    reply_to: Address | None,
    content: EmailContent,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """The headers and the text/plain + text/html alternatives every email has."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = sender
    message["To"] = recipient
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Subject"] = single_line(content.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message.set_content(content.text, subtype="plain", charset="utf-8", cte=_cte(content.text))
    message.add_alternative(content.html, subtype="html", charset="utf-8",
                            cte=_cte(content.html))
    return message


def _finish(message: EmailMessage) -> EmailMessage:
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]  # EmailMessage adds it to every part; only the top needs it
    return message


def calendar_email(
    *,
    sender: Address,
    recipient: Address,
    reply_to: Address | None,
    content: EmailContent,
    ics: bytes,
    method: Method,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """One email carrying an iCalendar object both inline (text/calendar) and attached."""
    message = _text_and_html(sender=sender, recipient=recipient, reply_to=reply_to,
                             content=content, message_id=message_id, date=date)
    calendar_text = ics.decode("utf-8")
    message.add_alternative(calendar_text, subtype="calendar", charset="utf-8",
                            cte=_cte(calendar_text), params={"method": method})
    message.make_mixed()
    message.add_attachment(ics, maintype="application", subtype="ics", filename=ICS_FILENAME,
                           params={"name": ICS_FILENAME})
    return _finish(message)


def plain_email(
    *,
    sender: Address,
    recipient: Address,
    reply_to: Address | None,
    content: EmailContent,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """One email without a calendar part (reminders): text/plain + text/html."""
    return _finish(_text_and_html(sender=sender, recipient=recipient, reply_to=reply_to,
                                  content=content, message_id=message_id, date=date))
