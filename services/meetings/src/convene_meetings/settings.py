"""Settings of the meetings service: CONVENE_* environment variables (see convene_kit)."""

from convene_kit.settings import ServiceSettings


class MeetingsSettings(ServiceSettings):
    """meetings' settings; everything else comes from the shared base."""

    service_name: str = "meetings"
    http_port: int = 8102
