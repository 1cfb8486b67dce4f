"""Test support for the read models and owner emails: an in-memory store whose collections
also understand what ``convene_kit.idempotency.apply_if_newer`` sends (``$or``, ``$exists``,
upserts), and builders of records' and booking-pages' events (random ids)."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from convene_schemas.events.booking_pages import (
    BookingAttemptBlocked,
    BookingRequested,
    FormAnswer,
    Visitor,
)
from convene_schemas.events.records import AccountSettingsChanged, UserUpserted
from notifications_testing import NOW, FakeCollection, FakeStore, _Result


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, expected in query.items():
        if key == "$or":
            if not any(_matches(doc, alternative) for alternative in expected):
                return False
        elif isinstance(expected, dict) and "$exists" in expected:
            if (key in doc) != expected["$exists"]:
                return False
        elif isinstance(expected, dict) and "$lt" in expected:
            if key not in doc or not doc[key] < expected["$lt"]:
                return False
        elif doc.get(key) != expected:
            return False
    return True


class VersionedCollection(FakeCollection):
    """A fake collection for version-guarded upserts (reads by ``_id`` and plain fields)."""

    async def find_one(self, query: dict[str, Any], projection: Any = None,
                       **_: Any) -> dict[str, Any] | None:
        found = [d for d in self.docs.values() if _matches(d, query)]
        return copy.deepcopy(found[0]) if found else None

    async def update_one(self, query: dict[str, Any], update: dict[str, Any],
                         upsert: bool = False) -> _Result:
        for doc in self.docs.values():
            if _matches(doc, query):
                doc.update(copy.deepcopy(update.get("$set", {})))
                return _Result(matched_count=1, upserted_id=None)
        if not upsert:
            return _Result(matched_count=0, upserted_id=None)
        plain = {k: v for k, v in query.items() if not k.startswith("$")}
        await self.insert_one({**plain, **copy.deepcopy(update.get("$set", {}))})
        return _Result(matched_count=0, upserted_id=plain["_id"])


class ReadModelStore(FakeStore):
    """FakeStore whose read-model collections take version-guarded upserts."""

    def collection(self, name: str) -> Any:
        if name in ("users", "account_settings"):
            return self.collections.setdefault(name, VersionedCollection(name))
        return super().collection(name)


def user_upserted(account_id: str = "acc_1", user_id: str | None = None, *, version: int = 0,
                  language: str = "en", time_zone: str = "Europe/Rome",
                  email: str | None = None, name: str = "Olga Owner") -> UserUpserted:
    user_id = user_id or f"usr_{uuid.uuid4().hex[:8]}"
    return UserUpserted(account_id=account_id, version=version, occurred_at=NOW,
                        user_id=user_id, email=email or f"{user_id}@acme.example", name=name,
                        time_zone=time_zone, language=language, seat="none",
                        personal_email_access=False, active=True)


def settings_changed(account_id: str = "acc_1", *, version: int = 0,
                     language: str = "it", time_zone: str = "Europe/Rome") -> AccountSettingsChanged:
    return AccountSettingsChanged(
        account_id=account_id, version=version, occurred_at=NOW,
        account_created_at=NOW - timedelta(days=400), is_sandbox=False,
        hub_tier="professional", default_time_zone=time_zone, default_language=language,
        reminders_enabled_by_default=False, default_reminders=[],
        custom_meeting_types_enabled=False)


START = datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)


def booking_requested(owner_user_id: str, *, account_id: str = "acc_1", offline: bool = True,
                      visitor_name: str = "Priya Shah", **overrides: Any) -> BookingRequested:
    values: dict[str, Any] = {
        "account_id": account_id, "version": 0, "occurred_at": NOW,
        "booking_id": f"bk_{uuid.uuid4().hex[:8]}", "page_id": "pg_intro", "slug": "olga-intro",
        "owner_user_id": owner_user_id,
        "visitor": Visitor(name=visitor_name, email="priya@hooli.example",
                           time_zone="Europe/London", language="en"),
        "title": "Intro call with Priya Shah", "start": START,
        "end": START + timedelta(minutes=30), "time_zone": "Europe/Rome",
        "page_offline": offline,
        "form_answers": [FormAnswer(field="topic", label="What would you like to discuss?",
                                    value="Pricing for <40> seats")],
    }
    values.update(overrides)
    return BookingRequested(**values)


def attempt_blocked(owner_user_id: str, *, account_id: str = "acc_1",
                    reason: str = "calendar_access_lost", **overrides: Any) -> BookingAttemptBlocked:
    values: dict[str, Any] = {
        "account_id": account_id, "version": 0, "occurred_at": NOW,
        "attempt_id": f"ba_{uuid.uuid4().hex[:8]}", "page_id": "pg_intro", "slug": "olga-intro",
        "owner_user_id": owner_user_id, "reason": reason,
        "inactive_calendar_ids": (["team-sales@group.calendar.google.com"]
                                  if reason == "calendar_access_lost" else []),
        "attempted_start": START, "attempted_end": START + timedelta(minutes=30),
        "time_zone": "Europe/Berlin", "visitor_email": "jian@example.org",
    }
    values.update(overrides)
    return BookingAttemptBlocked(**values)
