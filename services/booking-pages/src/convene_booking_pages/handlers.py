"""Every Kafka subscriber of booking-pages, in one place.

Nothing is consumed yet: calendar-connection and user changes arrive with scheduling pages.
"""

from convene_schemas.base import Event

from convene_kit.consumer import Handler

TOPICS: list[str] = []


def build_handlers() -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume."""
    return {}
