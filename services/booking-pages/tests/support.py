"""What booking-pages' unit tests share besides fixtures: the time they start at, calendar-sync's
availability stood in for, records' users. Loaded by conftest as ``booking_pages_support``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from convene_booking_pages.availability import HostAvailability, Interval
from convene_schemas.events.records import UserUpserted

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Rome
ACCOUNT = "acc_1"


@dataclass
class FakeAvailability:
    """calendar-sync's availability as the tests set it, per host."""

    hosts: dict[str, HostAvailability] = field(default_factory=dict)
    calls: int = 0
    down: bool = False

    def set(self, user_id: str, *, connected: bool = True, bookable: bool = True,
            busy: list[Interval] | None = None, inactive: list[str] | None = None) -> None:
        self.hosts[user_id] = HostAvailability(connected=connected, bookable=bookable,
                                               inactive_calendar_ids=inactive or [],
                                               busy=busy or [])

    async def of_host(self, account_id: str, user_id: str, start: datetime,
                      end: datetime) -> HostAvailability:
        from convene_booking_pages.domain.errors import Unavailable

        self.calls += 1
        if self.down:
            raise Unavailable("availability_unavailable", "down")
        found = self.hosts.get(user_id, HostAvailability(connected=False, bookable=False))
        return HostAvailability(found.connected, found.bookable, found.inactive_calendar_ids,
                                [b for b in found.busy if b[1] > start and b[0] < end])


def user_upserted(user_id: str, *, name: str = "Olga Host", active: bool = True,
                  account_id: str = ACCOUNT, version: int = 1) -> UserUpserted:
    return UserUpserted(account_id=account_id, version=version, occurred_at=NOW,
                        user_id=user_id, email=f"{user_id}@acme.example", name=name,
                        time_zone="Europe/Rome", language="en", seat="sales_professional",
                        personal_email_access=True, active=active)


async def create_page(client: Any, mint: Any, page: dict[str, Any], *, owner: str = "u1",
                      **fields: Any) -> dict[str, Any]:
    """Create ``page`` (with ``fields`` over it) as ``owner`` through the owner API."""
    created = await client.post("/pages", headers=mint(owner), json={**page, **fields})
    assert created.status_code == 201, created.text
    return dict(created.json())


async def create_hosted_page(harness: Any, client: Any, mint: Any, page: dict[str, Any],
                             **fields: Any) -> dict[str, Any]:
    """The page of host u1, whom the service knows (UserUpserted) with a connected,
    bookable calendar."""
    await harness.deliver(user_upserted("u1"))
    harness.availability.set("u1")
    return await create_page(client, mint, page, **fields)
