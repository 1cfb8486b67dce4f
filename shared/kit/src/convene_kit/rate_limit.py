"""Rate limits for public endpoints: GCRA in memory, 429 ``rate_limited`` with ``Retry-After``.

The anonymous endpoints (a booking page's slots and bookings) are limited per client address
and per page. A view calls :func:`enforce` with one ``(limiter, key)`` per limit; when any
limit refuses, it raises :class:`RateLimited` (429, code ``rate_limited``, ``Retry-After``
in whole seconds), which ``create_app`` renders as the kit's error body. Limiters are built
once, in ``bootstrap()``, from settings (``Rate.parse("30/minute")``), and handed to the views::

    enforce((per_address, client_address(request, trusted_proxies=settings.trusted_proxies)),
            (per_page, page_id))

The algorithm is GCRA (the generic cell rate algorithm): per key one float, its theoretical
arrival time (TAT). Each allowed event pushes the TAT one interval (``period_s / limit``)
further; an event is allowed while the TAT it would set stays within ``period_s`` of now.
So a quiet key may burst ``limit`` events at once, then gets one event per interval: exact,
O(1), no timers and no background task. A refused event changes nothing, so hammering a
refused key does not lengthen its wait.

Per process, on purpose: each replica limits on its own, so with N replicas a client may
get up to N times the limit (the load balancer spreads its requests). We accept that: a
shared counter would put a store round trip on the hot path of every public request, and
the store (FerretDB) is the bottleneck these limits protect. Set the limit for one replica
with that factor in mind.

Memory is bounded: at most ``max_keys`` keys per limiter, keys longer than 256 characters
kept as a digest. When full, keys whose TAT has passed go first (forgetting them changes no
answer), then the least recently used. Forgetting a key only ever lets its owner in sooner;
it never refuses anyone. The limiter is meant for one event loop: nothing in it awaits, so
each call is atomic there; it is not safe to share between threads.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

from convene_kit.errors import ApiError
from convene_kit.metrics import RATE_LIMITED_TOTAL

__all__ = ["RATE_LIMITED_ERRORS", "Rate", "RateLimited", "RateLimiter",
           "client_address", "enforce"]

RATE_LIMITED_ERRORS = {
    429: "rate_limited: too many requests from this address or for this page; retry after "
         "Retry-After seconds.",
}
"""For a limited route's ``responses=error_responses({**RATE_LIMITED_ERRORS, ...})``."""


_UNIT_SECONDS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_RATE_TEXT = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*", re.ASCII)
_MAX_KEY_CHARS = 256
_SLACK_S = 1e-6  # float rounding must not refuse a client that keeps exactly to the rate


@dataclass(frozen=True)
class Rate:
    """``limit`` events per ``period_s`` seconds, all of which may come at once (the burst)."""

    limit: int
    period_s: float

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"a rate's limit must be a whole number >= 1, not {self.limit!r}")
        if not (isinstance(self.period_s, int | float) and math.isfinite(self.period_s)
                and self.period_s > 0):
            raise ValueError(f"a rate's period must be a number of seconds > 0, "
                             f"not {self.period_s!r}")

    @property
    def interval_s(self) -> float:
        """The steady spacing of events: ``period_s / limit``."""
        return self.period_s / self.limit

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"30/minute"``, ``"5/second"``, ``"1000/hour"``, ``"10/10s"`` (units s, m, h, d,
        spelled short or long); :class:`ValueError` naming the expected form otherwise."""
        match = _RATE_TEXT.fullmatch(text.lower()) if isinstance(text, str) else None
        if match is None or match[3] not in _UNIT_SECONDS:
            raise ValueError(f"not a rate: {text!r}; expected <count>/<period>, e.g. "
                             f"'30/minute', '5/second', '1000/hour' or '10/10s'")
        count, span = int(match[1]), float(match[2] or 1)
        return cls(limit=count, period_s=span * _UNIT_SECONDS[match[3]])


class RateLimiter:
    """GCRA over keys (a client address, a page id) in this process; see the module docstring."""

    def __init__(self, rate: Rate, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic, name: str = "default") -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, not {max_keys}")
        self.rate = rate
        self.name = name
        self._max_keys = max_keys
        self._clock = clock
        self._slack = min(_SLACK_S, rate.interval_s / 1000)
        self._tats: OrderedDict[str, float] = OrderedDict()  # least recently used first
        self._next_sweep = -math.inf
        RATE_LIMITED_TOTAL.labels(limiter=name)  # the series shows 0 before the first refusal

    def __len__(self) -> int:
        """The keys held now (at most ``max_keys``)."""
        return len(self._tats)

    def hit(self, key: str) -> float | None:
        """Count one event of ``key``: None when allowed, else the seconds (> 0) until one
        more would be (the refused event is not counted)."""
        return RateLimiter.acquire_all([(self, key)])

    def peek(self, key: str) -> float | None:
        """What :meth:`hit` would answer now, changing nothing."""
        retry_after, _ = self._verdict(_bounded(key), self._clock())
        return retry_after

    @staticmethod
    def acquire_all(limits: Iterable[tuple[RateLimiter, str]]) -> float | None:
        """One event for every ``(limiter, key)``, all or none: None when every limiter
        allows it (each is then charged), else the largest wait of those that refuse (none
        is charged). A pair given twice counts once."""
        allowed = []
        waits = []
        for limiter, key in dict.fromkeys((limiter, _bounded(key)) for limiter, key in limits):
            now = limiter._clock()
            retry_after, tat = limiter._verdict(key, now)
            if retry_after is None:
                allowed.append((limiter, key, tat, now))
            else:
                waits.append(retry_after)
                limiter._refused(key)
        if waits:
            return max(waits)
        for limiter, key, tat, now in allowed:
            limiter._commit(key, tat, now)
        return None

    def _verdict(self, key: str, now: float) -> tuple[float | None, float]:
        """(None or the wait, the TAT an allowed event sets)."""
        tat = max(self._tats.get(key, now), now) + self.rate.interval_s
        allowed_at = tat - self.rate.period_s
        return (allowed_at - now if allowed_at - now > self._slack else None), tat

    def _refused(self, key: str) -> None:
        RATE_LIMITED_TOTAL.labels(limiter=self.name).inc()
        if key in self._tats:  # always, in fact: a key never seen is never refused
            self._tats.move_to_end(key)  # a client being refused is the one to remember

    def _commit(self, key: str, tat: float, now: float) -> None:
        if key not in self._tats:
            self._make_room(now)
        self._tats[key] = tat
        self._tats.move_to_end(key)

    def _make_room(self, now: float) -> None:
        if len(self._tats) < self._max_keys:
            return
        # A sweep costs one pass over the keys, so at most one per period: by the next, every
        # key untouched since this one has expired (an allowed event sets TAT <= now + period).
        if now >= self._next_sweep:
            for key in [key for key, tat in self._tats.items() if tat <= now]:
                del self._tats[key]
            self._next_sweep = now + self.rate.period_s
        if len(self._tats) >= self._max_keys:
            self._tats.popitem(last=False)


def _bounded(key: str) -> str:
    """``key``, or a digest of it when long: memory stays bounded whatever clients send."""
    if len(key) <= _MAX_KEY_CHARS:
        return key
    return "#" + hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class RateLimited(ApiError):
    """429 ``rate_limited`` with ``Retry-After`` in whole seconds (at least 1)."""

    def __init__(self, retry_after_s: float,
                 message: str = "Too many requests; try again later.") -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(429, "rate_limited", message, headers={"Retry-After": str(seconds)})
        self.retry_after_s = retry_after_s


def enforce(*limits: tuple[RateLimiter, str]) -> None:
    """Count one event for every ``(limiter, key)`` or raise :class:`RateLimited` with the
    largest wait among those that refuse; a refusal charges none of the limiters."""
    retry_after = RateLimiter.acquire_all(limits)
    if retry_after is not None:
        raise RateLimited(retry_after)


def client_address(request: Request, *, trusted_proxies: int = 0) -> str:
    """The address to limit ``request`` by.

    With ``trusted_proxies == 0`` the peer, and ``X-Forwarded-For`` is ignored (anyone can
    send it). With N trusted proxies in front, the N-th entry from the right of
    ``X-Forwarded-For``: the address the outermost trusted proxy saw; entries further left
    are the client's to invent. The peer when the header has fewer entries or that entry is
    not an address. IPv6 addresses are grouped by /64 (one subscriber gets a whole /64, so an
    address of it is no identity), IPv4 (also IPv4-mapped IPv6) kept whole.
    """
    if trusted_proxies < 0:
        raise ValueError(f"trusted_proxies must be >= 0, not {trusted_proxies}")
    peer = request.client.host if request.client is not None else "unknown"
    if trusted_proxies:
        entries = [entry for value in request.headers.getlist("x-forwarded-for")
                   for entry in value.split(",")]
        if len(entries) >= trusted_proxies:
            seen = _address(entries[-trusted_proxies])
            if seen is not None:
                return _grouped(seen)
    parsed = _address(peer)
    return _grouped(parsed) if parsed is not None else peer


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _grouped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
