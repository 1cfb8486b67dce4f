"""Every Kafka subscriber of booking-pages, in one place.

Nothing is consumed yet: calendar-connection and user changes arrive with scheduling pages.
"""

from convene_kit.consumer import Handlers

TOPICS: list[str] = []


def build_handlers() -> Handlers:
    """The event handlers, by the event classes they consume (``Handlers.on``)."""
    return Handlers()
