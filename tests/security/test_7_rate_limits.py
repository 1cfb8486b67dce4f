"""booking-pages' public (anonymous) endpoints are rate-limited: 429 rate_limited with
Retry-After. The security stack runs booking-pages with limits too high to reach (the
other checks must not be throttled); here it is restarted with the product's defaults per
client (BookingPagesSettings: 10 bookings or holds and 120 requests a minute per address)
and a small per-page limit reached by many addresses (one trusted proxy, X-Forwarded-For),
then put back as it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from convene_booking_pages.settings import BookingPagesSettings
from security_support import FIGURES
from security_support.stack import SecurityStack

DEFAULTS = BookingPagesSettings.model_fields
PER_CLIENT = DEFAULTS["public_rate_per_client"].default
BOOKINGS_PER_CLIENT = DEFAULTS["booking_rate_per_client"].default
PER_PAGE = "60/minute"


def per_minute(rate: str) -> int:
    count, _, period = rate.partition("/")
    assert period == "minute", rate
    return int(count)


@pytest.fixture(scope="module")
def limited(stack: SecurityStack) -> Iterator[httpx.Client]:
    stack.restart("booking-pages", extra={
        "CONVENE_PUBLIC_RATE_PER_CLIENT": PER_CLIENT,
        "CONVENE_BOOKING_RATE_PER_CLIENT": BOOKINGS_PER_CLIENT,
        "CONVENE_PUBLIC_RATE_PER_PAGE": PER_PAGE, "CONVENE_TRUSTED_PROXIES": "1"})
    try:
        with httpx.Client(base_url=stack.url("booking-pages"), timeout=15) as client:
            yield client
    finally:
        stack.restart("booking-pages")


def first_429(send, limit: int) -> tuple[int | None, list[int], httpx.Response | None]:
    """Send up to ``limit`` + a margin requests; the 1-based index of the first 429, the
    statuses before it and the 429 itself."""
    statuses = []
    for index in range(1, limit + max(5, limit // 10) + 1):
        answer = send(index)
        if answer.status_code == 429:
            return index, statuses, answer
        statuses.append(answer.status_code)
    return None, statuses, None


def booking(start: str = "2030-01-07T10:00:00+00:00") -> dict:
    return {"start": start, "duration_minutes": 30, "name": "Vera Visitor",
            "email": "vera@visitors.example", "time_zone": "Europe/Rome"}


def check(name: str, limit: int, already: int, found: tuple) -> None:
    """The first 429 comes after ``limit - already`` requests (never before: a refill
    during the run may let a few more through), with Retry-After and the kit's code."""
    index, before, answer = found
    FIGURES.add("rate limits", requests=len(before) + (1 if answer is not None else 0),
                **{f"{name}_first_429_at": index})
    assert index is not None, f"{name}: no 429 after {len(before)} requests ({set(before)})"
    assert index > limit - already, f"{name}: 429 already at request {index} of {limit}"
    assert set(before) <= {404}, f"{name}: answers before the limit {set(before)}"
    assert answer.json()["error"]["code"] == "rate_limited", answer.text
    assert int(answer.headers["retry-after"]) >= 1, answer.headers


def test_bookings_then_everything_per_client_address(limited: httpx.Client) -> None:
    slug = f"no-page-{uuid.uuid4().hex[:8]}"  # limits apply before the page is looked up
    bookings = per_minute(BOOKINGS_PER_CLIENT)
    found = first_429(lambda i: limited.post(f"/public/pages/{slug}/bookings", json=booking()),
                      bookings)
    check("bookings_per_client", bookings, 0, found)
    # A hold shares the bookings' budget: refused at once.
    hold = limited.post(f"/public/pages/{slug}/holds",
                        json={"start": "2030-01-07T10:00:00+00:00", "duration_minutes": 30})
    assert hold.status_code == 429, hold.text
    # Every public request counts per address; the refused ones did not.
    # (A page of its own for every request: the per-page limit is smaller.)
    other = f"no-page-{uuid.uuid4().hex[:8]}"
    params = {"duration": 30, "time_zone": "Europe/Rome", "from": "2030-01-07", "to": "2030-01-08"}
    found = first_429(lambda i: limited.get(f"/public/pages/{other}-{i}/slots", params=params)
                      if i % 2 else limited.get(f"/public/pages/{other}-{i}"),
                      per_minute(PER_CLIENT))
    check("per_client", per_minute(PER_CLIENT), bookings, found)


def test_one_page_from_many_addresses(limited: httpx.Client) -> None:
    slug = f"no-page-{uuid.uuid4().hex[:8]}"
    found = first_429(lambda i: limited.get(
        f"/public/pages/{slug}",
        headers={"X-Forwarded-For": f"198.51.{i // 250}.{i % 250 + 1}"}), per_minute(PER_PAGE))
    check("per_page", per_minute(PER_PAGE), 0, found)
