"""calendar-sync's read models of records' users and contacts (records.events.v1).

Users: whether they may connect a calendar (personal-email-access permission, R22), their
CRM email (so their own address is not taken for a contact) and their seat (task sync needs
a paid one, R33). Tasks are kept by :mod:`convene_calendar_sync.task_sync`. Contacts: their email
(lower-cased, indexed), to tell which provider events involve a CRM contact (R26).
Both are the kit's versioned read models: a redelivered or older event changes nothing.
"""

from __future__ import annotations

from convene_kit.read_models import VersionedReadModel
from convene_schemas.events.records import ContactUpserted, RecordDeleted, UserUpserted


async def record_user(users: VersionedReadModel, event: UserUpserted) -> bool:
    return await users.put(event.account_id, event.user_id, event.version, {
        "user_id": event.user_id, "email": event.email, "email_lower": event.email.lower(),
        "personal_email_access": event.personal_email_access, "active": event.active,
        "seat": event.seat,
        "updated_at": event.occurred_at})


async def record_contact(contacts: VersionedReadModel, event: ContactUpserted) -> bool:
    email = event.email if event.email_valid and event.email else None
    return await contacts.put(event.account_id, event.contact_id, event.version, {
        "contact_id": event.contact_id, "email_lower": email.lower() if email else None,
        "deleted": False, "updated_at": event.occurred_at})


async def record_deletion(contacts: VersionedReadModel, event: RecordDeleted) -> bool:
    if event.record_kind != "contact":
        return False
    return await contacts.put(event.account_id, event.record_id, event.version, {
        "contact_id": event.record_id, "email_lower": None, "deleted": True,
        "updated_at": event.occurred_at})
