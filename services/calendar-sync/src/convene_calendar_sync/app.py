"""The calendar-sync process: FastAPI + FastStream in one process (``python -m convene_calendar_sync``)."""

import sys

from convene_kit.runtime import serve

from convene_calendar_sync.bootstrap import bootstrap


def main() -> None:
    if len(sys.argv) > 1:  # an operator command (convene_calendar_sync.operations)
        from convene_calendar_sync.operations import main as operations

        sys.exit(operations(sys.argv[1:]))
    service = bootstrap()
    serve(service.app, service.settings)
