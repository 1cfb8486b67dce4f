"""tests/integration's Stack, remembering every credential it hands out for the audit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from support import audit
from support.services import Stack


class SecurityStack(Stack):
    """A Stack whose minted gateway tokens and service credentials are all remembered by
    :data:`support.audit.AUDIT`: none may appear in a log, message, email or answer."""

    NO_PRIVATE_URLS = {"CONVENE_ALLOW_PRIVATE_URLS": "false"}

    def token(self, account: str, user: str, roles: str = "", ttl: int = 3600) -> str:
        minted = super().token(account, user, roles, ttl)
        audit.AUDIT.remember_secret(minted)
        return minted

    def remember_credentials(self) -> None:
        """The service token, the prefill signing key and the credentials keyring."""
        for secret in (self.service_token, self.booking_pages_env()["CONVENE_PREFILL_SIGNING_KEY"],
                       self.secret_keys.partition(":")[2]):
            audit.AUDIT.remember_secret(secret)

    @contextmanager
    def private_urls_allowed(self) -> Iterator[None]:
        """calendar-sync as the integration stack runs it (loopback open, for Radicale on
        127.0.0.1) for the block, then back to the default policy."""
        self.restart("calendar-sync", extra={"CONVENE_ALLOW_PRIVATE_URLS": "true"})
        try:
            yield
        finally:
            self.restart("calendar-sync", extra=self.NO_PRIVATE_URLS)
