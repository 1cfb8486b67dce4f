"""The base of every event in the catalogue, and the value types events share.

An event model is the JSON body (CloudEvents ``data``) of one Kafka message. Its class
declares the CloudEvents ``type``, the topic it travels on, the service that publishes it,
the field that holds the aggregate id (the message key and ``ce_subject``) and its integer
major ``SCHEMA_VERSION`` (the ``ce_dataversion`` extension).

Producers construct models in Python: strict types, unknown fields refused. Consumers parse
with :meth:`Event.parse_data`: lax JSON types, unknown fields ignored, so a producer may add
an optional field without breaking anyone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field
from pydantic_core import PydanticCustomError

from convene_schemas.text import StorableText

SUPPORTED_FROM = datetime(1900, 1, 1, tzinfo=timezone.utc)
"""The earliest instant any event or API input may name (inclusive)."""

SUPPORTED_UNTIL = datetime(9000, 1, 1, tzinfo=timezone.utc)
"""The end of the supported range (exclusive). Far from ``datetime.max`` (9999-12-31) on
purpose: whatever a service derives from a supported time (an end seven days later, a
reminder 1000 weeks earlier, the wall time in any zone, the next year of an iCalendar
VTIMEZONE) stays representable by Python, BSON and PostgreSQL."""

DATE_OUT_OF_RANGE = "date_out_of_range"
"""The error code (pydantic error type, API error code) of a time outside the range."""


def is_supported_time(value: datetime) -> bool:
    """True when ``value`` lies in ``[SUPPORTED_FROM, SUPPORTED_UNTIL)``: an aware value as
    the instant it names, a naive one as a wall time (any zone's offset keeps it in range
    of Python's datetime). Never raises, not even for ``datetime.max`` with an offset."""
    offset = value.utcoffset()
    if offset is None:
        wall = value.replace(tzinfo=None)
    else:
        try:
            wall = value.replace(tzinfo=None) - offset
        except OverflowError:
            return False
    return SUPPORTED_FROM.replace(tzinfo=None) <= wall < SUPPORTED_UNTIL.replace(tzinfo=None)


def out_of_range_reason(value: datetime) -> str:
    """A human sentence saying why ``value`` was refused."""
    return (f"{value.isoformat()} is outside the supported range: from "
            f"{SUPPORTED_FROM:%Y-%m-%dT%H:%M:%SZ} up to (not including) "
            f"{SUPPORTED_UNTIL:%Y-%m-%dT%H:%M:%SZ}")


def _supported(value: datetime) -> datetime:
    if not is_supported_time(value):
        raise PydanticCustomError(DATE_OUT_OF_RANGE, "{reason}",
                                  {"reason": out_of_range_reason(value)})
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


UtcInstant = Annotated[AwareDatetime, AfterValidator(_supported), AfterValidator(_to_utc)]
"""A timezone-aware instant in the supported range, normalised to UTC. Naive datetimes are
refused, and so is an instant outside ``[SUPPORTED_FROM, SUPPORTED_UNTIL)``
(``date_out_of_range``)."""

SupportedDatetime = Annotated[datetime, AfterValidator(_supported)]
"""An API input time in the supported range: aware (an instant) or naive (a wall time, read
in a zone later). Out of range: ``date_out_of_range``."""

TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]
"""An IANA time zone name (``Europe/Rome``), checked against the pinned tzdata."""

EntityId = Annotated[str, Field(min_length=1, max_length=200)]
"""Every id is an opaque, non-empty string."""


class Event(StorableText):
    """Base class of every event body.

    Every string must be storable text (:mod:`convene_schemas.text`: no control characters,
    line breaks only in ``MultilineText`` fields) and every time in the supported range.
    Subclasses set the class variables below; :data:`EVENT_CLASSES` finds them by
    ``(EVENT_TYPE, SCHEMA_VERSION)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    EVENT_TYPE: ClassVar[str]
    """CloudEvents ``type``: ``com.convene.<service>.<EventName>``."""
    SERVICE: ClassVar[str]
    """The producing service, e.g. ``meetings``; ``ce_source`` is ``/convene/<service>``."""
    TOPIC: ClassVar[str]
    """The topic this event is published on: ``<service>.events.v<topic major>``."""
    AGGREGATE_ID_FIELD: ClassVar[str]
    """Name of the field holding the aggregate id (message key, ``ce_subject``)."""
    SCHEMA_VERSION: ClassVar[int] = 1
    """Major version of this event's data schema; compatible changes keep it."""

    account_id: EntityId = Field(description="The account (tenant) the aggregate belongs to.")
    version: int = Field(
        ge=0,
        description=(
            "The aggregate's version after this change. Strictly increasing per aggregate, "
            "so consumers can apply events idempotently and ignore older ones."
        ),
    )
    occurred_at: UtcInstant = Field(description="When the change happened (UTC); also ce_time.")

    @property
    def aggregate_id(self) -> str:
        """The id of the aggregate this event is about (the Kafka message key)."""
        return str(getattr(self, self.AGGREGATE_ID_FIELD))

    @classmethod
    def parse_data(cls, data: bytes | str | dict[str, Any]) -> Event:
        """Parse an event body as a consumer: lax JSON types, unknown fields ignored."""
        if isinstance(data, dict):
            return cls.model_validate(data, strict=False, extra="ignore")
        return cls.model_validate_json(data, strict=False, extra="ignore")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "EVENT_TYPE" in cls.__dict__:
            key = (cls.EVENT_TYPE, cls.SCHEMA_VERSION)
            existing = EVENT_CLASSES.get(key)
            if existing is not None and existing is not cls:
                raise TypeError(f"event {key} is declared twice: {existing} and {cls}")
            EVENT_CLASSES[key] = cls


EVENT_CLASSES: dict[tuple[str, int], type[Event]] = {}
"""Every concrete event class, keyed by (CloudEvents type, schema major version)."""


def event_class(event_type: str, schema_version: int) -> type[Event] | None:
    """The model for one event type and major version, or None if unknown."""
    from convene_schemas import catalogue  # noqa: F401  (registers every model)

    return EVENT_CLASSES.get((event_type, schema_version))


def known_versions(event_type: str) -> list[int]:
    """The schema major versions this package knows for an event type."""
    from convene_schemas import catalogue  # noqa: F401

    return sorted(v for (t, v) in EVENT_CLASSES if t == event_type)
