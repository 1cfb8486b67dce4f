"""Meeting reports (R6), from the per-meeting facts the meeting events keep."""

from __future__ import annotations

from datetime import datetime

from convene_kit.http import ApiError
from convene_schemas.events.meetings import MeetingSnapshot

from convene_records.crm_store import MeetingFactRepository
from convene_records.domain.reports import (
    GroupBy,
    InvalidRange,
    ReportGroup,
    check_range,
    count_meetings,
    meeting_fact,
)
from convene_records.service_layer.deps import RecordsDeps


async def keep_meeting_fact(facts: MeetingFactRepository, meeting: MeetingSnapshot) -> bool:
    """Keep the meeting's fact at this version; an older or duplicate event changes nothing."""
    return await facts.put(meeting_fact(meeting))


async def meetings_report(deps: RecordsDeps, account_id: str, *, start: datetime,
                          end: datetime, group_by: GroupBy) -> list[ReportGroup]:
    """Meetings of the account starting in ``[start, end)``, counted per ``group_by`` value
    (canceled meetings included). 422 ``invalid_range`` for an empty or naive range."""
    try:
        check_range(start, end)
    except InvalidRange as exc:
        raise ApiError(422, "invalid_range", str(exc)) from exc
    facts = await deps.meeting_facts.starting_between(account_id, start, end)
    return count_meetings(facts, group_by)
