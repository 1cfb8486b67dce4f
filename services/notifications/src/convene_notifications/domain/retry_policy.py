"""When a temporarily failed email is tried again: exponential backoff with jitter, capped,
and a last attempt after which the email is given up (pure; no clock, no randomness of its
own: the caller passes ``draw`` in [0, 1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MAX_EXPONENT = 60  # 2**60 times any sane base is far past every cap


@dataclass(frozen=True)
class RetryPolicy:
    """How a transient SMTP failure (4xx, no connection, timeout) is retried."""

    base_s: float = 10.0
    cap_s: float = 1800.0
    max_attempts: int = 12

    def delay_s(self, attempts: int, draw: float) -> float:
        """The wait after the ``attempts``-th failed attempt: the exponential ceiling
        ``min(cap, base * 2**(attempts - 1))``, of which a random half ("equal jitter"), so
        replicas and recipients failing together do not retry in lockstep."""
        exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
        ceiling = min(self.cap_s, self.base_s * 2 ** exponent)
        return ceiling / 2 + ceiling / 2 * min(max(draw, 0.0), 1.0)

    def next_attempt_at(self, now: datetime, attempts: int, draw: float) -> datetime:
        """When the next attempt is due after the ``attempts``-th failed one."""
        return now + timedelta(seconds=self.delay_s(attempts, draw))

    def gives_up(self, attempts: int) -> bool:
        """True when ``attempts`` failed attempts are all the email gets."""
        return attempts >= self.max_attempts
