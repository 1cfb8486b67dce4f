"""notifications' read models: records' users and account settings, and the newest
version of each meeting.

records publishes full state per aggregate (the topic is compacted), so each event replaces
what is stored, provided its version is newer (``convene_kit.read_models``):
a redelivered event or an older one arriving after a newer one changes nothing. The
documents' ``_id`` is ``"<account_id>:<aggregate id>"`` (ids are only unique within an
account) and every lookup is by that ``_id``, scoped to the account. Only what emails need
is kept: a user's address, name, language, time zone and whether they are active; an
account's default language and time zone. notifications never calls records.

``reminder_meetings`` (:class:`MeetingVersions`): ``_id`` = meeting id, the newest version
of the meeting seen, whether it is canceled, and its snapshot. Written only by the
consumer of the meeting's partition (one event at a time), read by the reminder emails and
the join-link fallback, which judge a due timer by the meeting's current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convene_kit.read_models import VersionedReadModel
from convene_schemas.events.meetings import MeetingSnapshot
from convene_schemas.events.records import AccountSettingsChanged, UserUpserted
from pymongo.asynchronous.collection import AsyncCollection

from convene_notifications.domain.localization import AccountDefaults

USERS = "users"
ACCOUNT_SETTINGS = "account_settings"
REMINDER_MEETINGS = "reminder_meetings"


@dataclass(frozen=True)
class User:
    """A user of the account, as emails need them."""

    user_id: str
    email: str
    name: str
    language: str
    time_zone: str
    active: bool


class ReadModels:
    """Users and account settings, each written only by a newer version of its aggregate."""

    def __init__(self, users: AsyncCollection[dict[str, Any]],
                 account_settings: AsyncCollection[dict[str, Any]]) -> None:
        self.users = users
        self.account_settings = account_settings
        self._users = VersionedReadModel(users)
        self._account_settings = VersionedReadModel(account_settings)

    async def record_user(self, event: UserUpserted) -> bool:
        """Store a user's state (UserUpserted); True if it was newer than what was stored."""
        return await self._users.put(event.account_id, event.user_id, event.version, {
            "user_id": event.user_id, "email": event.email, "name": event.name,
            "language": event.language, "time_zone": event.time_zone, "active": event.active,
            "updated_at": event.occurred_at})

    async def record_account_settings(self, event: AccountSettingsChanged) -> bool:
        """Store the account's default language and time zone (AccountSettingsChanged)."""
        return await self._account_settings.put(event.account_id, event.account_id, event.version, {
            "default_language": event.default_language,
            "default_time_zone": event.default_time_zone, "updated_at": event.occurred_at})

    async def user(self, account_id: str, user_id: str) -> User | None:
        """The account's user ``user_id``, or None when records has not told us (yet)."""
        found = await self._users.get(account_id, user_id)
        if found is None:
            return None
        return User(user_id=found["user_id"], email=found["email"], name=found["name"],
                    language=found["language"], time_zone=found["time_zone"],
                    active=found["active"])

    async def account_defaults(self, account_id: str) -> AccountDefaults | None:
        """The account's default language and time zone, or None when not known (yet)."""
        found = await self._account_settings.get(account_id, account_id)
        if found is None:
            return None
        return AccountDefaults(language=found.get("default_language"),
                               time_zone=found.get("default_time_zone"))


class MeetingVersions:
    """The newest version of each meeting, for the stale-reminder rule."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def get(self, meeting_id: str) -> dict[str, Any] | None:
        """The kept record of a meeting: ``version``, ``canceled``, ``snapshot``."""
        return await self.collection.find_one({"_id": meeting_id})

    async def current(self, account_id: str,
                      meeting_id: str) -> tuple[MeetingSnapshot | None, bool]:
        """The account's meeting as of the newest version seen (None when unknown) and
        whether it is canceled."""
        record = await self.get(meeting_id)
        if record is None or record.get("account_id") != account_id:
            return None, False
        meeting = MeetingSnapshot.parse_data(record["snapshot"])
        assert isinstance(meeting, MeetingSnapshot)
        return meeting, bool(record.get("canceled"))

    async def record(self, meeting: MeetingSnapshot, *,
                     canceled: bool) -> tuple[bool, int | None]:
        """Keep ``meeting`` unless what is kept is newer. Returns whether it was kept and
        the version kept before (None for a meeting seen for the first time)."""
        current = await self.get(meeting.meeting_id)
        previous = None if current is None else int(current["version"])
        if previous is not None and previous > meeting.version:
            return False, previous
        await self.collection.replace_one(
            {"_id": meeting.meeting_id},
            {"_id": meeting.meeting_id, "account_id": meeting.account_id,
             "version": meeting.version, "canceled": canceled,
             "event_type": meeting.EVENT_TYPE, "snapshot": meeting.model_dump(mode="json")},
            upsert=True)
        return True, previous
