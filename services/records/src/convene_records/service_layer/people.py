"""Creating, reading and changing users (R1) and contacts (R3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.aggregates import KeyTaken
from convene_kit.http import ApiError
from convene_schemas.events.records import Seat

from convene_records.domain.crm import NotDeleted
from convene_records.domain.ids import new_contact_id, new_user_id
from convene_records.domain.people import (
    Contact,
    InvalidUserEmail,
    User,
    change_contact,
    change_user,
    contact_upserted,
    delete_contact,
    new_contact,
    new_user,
    restore_deleted_contact,
    user_upserted,
)
from convene_records.service_layer.accounts import get_account
from convene_records.service_layer.deps import RecordsDeps


async def create_user(
    deps: RecordsDeps,
    account_id: str,
    *,
    email: str,
    name: str,
    time_zone: str,
    language: str,
    seat: Seat,
    personal_email_access: bool,
) -> User:
    """Add a user to the account and publish it.

    404 ``account_not_found`` before the account exists; 422 ``invalid_email`` for an
    address that is not valid; 409 ``user_email_taken`` if a user of the account already
    has the address (case-insensitively).
    """
    await get_account(deps, account_id)
    try:
        user = new_user(new_user_id(), account_id, email=email, name=name, time_zone=time_zone,
                        language=language, seat=seat,
                        personal_email_access=personal_email_access, now=deps.clock())
    except InvalidUserEmail as exc:
        raise ApiError(422, "invalid_email", "The email address is not valid.",
                       {"email": str(exc)}) from exc
    try:
        # The ids are random, so a duplicate can only be the unique email index.
        return await deps.aggregates.create(deps.users, user, [user_upserted(user)])
    except KeyTaken as exc:
        raise ApiError(409, "user_email_taken",
                       "A user of this account already has this email address.",
                       {"email": user.email}) from exc


USER_NOT_FOUND = ApiError(404, "user_not_found", "No such user.")
CONTACT_NOT_FOUND = ApiError(404, "contact_not_found", "No such contact.")
EMAIL_TAKEN = "A user of this account already has this email address."


async def get_user(deps: RecordsDeps, account_id: str, user_id: str) -> User:
    """A user of the account; 404 ``user_not_found`` otherwise (other accounts included)."""
    user = await deps.aggregates.load(deps.users, account_id, user_id)
    if user is None:
        raise USER_NOT_FOUND
    return user


async def create_contact(
    deps: RecordsDeps,
    account_id: str,
    *,
    email: str | None,
    first_name: str,
    last_name: str,
    time_zone: str | None,
    language: str | None,
) -> Contact:
    """Add a contact and publish it. A missing or malformed email is kept and flagged,
    never refused (R3, R13). 404 ``account_not_found`` before the account exists."""
    await get_account(deps, account_id)
    contact = new_contact(new_contact_id(), account_id, email=email, first_name=first_name,
                          last_name=last_name, time_zone=time_zone, language=language,
                          now=deps.clock())
    return await deps.aggregates.create(deps.contacts, contact, [contact_upserted(contact)])


async def get_contact(deps: RecordsDeps, account_id: str, contact_id: str) -> Contact:
    """A contact of the account; 404 ``contact_not_found`` otherwise (other accounts included)."""
    contact = await deps.aggregates.load(deps.contacts, account_id, contact_id)
    if contact is None or contact.deleted:
        raise CONTACT_NOT_FOUND
    return contact


async def update_user(deps: RecordsDeps, account_id: str, user_id: str,
                      changes: dict[str, Any]) -> User:
    """Change a user (``active: false`` deactivates) and publish ``UserUpserted``; a change
    to nothing is a no-op. 404 ``user_not_found``, 422 ``invalid_email``, 409
    ``user_email_taken``."""
    email = changes.get("email")
    if isinstance(email, str) and await deps.users.email_taken(account_id, user_id, email):
        raise ApiError(409, "user_email_taken", EMAIL_TAKEN)

    async def rule(user: User, now: datetime) -> tuple[User, list[Any]] | None:
        try:
            changed, event = change_user(user, changes, now=now)
        except InvalidUserEmail as exc:
            raise ApiError(422, "invalid_email", f"The email address is not valid: {exc}",
                           {"email": changes.get("email")}) from exc
        return None if event is None else (changed, [event])

    try:
        return await deps.aggregates.change(deps.users, account_id, user_id, rule,
                                            missing=USER_NOT_FOUND)
    except KeyTaken as exc:
        raise ApiError(409, "user_email_taken", EMAIL_TAKEN) from exc


async def update_contact(deps: RecordsDeps, account_id: str, contact_id: str,
                         changes: dict[str, Any]) -> Contact:
    """Change a contact and publish ``ContactUpserted``; a new email is flagged, never
    refused. 404 ``contact_not_found``, 422 ``unknown_owner``."""
    await get_contact(deps, account_id, contact_id)
    owner = changes.get("owner_user_id")
    if owner is not None and await deps.users.get(account_id, owner) is None:
        raise ApiError(422, "unknown_owner", "The owner is not a user of this account.")

    async def rule(contact: Contact, now: datetime) -> tuple[Contact, list[Any]] | None:
        if contact.deleted:
            raise CONTACT_NOT_FOUND
        changed, event = change_contact(contact, changes, now=now)
        return None if event is None else (changed, [event])

    return await deps.aggregates.change(deps.contacts, account_id, contact_id, rule,
                                        missing=CONTACT_NOT_FOUND)


async def remove_contact(deps: RecordsDeps, account_id: str, contact_id: str) -> None:
    """Soft delete a contact and publish ``RecordDeleted``; reads answer 404 afterwards."""
    async def rule(contact: Contact, now: datetime) -> tuple[Contact, list[Any]]:
        if contact.deleted:
            raise CONTACT_NOT_FOUND
        deleted, event = delete_contact(contact, now=now)
        return deleted, [event]

    await deps.aggregates.change(deps.contacts, account_id, contact_id, rule,
                                 missing=CONTACT_NOT_FOUND)


async def restore_contact(deps: RecordsDeps, account_id: str, contact_id: str) -> Contact:
    """Bring a soft-deleted contact back and publish ``ContactUpserted``; 404 if it never
    existed (or is of another account), 409 ``not_deleted`` if it is live."""
    async def rule(contact: Contact, now: datetime) -> tuple[Contact, list[Any]]:
        try:
            restored, event = restore_deleted_contact(contact, now=now)
        except NotDeleted as exc:
            raise ApiError(409, "not_deleted", str(exc)) from exc
        return restored, [event]

    return await deps.aggregates.change(deps.contacts, account_id, contact_id, rule,
                                        missing=CONTACT_NOT_FOUND)
