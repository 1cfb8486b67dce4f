"""booking-pages's read model of records' users (records.events.v1): a host's name for the
public page, and whether they are active (a deactivated host takes no bookings). The kit's
versioned read model: a redelivered or older event changes nothing."""

from __future__ import annotations

from convene_kit.read_models import VersionedReadModel
from convene_schemas.events.records import UserUpserted


async def record_user(users: VersionedReadModel, event: UserUpserted) -> bool:
    return await users.put(event.account_id, event.user_id, event.version, {
        "user_id": event.user_id, "name": event.name, "email": event.email,
        "time_zone": event.time_zone, "active": event.active,
        "updated_at": event.occurred_at})
