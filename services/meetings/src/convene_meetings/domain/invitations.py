"""Who is sent invitations (R13, R28).

Two decisions: whether the meeting sends invitations at all (R28: only with calendar sync;
that rule needs the calendar-connection read model and arrives with it, so the policy here
is "send"), and, when it does, which attendees get one (R13: a contact only with a valid
email address; users always have one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from convene_meetings.domain.directory import ContactProfile

NoInviteReason = Literal["email_missing", "email_invalid", "invitations_off"]


@dataclass(frozen=True)
class InvitationPolicy:
    """Whether a meeting sends invitations, and why not when it does not."""

    send: bool = True
    reason: Literal["calendar_sync_off", "synced_from_calendar", "disabled_by_user"] | None = None


SEND_INVITATIONS = InvitationPolicy()


def invitation_policy_for_crm_meeting() -> InvitationPolicy:
    """The policy of a meeting scheduled from a CRM record.

    R28 (no calendar sync: logged on the record, no invitation) plugs in here once meetings
    keeps the hosts' calendar connections; until then every CRM meeting sends invitations.
    """
    return SEND_INVITATIONS


def with_user_switch(policy: InvitationPolicy, send_requested: bool) -> InvitationPolicy:
    """The user's "send invitations" switch applied on top of the calendar's ``policy``.

    A calendar that sends none (``calendar_sync_off``, ``synced_from_calendar``) wins: its
    reason stays. Otherwise the switch off means ``disabled_by_user``.
    """
    if not policy.send or send_requested:
        return policy
    return InvitationPolicy(send=False, reason="disabled_by_user")


def contact_no_invite_reason(contact: ContactProfile) -> NoInviteReason | None:
    """Why ``contact`` gets no invitation (R13), or None if it does."""
    if not contact.email or contact.email_invalid_reason == "missing":
        return "email_missing"
    if not contact.email_valid:
        return "email_invalid"
    return None


@dataclass(frozen=True)
class NotInvited:
    """An attendee the meeting was saved with but who is sent no invitation."""

    kind: Literal["contact", "user"]
    id: str
    reason: NoInviteReason
