"""The hosts' calendar connections (from calendar-sync's events) and what they allow.

R16: a meeting needs a host with an active connected calendar (a connection that is
connected and whose primary calendar is accessible). R28: with calendar sync off the
meeting is logged but no invitation is sent. R17: scheduling on behalf of a host needs the
host's calendar with sync on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.invitations import SEND_INVITATIONS, InvitationPolicy


@dataclass(frozen=True)
class CalendarConnection:
    """One calendar connection of a user, as calendar-sync last announced it."""

    connection_id: str
    user_id: str
    connected: bool
    sync_enabled: bool
    primary_calendar_id: str | None
    lost_calendar_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def active(self) -> bool:
        """Connected, and its primary calendar (where meetings are written) is accessible."""
        return (self.connected and self.primary_calendar_id is not None
                and self.primary_calendar_id not in self.lost_calendar_ids)


def host_invitation_policy(
    connections: Iterable[CalendarConnection], *, on_behalf: bool
) -> InvitationPolicy:
    """Whether the host's meeting sends invitations, or a refusal.

    - no active connection: ``no_connected_calendar`` (R16);
    - on behalf of the host and no active connection with sync on:
      ``host_calendar_sync_off`` (R17);
    - an active connection with sync on: invitations are sent;
    - otherwise (sync off): logged without invitations, reason ``calendar_sync_off`` (R28).
    """
    active = [c for c in connections if c.active]
    if not active:
        raise no_connected_calendar()
    if any(c.sync_enabled for c in active):
        return SEND_INVITATIONS
    if on_behalf:
        raise RuleViolation(
            "host_calendar_sync_off",
            "Meetings can be scheduled on behalf of a user only when that user's calendar "
            "sync is on.",
        )
    return InvitationPolicy(send=False, reason="calendar_sync_off")


def no_connected_calendar() -> RuleViolation:
    """R16's refusal: the host must connect a calendar first (one code, one message)."""
    return RuleViolation(
        "no_connected_calendar",
        "The host has no connected calendar: connect a calendar (Settings > Calendar) "
        "to schedule meetings.",
    )


def syncs_calendar(connections: Iterable[CalendarConnection]) -> bool:
    """True when the user has an active connection with calendar sync on (R28, R35)."""
    return any(c.active and c.sync_enabled for c in connections)


def calendar_policy(connections: Iterable[CalendarConnection]) -> InvitationPolicy:
    """Invitations only with an active connection with sync on, else ``calendar_sync_off``
    (R28); used where the host's calendar is not a precondition (bookings, switching
    invitations back on)."""
    if syncs_calendar(connections):
        return SEND_INVITATIONS
    return InvitationPolicy(send=False, reason="calendar_sync_off")
