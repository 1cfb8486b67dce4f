"""calendar-sync whose process dies right after a provider accepted a meeting's write and
before anything of it is recorded or committed: the real service, built by its own
``bootstrap`` and served as ``python -m convene_calendar_sync`` serves it, with one
dependency replaced, an adapter factory whose adapters SIGKILL the process after the
provider's answer to the upsert of the meeting titled ``title``. calendar-sync itself has
no fault injection.

Started by ``Stack.restart("calendar-sync", module=MODULE, extra={TITLE_VARIABLE: title})``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from convene_calendar_sync.adapters import AdapterFactory
from convene_calendar_sync.bootstrap import bootstrap, keyring
from convene_calendar_sync.domain.calendar_events import OutboundEvent, WrittenEvent
from convene_calendar_sync.settings import CalendarSyncSettings
from convene_kit.runtime import serve

MODULE = "support.crash_after_provider_write"
TITLE_VARIABLE = "CRASH_AFTER_PROVIDER_WRITE_TITLE"
MESSAGE = "crashing after the provider's write"


class CrashingAdapters(AdapterFactory):
    """The real factory; its adapters die after writing the meeting titled ``title``."""

    def __init__(self, settings: CalendarSyncSettings, title: str) -> None:
        super().__init__(settings, keyring(settings))
        self.title = title

    def for_connection(self, connection: Any, credential: Any) -> Any:
        adapter = super().for_connection(connection, credential)
        upsert = adapter.upsert_event

        async def upsert_then_die(calendar_id: str, event: OutboundEvent) -> WrittenEvent:
            written = await upsert(calendar_id, event)
            if event.title == self.title:
                print(MESSAGE, flush=True, file=sys.stderr)
                os.kill(os.getpid(), signal.SIGKILL)
            return written

        adapter.upsert_event = upsert_then_die  # type: ignore[method-assign]
        return adapter


def main() -> None:
    settings = CalendarSyncSettings()
    service = bootstrap(settings, adapters=CrashingAdapters(settings, os.environ[TITLE_VARIABLE]))
    serve(service.app, service.settings)


if __name__ == "__main__":
    main()
