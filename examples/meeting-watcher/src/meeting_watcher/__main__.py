"""``python -m meeting_watcher`` (or ``meeting-watcher``): watch until SIGTERM or Ctrl-C.

Logs are JSON lines on stdout, one per record seen, for any log collector to pick up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from meeting_watcher.consumer import watch
from meeting_watcher.settings import Settings, parse_settings
from meeting_watcher.store import WatcherStore


class JsonLines(logging.Formatter):
    """One JSON object per log record: time, level, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


async def run(settings: Settings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)  # finish the batch, commit, leave the group
    store = WatcherStore(settings.database)
    try:
        await watch(settings, store, stopping)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
