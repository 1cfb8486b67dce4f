"""Imports every event module so each model is registered, and lists the catalogue."""

from __future__ import annotations

from convene_schemas.base import EVENT_CLASSES, Event
from convene_schemas.events import (  # noqa: F401  (importing registers the models)
    booking_pages,
    calendar_sync,
    meetings,
    notifications,
    records,
)

CATALOGUE_PACKAGE = "convene_schemas.events."


def all_event_classes() -> list[type[Event]]:
    """Every event class of the published catalogue, ordered by topic, type, major version.

    Only classes defined under ``convene_schemas.events`` count: other code (tests, for
    instance) may register Event subclasses of its own for the envelope to decode.
    """
    return sorted(
        (cls for cls in EVENT_CLASSES.values() if cls.__module__.startswith(CATALOGUE_PACKAGE)),
        key=lambda cls: (cls.TOPIC, cls.EVENT_TYPE, cls.SCHEMA_VERSION),
    )
