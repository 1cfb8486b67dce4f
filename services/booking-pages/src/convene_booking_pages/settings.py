"""Settings of the booking-pages service: CONVENE_* environment variables (see convene_kit)."""

from convene_kit.settings import ServiceSettings


class BookingPagesSettings(ServiceSettings):
    """booking-pages's settings; everything else comes from the shared base."""

    service_name: str = "booking-pages"
    http_port: int = 8105
