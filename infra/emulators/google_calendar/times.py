"""Event times and recurring series: RFC 3339 parsing, an event's time span, and the expansion of
a series (RRULE / RDATE / EXDATE in the series' time zone) into instances with Google's
instance ids (`<seriesId>_<YYYYMMDDTHHMMSSZ>`, or `_<YYYYMMDD>` for all-day series).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

from infra.emulators.google_calendar import errors

UTC = timezone.utc
UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ITERATIONS = 100_000  # guard against a daily series from 1970 expanded to 2100


def zone(name: str, location: str = "timeZone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.invalid("Invalid time zone definition.", location) from None


def parse_rfc3339(value: str, location: str) -> datetime:
    """A query's timestamp: RFC 3339 with a mandatory offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise errors.bad_request(f"Bad Request: invalid {location}") from None
    if parsed.tzinfo is None:
        raise errors.bad_request(f"Bad Request: {location} must have a time zone offset")
    return parsed.astimezone(UTC)


def utc_millis(moment: datetime) -> str:
    """Google's format for `updated`, `created`: 2026-01-05T10:00:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def utc_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds")


def point(value: dict[str, Any], calendar_tz: ZoneInfo, location: str) -> datetime:
    """An EventDateTime as a UTC instant (a date is midnight in the calendar's zone)."""
    if "date" in value and value["date"] is not None:
        try:
            day = date.fromisoformat(value["date"])
        except (TypeError, ValueError):
            raise errors.invalid(f"Invalid {location} date.", location) from None
        return datetime.combine(day, time(), calendar_tz).astimezone(UTC)
    raw = value.get("dateTime")
    if not raw:
        raise errors.required(f"Missing {location} time.", location)
    try:
        parsed = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise errors.invalid(f"Invalid {location} time.", location) from None
    if parsed.tzinfo is None:
        if not value.get("timeZone"):
            raise errors.required(f"Missing time zone definition for {location} time.", location)
        parsed = parsed.replace(tzinfo=zone(value["timeZone"], location))
    return parsed.astimezone(UTC)


def span(resource: dict[str, Any], calendar_tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (point(resource["start"], calendar_tz, "start"),
            point(resource["end"], calendar_tz, "end"))


def is_all_day(resource: dict[str, Any]) -> bool:
    return bool(resource.get("start", {}).get("date"))


def validate_times(resource: dict[str, Any], calendar_tz: ZoneInfo) -> None:
    """Google's checks of start/end on insert and update."""
    if not resource.get("start"):
        raise errors.required("Missing start time.", "start")
    if not resource.get("end"):
        raise errors.required("Missing end time.", "end")
    if bool(resource["start"].get("date")) != bool(resource["end"].get("date")):
        raise errors.bad_request("Start and end times must either both be date or both be dateTime.")
    for key in ("start", "end"):
        if resource[key].get("timeZone"):
            zone(resource[key]["timeZone"], key)
    start, end = span(resource, calendar_tz)
    if end < start:
        raise errors.time_range_empty("end")
    if resource.get("recurrence"):
        if not is_all_day(resource) and not resource["start"].get("timeZone"):
            raise errors.required("Missing time zone definition for start time.", "start")
        Series(resource, calendar_tz)  # raises on a malformed rule


@dataclass(frozen=True)
class Occurrence:
    original: datetime  # aware, in the series' zone
    start: datetime
    end: datetime
    all_day: bool
    tz: ZoneInfo

    @property
    def suffix(self) -> str:
        if self.all_day:
            return self.original.strftime("%Y%m%d")
        return self.original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def original_start_time(self) -> dict[str, str]:
        if self.all_day:
            return {"date": self.original.date().isoformat()}
        return {"dateTime": local_text(self.original, self.tz), "timeZone": self.tz.key}

    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)


class Series:
    """A recurring event's rule set in its own time zone (all-day: the calendar's)."""

    def __init__(self, master: dict[str, Any], calendar_tz: ZoneInfo) -> None:
        self.all_day = is_all_day(master)
        start = master["start"]
        if self.all_day:
            self.tz = calendar_tz
            first = date.fromisoformat(start["date"])
            self.dtstart = datetime.combine(first, time(), self.tz)
            self.days = (date.fromisoformat(master["end"]["date"]) - first).days
            self.duration = timedelta(days=self.days)
        else:
            self.tz = zone(start["timeZone"], "start")
            begin, finish = span(master, calendar_tz)
            self.dtstart = begin.astimezone(self.tz)
            self.duration = finish - begin
        self.rules = self._parse(master.get("recurrence") or [])

    def _value(self, text: str, params: dict[str, str]) -> datetime:
        """One RDATE/EXDATE/UNTIL value as an aware datetime in the series' zone."""
        if len(text) == 8 or params.get("VALUE") == "DATE":
            day = datetime.strptime(text[:8], "%Y%m%d").date()
            moment = self.dtstart.timetz() if not self.all_day else time(tzinfo=self.tz)
            return datetime.combine(day, moment.replace(tzinfo=None), self.tz)
        if text.endswith("Z"):
            return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(self.tz)
        tz = zone(params["TZID"], "recurrence") if "TZID" in params else self.tz
        return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=tz).astimezone(self.tz)

    def _parse(self, lines: list[str]) -> rrule.rruleset:
        rules = rrule.rruleset()
        try:
            for line in lines:
                head, _, value = line.partition(":")
                name, *raw_params = head.split(";")
                name = name.upper()
                params = {key.upper(): value for key, _, value in
                          (p.partition("=") for p in raw_params)}
                if name in ("RRULE", "EXRULE"):
                    parts = [p for p in value.split(";") if not p.upper().startswith("UNTIL=")]
                    until = [p.split("=", 1)[1] for p in value.split(";")
                             if p.upper().startswith("UNTIL=")]
                    rule = rrule.rrulestr(";".join(parts), dtstart=self.dtstart)
                    if until:
                        rule = rule.replace(until=self._value(until[0], {}))
                    (rules.rrule if name == "RRULE" else rules.exrule)(rule)
                elif name in ("RDATE", "EXDATE"):
                    for text in value.split(","):
                        moment = self._value(text.strip(), params)
                        (rules.rdate if name == "RDATE" else rules.exdate)(moment)
                else:
                    raise ValueError(name)
        except (ValueError, KeyError, TypeError):
            raise errors.invalid("Invalid recurrence rule.", "recurrence") from None
        return rules

    def occurrences(self, window_start: datetime | None = None,
                    window_end: datetime | None = None, limit: int = 730) -> Iterator[Occurrence]:
        """Instances overlapping (window_start, window_end), in order, at most `limit`."""
        produced = 0
        for index, moment in enumerate(self.rules):
            if index >= MAX_ITERATIONS or produced >= limit:
                return
            occurrence = self.at(moment)
            if window_end is not None and occurrence.start_utc() >= window_end:
                return
            if window_start is not None and occurrence.end_utc() <= window_start:
                continue
            produced += 1
            yield occurrence

    def at(self, original: datetime) -> Occurrence:
        original = original.astimezone(self.tz)
        if self.all_day:
            end = datetime.combine(original.date() + timedelta(days=self.days), time(), self.tz)
        else:
            end = (original.astimezone(UTC) + self.duration).astimezone(self.tz)
        return Occurrence(original=original, start=original, end=end, all_day=self.all_day,
                          tz=self.tz)

    def find(self, suffix: str) -> Occurrence | None:
        """The occurrence whose instance id ends with `suffix`, if the series has one."""
        for index, moment in enumerate(self.rules):
            occurrence = self.at(moment)
            if occurrence.suffix == suffix:
                return occurrence
            if index >= MAX_ITERATIONS or occurrence.suffix > suffix:
                return None
        return None

    def last_end(self) -> datetime | None:
        """The end of the series' last instance, or None when it never ends."""
        if any(rule._count is None and rule._until is None for rule in self.rules._rrule):
            return None
        last = None
        for index, moment in enumerate(self.rules):
            last = moment
            if index >= MAX_ITERATIONS:
                break
        return self.at(last).end_utc() if last is not None else None


def instance_resource(master: dict[str, Any], occurrence: Occurrence) -> dict[str, Any]:
    """The instance of `master` at `occurrence`, as Google shows an unmodified instance."""
    instance = copy.deepcopy(master)
    instance.pop("recurrence", None)
    instance["id"] = f"{master['id']}_{occurrence.suffix}"
    instance["recurringEventId"] = master["id"]
    instance["originalStartTime"] = occurrence.original_start_time()
    if occurrence.all_day:
        instance["start"] = {"date": occurrence.start.date().isoformat()}
        instance["end"] = {"date": occurrence.end.date().isoformat()}
    else:
        end_tz = master["end"].get("timeZone") or occurrence.tz.key
        instance["start"] = {"dateTime": local_text(occurrence.start, occurrence.tz),
                             "timeZone": occurrence.tz.key}
        instance["end"] = {"dateTime": local_text(occurrence.end, zone(end_tz)), "timeZone": end_tz}
    return instance
