"""The booking-pages process: FastAPI + FastStream in one process (``python -m convene_booking_pages``)."""

from convene_kit.runtime import serve

from convene_booking_pages.bootstrap import bootstrap


def main() -> None:
    service = bootstrap()
    serve(service.app, service.settings)
