"""Meetings whose process dies between a meeting's write and its publish: the real service,
built by its own ``bootstrap`` and served as ``python -m convene_meetings`` serves it, with
one dependency replaced, a :class:`convene_kit.testing.CrashingPublisher`. Meetings itself
has no fault injection.

Started by ``Stack.restart("meetings", module=MODULE, extra={TITLE_VARIABLE: title})``
(tests/integration on the child's PYTHONPATH). Only the MeetingScheduled of the meeting
titled ``title`` kills the process, so nothing else meetings publishes (the relay sweeping
another document, a meeting synced from a calendar) can stand in for the crash a test
means.
"""

from __future__ import annotations

import os

from convene_kit.kafka import build_broker
from convene_kit.runtime import serve
from convene_kit.testing import CrashingPublisher
from convene_meetings.bootstrap import bootstrap
from convene_meetings.settings import MeetingsSettings
from convene_schemas.envelope import Envelope
from convene_schemas.events.meetings import MeetingScheduled

MODULE = "support.crash_before_publish"
TITLE_VARIABLE = "CRASH_BEFORE_PUBLISHING_TITLE"


def main() -> None:
    """Build meetings from the environment with the crashing publisher; serve until killed."""
    title = os.environ[TITLE_VARIABLE]
    settings = MeetingsSettings()
    broker = build_broker(settings)

    def the_meetings_scheduled(envelope: Envelope) -> bool:
        return isinstance(envelope.event, MeetingScheduled) and envelope.event.title == title

    service = bootstrap(settings, broker=broker, publisher=CrashingPublisher(
        broker, settings, crash_on=the_meetings_scheduled))
    serve(service.app, service.settings)


if __name__ == "__main__":
    main()
