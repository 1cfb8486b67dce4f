"""The booking-pages process: FastAPI + FastStream in one process (``python -m convene_booking_pages``)."""

from convene_booking_pages.bootstrap import bootstrap
from convene_kit.runtime import serve


def main() -> None:
    service = bootstrap()
    serve(service.app, service.settings)
