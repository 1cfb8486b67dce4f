"""The calendar-sync process: FastAPI + FastStream in one process (``python -m convene_calendar_sync``)."""

from convene_kit.runtime import serve

from convene_calendar_sync.bootstrap import bootstrap


def main() -> None:
    service = bootstrap()
    serve(service.app, service.settings)
