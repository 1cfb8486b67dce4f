"""What service functions need: the repositories, the versioned aggregates (revision log
and outbox) and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from convene_kit.aggregates import Aggregates
from convene_kit.clock import Clock, utc_now
from convene_kit.http import ApiError

from convene_records.crm_store import (
    AssociationRepository,
    CrmRepository,
    MeetingFactRepository,
)
from convene_records.store import (
    AccountRepository,
    ContactRepository,
    TimelineRepository,
    UserRepository,
)


def concurrent_change(record_id: str) -> ApiError:
    """409 ``concurrent_change``: the change lost the race for a version many times in a row
    (what :class:`~convene_kit.aggregates.Aggregates` raises for records)."""
    return ApiError(409, "concurrent_change",
                    "The record is being changed by others right now; try again.")


@dataclass(frozen=True)
class RecordsDeps:
    """The repositories, the aggregates and the clock, built once by ``bootstrap``.

    Every kind is created, loaded and changed through ``aggregates``
    (:class:`convene_kit.aggregates.Aggregates`): ``create`` publishes the first version's
    events, ``load`` rolls a head forward, ``change`` claims the next version and publishes
    in version order."""

    accounts: AccountRepository
    users: UserRepository
    contacts: ContactRepository
    timelines: TimelineRepository
    crm: dict[str, CrmRepository]
    associations: AssociationRepository
    meeting_facts: MeetingFactRepository
    aggregates: Aggregates
    clock: Clock = field(default=utc_now)  # the same clock as aggregates.clock
