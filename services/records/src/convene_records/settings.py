"""Settings of the records service: CONVENE_* environment variables (see convene_kit)."""

from convene_kit.settings import ServiceSettings


class RecordsSettings(ServiceSettings):
    """records' settings; everything else comes from the shared base."""

    service_name: str = "records"
    http_port: int = 8101
