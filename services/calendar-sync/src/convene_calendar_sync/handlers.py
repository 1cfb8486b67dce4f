"""Every Kafka subscriber of calendar-sync, in one place.

Nothing is consumed yet: writing meetings to the host's calendar arrives with calendar sync.
"""

from convene_kit.consumer import Handlers

TOPICS: list[str] = []


def build_handlers() -> Handlers:
    """The event handlers, by the event classes they consume (``Handlers.on``)."""
    return Handlers()
