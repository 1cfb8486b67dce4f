"""Rate limits: a burst of exactly the limit, then one event per interval; the wait a refusal
names; bounded memory that never refuses a newcomer; all-or-nothing over several limits; the
429 answer; the client address behind trusted proxies."""

from __future__ import annotations

import uuid

import pytest
from convene_kit.http import create_app
from convene_kit.openapi import error_responses, undocumented_errors
from convene_kit.rate_limit import (
    RATE_LIMITED_ERRORS,
    Rate,
    RateLimited,
    RateLimiter,
    client_address,
    enforce,
)
from convene_kit.settings import ServiceSettings
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY


class FakeClock:
    """Seconds that move only when a test says so (large, like a real monotonic clock)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter(rate: str, clock: FakeClock, *, max_keys: int = 100_000) -> RateLimiter:
    # A name of this test only: the refusal counter is process-wide.
    return RateLimiter(Rate.parse(rate), clock=clock, name=f"test_{uuid.uuid4().hex[:8]}",
                       max_keys=max_keys)


def refusals(limiter: RateLimiter) -> float:
    return REGISTRY.get_sample_value("convene_rate_limited_total", {"limiter": limiter.name}) or 0


def test_a_burst_of_exactly_the_limit_is_allowed_then_refused() -> None:
    clock = FakeClock()
    limits = limiter("5/minute", clock)
    assert [limits.hit("203.0.113.7") for _ in range(5)] == [None] * 5
    assert limits.hit("203.0.113.7") is not None
    assert refusals(limits) == 1


def test_a_refusal_names_the_wait_until_one_more_is_allowed() -> None:
    clock = FakeClock()
    limits = limiter("5/minute", clock)  # one event per 12 s once the burst is spent
    for _ in range(5):
        limits.hit("a")
    assert limits.hit("a") == pytest.approx(12.0)
    clock.advance(11.5)
    assert limits.hit("a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limits.hit("a") is None
    assert limits.hit("a") == pytest.approx(12.0)


def test_hammering_a_refused_key_does_not_lengthen_its_wait() -> None:
    clock = FakeClock()
    limits = limiter("1/10s", clock)
    assert limits.hit("a") is None
    for _ in range(100):
        clock.advance(0.05)
        limits.hit("a")
    assert limits.hit("a") == pytest.approx(5.0)
    clock.advance(5.0)
    assert limits.hit("a") is None


def test_the_whole_burst_returns_after_the_period() -> None:
    clock = FakeClock()
    limits = limiter("5/minute", clock)
    for _ in range(6):
        limits.hit("a")
    clock.advance(60)
    assert [limits.hit("a") for _ in range(5)] == [None] * 5
    assert limits.hit("a") is not None


@pytest.mark.parametrize("rate", ["1/second", "3/second", "30/minute", "7/10s", "1000/hour"])
def test_a_steady_rate_at_exactly_the_limit_is_never_refused(rate: str) -> None:
    clock = FakeClock()
    limits = limiter(rate, clock)
    interval = Rate.parse(rate).interval_s
    # The burst first, so every later event comes exactly when the budget allows it.
    assert [limits.hit("a") for _ in range(Rate.parse(rate).limit)] == [None] * Rate.parse(rate).limit
    for _ in range(2000):
        clock.advance(interval)
        assert limits.hit("a") is None
    assert limits.hit("a") == pytest.approx(interval)  # and not one event more


def test_keys_are_limited_independently() -> None:
    clock = FakeClock()
    limits = limiter("2/minute", clock)
    assert [limits.hit("a"), limits.hit("a")] == [None, None]
    assert limits.hit("a") is not None
    assert [limits.hit("b"), limits.hit("b")] == [None, None]
    assert limits.hit("b") is not None


def test_memory_stays_at_max_keys_and_a_fresh_key_always_gets_its_burst() -> None:
    clock = FakeClock()
    limits = limiter("2/hour", clock, max_keys=50)
    for n in range(500):  # every key spent and live: eviction must fall back to LRU
        clock.advance(0.01)
        key = f"client-{n}"
        assert [limits.hit(key), limits.hit(key)] == [None, None], key
        assert limits.hit(key) is not None
        assert len(limits) <= 50
    assert len(limits) == 50
    assert limits.hit("client-499") is not None  # the most recent keys are remembered


def test_expired_keys_are_evicted_before_the_least_recently_used_live_one() -> None:
    clock = FakeClock()
    limits = limiter("1/10s", clock, max_keys=2)
    assert limits.hit("old") is None  # TAT now + 10
    clock.advance(5)
    assert limits.hit("spent") is None  # TAT now + 10 = 15 from the start
    clock.advance(1)
    assert limits.hit("old") is not None  # refused: "old" is now the most recently used
    clock.advance(5)  # 11 s in: "old" has expired, "spent" has not
    assert limits.hit("new") is None
    assert len(limits) == 2
    assert limits.hit("spent") == pytest.approx(4.0)  # still remembered, still waiting


def test_long_keys_are_bounded_and_still_limited() -> None:
    clock = FakeClock()
    limits = limiter("1/minute", clock)
    page = "p" * 10_000
    assert limits.hit(page) is None
    assert limits.hit(page) is not None
    assert limits.hit(page[:-1] + "q") is None
    assert all(len(key) < 100 for key in limits._tats)


@pytest.mark.parametrize(("text", "limit", "period_s"), [
    ("30/minute", 30, 60.0),
    ("5/second", 5, 1.0),
    ("1000/hour", 1000, 3600.0),
    ("10/10s", 10, 10.0),
    ("100/day", 100, 86400.0),
    (" 20 / 1.5m ", 20, 90.0),
    ("2/Minutes", 2, 60.0),
])
def test_rate_parse_reads_count_per_period(text: str, limit: int, period_s: float) -> None:
    assert Rate.parse(text) == Rate(limit=limit, period_s=period_s)


@pytest.mark.parametrize("text", [
    "", "30", "30/", "/minute", "30/fortnight", "0/minute", "-1/second", "1.5/second",
    "10/0s", "10/-5s", "30 per minute", "10/10", "ten/second", "1/inf s", "3/s/s",
])
def test_rate_parse_refuses_anything_else_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate"):
        Rate.parse(text)


def test_rate_refuses_a_limit_below_one_and_a_period_not_above_zero() -> None:
    for limit, period in [(0, 1.0), (1, 0.0), (1, float("nan")), (1, float("inf"))]:
        with pytest.raises(ValueError):
            Rate(limit=limit, period_s=period)


def test_enforce_refuses_with_the_largest_wait_and_charges_no_limiter() -> None:
    clock = FakeClock()
    per_address = limiter("10/minute", clock)  # 6 s per event
    per_page = limiter("1/minute", clock)
    per_other_page = limiter("2/minute", clock)
    enforce((per_address, "a"), (per_page, "p"))
    with pytest.raises(RateLimited) as refused:
        enforce((per_address, "a"), (per_page, "p"), (per_other_page, "q"))
    assert refused.value.retry_after_s == pytest.approx(60.0)
    assert refused.value.headers == {"Retry-After": "60"}
    # The address and the other page were not charged for the refused request.
    assert [per_address.hit("a") for _ in range(9)] == [None] * 9
    assert per_address.hit("a") is not None
    assert [per_other_page.hit("q"), per_other_page.hit("q")] == [None, None]
    assert (refusals(per_address), refusals(per_page), refusals(per_other_page)) == (1, 1, 0)


def test_enforce_picks_the_largest_of_several_refusals() -> None:
    clock = FakeClock()
    short = limiter("1/10s", clock)
    long = limiter("1/hour", clock)
    enforce((short, "a"), (long, "a"))
    clock.advance(4)
    with pytest.raises(RateLimited) as refused:
        enforce((short, "a"), (long, "a"))
    assert refused.value.retry_after_s == pytest.approx(3596.0)
    assert (refusals(short), refusals(long)) == (1, 1)


def test_enforce_charges_every_limiter_when_all_allow() -> None:
    clock = FakeClock()
    first, second = limiter("1/minute", clock), limiter("1/minute", clock)
    enforce((first, "a"), (second, "b"))
    assert first.peek("a") is not None and second.peek("b") is not None
    assert refusals(first) == 0  # peeking refuses nobody


@pytest.mark.parametrize(("seconds", "header"), [(0.001, "1"), (1.0, "1"), (12.01, "13")])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(seconds: float,
                                                                  header: str) -> None:
    assert RateLimited(seconds).headers == {"Retry-After": header}


def app_with_a_limited_route(limits: RateLimiter) -> TestClient:
    router = APIRouter()

    @router.get("/pages/{slug}/slots", responses=error_responses(RATE_LIMITED_ERRORS))
    async def slots(slug: str, request: Request) -> dict[str, str]:
        enforce((limits, client_address(request)), (limits, slug))
        return {"slug": slug}

    app = create_app(ServiceSettings(service_name="kittest"), routers=[router])
    return TestClient(app, raise_server_exceptions=False)


def test_a_refusal_is_a_429_with_retry_after_and_the_kit_error_body() -> None:
    client = app_with_a_limited_route(limiter("1/30s", FakeClock()))
    assert client.get("/pages/intro/slots").status_code == 200
    response = client.get("/pages/intro/slots")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json() == {"error": {"code": "rate_limited",
                                         "message": "Too many requests; try again later.",
                                         "details": None}}


def test_a_limited_route_documents_its_429_in_the_kit_shape() -> None:
    client = app_with_a_limited_route(limiter("1/30s", FakeClock()))
    schema = client.get("/openapi.json").json()
    assert undocumented_errors(schema, {"GET /pages/{slug}/slots": {429}}) == []


def request_from(peer: str | None, *forwarded_for: str) -> Request:
    return Request({
        "type": "http", "method": "GET", "path": "/", "query_string": b"",
        "headers": [(b"x-forwarded-for", value.encode("latin-1")) for value in forwarded_for],
        "client": (peer, 51234) if peer is not None else None,
    })


def test_client_address_is_the_peer_and_ignores_forwarded_for_without_trusted_proxies() -> None:
    assert client_address(request_from("198.51.100.4")) == "198.51.100.4"
    assert client_address(request_from("198.51.100.4", "203.0.113.7")) == "198.51.100.4"


def test_client_address_takes_the_entry_the_outermost_trusted_proxy_wrote() -> None:
    # client -> proxy 1 (wrote the client, 203.0.113.7) -> proxy 2 (wrote 10.0.0.1) -> us
    request = request_from("10.0.0.2", "192.0.2.66, 203.0.113.7", "10.0.0.1")
    assert client_address(request, trusted_proxies=1) == "10.0.0.1"
    assert client_address(request, trusted_proxies=2) == "203.0.113.7"


def test_client_address_ignores_entries_the_client_put_on_the_left() -> None:
    spoofed = request_from("10.0.0.2", "1.1.1.1, 8.8.8.8, 203.0.113.7")
    assert client_address(spoofed, trusted_proxies=1) == "203.0.113.7"


def test_client_address_falls_back_to_the_peer_when_the_header_falls_short() -> None:
    assert client_address(request_from("10.0.0.2", "203.0.113.7"), trusted_proxies=2) == "10.0.0.2"
    assert client_address(request_from("10.0.0.2"), trusted_proxies=1) == "10.0.0.2"
    for malformed in ["not-an-address", "", "203.0.113.7, ", "unknown", "300.1.2.3"]:
        request = request_from("10.0.0.2", malformed)
        assert client_address(request, trusted_proxies=1) == "10.0.0.2", malformed


def test_client_address_reads_ports_and_brackets_a_proxy_may_add() -> None:
    assert client_address(request_from("10.0.0.2", "203.0.113.7:443"), trusted_proxies=1) \
        == "203.0.113.7"
    assert client_address(request_from("10.0.0.2", "[2001:db8::1]:443"), trusted_proxies=1) \
        == "2001:db8::/64"


def test_client_address_groups_ipv6_by_64_and_keeps_ipv4_whole() -> None:
    one = client_address(request_from("2001:db8:1:2:aaaa::1"))
    other = client_address(request_from("2001:db8:1:2:ffff:ffff:ffff:fffe"))
    neighbour = client_address(request_from("2001:db8:1:3::1"))
    assert one == other == "2001:db8:1:2::/64"
    assert neighbour != one
    behind_proxy = request_from("10.0.0.2", "2001:db8:1:2::99")
    assert client_address(behind_proxy, trusted_proxies=1) == "2001:db8:1:2::/64"
    assert client_address(request_from("::ffff:203.0.113.7")) == "203.0.113.7"
    assert client_address(request_from("203.0.113.7")) != client_address(request_from("203.0.113.8"))


def test_client_address_without_a_peer_is_one_shared_key() -> None:
    assert client_address(request_from(None)) == "unknown"
