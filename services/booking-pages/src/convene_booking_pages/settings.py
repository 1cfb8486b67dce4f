"""Settings of the booking-pages service: CONVENE_* environment variables (see convene_kit)."""

from convene_kit.settings import ServiceSettings
from pydantic import Field, SecretStr


class BookingPagesSettings(ServiceSettings):
    """booking-pages's settings; everything else comes from the shared base."""

    service_name: str = "booking-pages"
    http_port: int = 8105

    # Where visitors reach pages when the account has no custom domain (R36, R37).
    public_base_url: str = Field(default="http://127.0.0.1:8105",
                                 description="The default domain's base URL for page links.")

    # calendar-sync's availability, read over HTTP with a service token
    # (convene_kit.service_tokens; calendar-sync lists it in CONVENE_INTERNAL_API_TOKENS).
    calendar_sync_url: str = "http://127.0.0.1:8103"
    calendar_sync_token: SecretStr = Field(default=SecretStr(""), description="This "
                                           "service's token for calendar-sync's /internal/ reads.")
    calendar_sync_timeout_s: float = 5.0

    # Prefill links (R39): HS256 over the link's fields, expiring. Empty: a key for this
    # process only (links stop working after a restart; logged).
    prefill_signing_key: SecretStr = SecretStr("")
    prefill_ttl_s: int = Field(default=14 * 24 * 3600, description="How long a prefill link "
                               "works.")

    # Anonymous endpoints (convene_kit.rate_limit; per replica).
    public_rate_per_client: str = "120/minute"
    public_rate_per_page: str = "1200/minute"
    booking_rate_per_client: str = "10/minute"
    trusted_proxies: int = Field(default=0, ge=0, le=5, description="Proxies in front of the "
                                 "service whose X-Forwarded-For entries are trusted.")
    max_slot_range_days: int = 42
    housekeeping_interval_s: float = 30.0
