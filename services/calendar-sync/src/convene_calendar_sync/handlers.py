"""Every Kafka subscriber of calendar-sync, in one place.

Nothing is consumed yet: writing meetings to the host's calendar arrives with calendar sync.
"""

from convene_schemas.base import Event

from convene_kit.consumer import Handler

TOPICS: list[str] = []


def build_handlers() -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume."""
    return {}
