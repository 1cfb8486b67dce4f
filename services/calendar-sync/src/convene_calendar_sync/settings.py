"""Settings of the calendar-sync service: CONVENE_* environment variables (see convene_kit)."""

from convene_kit.settings import ServiceSettings


class CalendarSyncSettings(ServiceSettings):
    """calendar-sync's settings; everything else comes from the shared base."""

    service_name: str = "calendar-sync"
    http_port: int = 8103
