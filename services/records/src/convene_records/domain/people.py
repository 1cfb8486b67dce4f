"""Users of an account (R1) and contacts (R3), and the events they raise.

Both are published as full state (``UserUpserted``, ``ContactUpserted``); meetings keeps
them as read models to address invitations and decide who can be invited (R13).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from convene_schemas.events.records import ContactUpserted, RecordDeleted, Seat, UserUpserted

from convene_records.domain.crm import NotDeleted
from convene_records.domain.emails import (
    InvalidReason,
    check_contact_email,
    email_key,
    syntax_error,
)
from convene_records.domain.versions import FIRST_VERSION, next_version


@dataclass(frozen=True)
class User:
    """A user of the account: who can host, organize and be invited (R1)."""

    id: str
    account_id: str
    email: str
    name: str
    time_zone: str
    language: str
    seat: Seat
    personal_email_access: bool
    active: bool
    updated_at: datetime
    version: int = FIRST_VERSION

    @property
    def email_key(self) -> str:
        """The address as compared for uniqueness within the account (case-insensitive)."""
        return email_key(self.email)


@dataclass(frozen=True)
class Contact:
    """A CRM contact (R3). ``email`` is kept as given, valid or not (R13)."""

    id: str
    account_id: str
    email: str | None
    email_valid: bool
    email_invalid_reason: InvalidReason | None
    first_name: str
    last_name: str
    time_zone: str | None
    language: str | None
    updated_at: datetime
    owner_user_id: str | None = None
    version: int = FIRST_VERSION
    deleted: bool = False


class InvalidUserEmail(ValueError):
    """A user's email address is not a valid address (users, unlike contacts, need one)."""


def new_user(
    user_id: str,
    account_id: str,
    *,
    email: str,
    name: str,
    time_zone: str,
    language: str,
    seat: Seat,
    personal_email_access: bool,
    now: datetime,
) -> User:
    """A new, active user. Raises :class:`InvalidUserEmail` for an invalid address: a user
    signs in with it, hosts meetings and is the ORGANIZER of invitations."""
    address = email.strip()
    problem = syntax_error(address)
    if problem is not None:
        raise InvalidUserEmail(problem)
    return User(
        id=user_id,
        account_id=account_id,
        email=address,
        name=name,
        time_zone=time_zone,
        language=language,
        seat=seat,
        personal_email_access=personal_email_access,
        active=True,
        updated_at=now,
    )


def new_contact(
    contact_id: str,
    account_id: str,
    *,
    email: str | None,
    first_name: str,
    last_name: str,
    time_zone: str | None,
    language: str | None,
    now: datetime,
    owner_user_id: str | None = None,
) -> Contact:
    """A new contact; its email is flagged, never a reason to refuse it (R3, R13)."""
    checked = check_contact_email(email)
    return Contact(
        id=contact_id,
        account_id=account_id,
        email=checked.email,
        email_valid=checked.valid,
        email_invalid_reason=checked.invalid_reason,
        first_name=first_name,
        last_name=last_name,
        time_zone=time_zone,
        language=language,
        owner_user_id=owner_user_id,
        updated_at=now,
    )


def user_upserted(user: User) -> UserUpserted:
    """The event carrying ``user`` as it is now."""
    return UserUpserted(
        account_id=user.account_id,
        version=user.version,
        occurred_at=user.updated_at,
        user_id=user.id,
        email=user.email,
        name=user.name,
        time_zone=user.time_zone,
        language=user.language,
        seat=user.seat,
        personal_email_access=user.personal_email_access,
        active=user.active,
    )


def contact_upserted(contact: Contact) -> ContactUpserted:
    """The event carrying ``contact`` as it is now."""
    return ContactUpserted(
        account_id=contact.account_id,
        version=contact.version,
        occurred_at=contact.updated_at,
        contact_id=contact.id,
        email=contact.email,
        email_valid=contact.email_valid,
        email_invalid_reason=contact.email_invalid_reason,
        first_name=contact.first_name,
        last_name=contact.last_name,
        time_zone=contact.time_zone,
        language=contact.language,
        owner_user_id=contact.owner_user_id,
    )


USER_FIELDS = frozenset({"email", "name", "time_zone", "language", "seat",
                         "personal_email_access", "active"})
CONTACT_FIELDS = frozenset({"email", "first_name", "last_name", "time_zone", "language",
                            "owner_user_id"})


def change_user(user: User, changes: dict[str, Any], *,
                now: datetime) -> tuple[User, UserUpserted | None]:
    """The user with ``changes`` at the next version and its event (None when nothing
    changes). ``active: false`` deactivates. :class:`InvalidUserEmail` for a bad address."""
    values = {k: v for k, v in changes.items() if k in USER_FIELDS}
    if "email" in values:
        values["email"] = values["email"].strip()
        problem = syntax_error(values["email"])
        if problem is not None:
            raise InvalidUserEmail(problem)
    if all(getattr(user, k) == v for k, v in values.items()):
        return user, None
    changed = replace(user, **values, version=next_version(user.version), updated_at=now)
    return changed, user_upserted(changed)


def change_contact(contact: Contact, changes: dict[str, Any], *,
                   now: datetime) -> tuple[Contact, ContactUpserted | None]:
    """The contact with ``changes`` at the next version and its event (None when nothing
    changes); a new email is flagged again, never refused (R3, R13)."""
    values = {k: v for k, v in changes.items() if k in CONTACT_FIELDS}
    if "email" in values:
        checked = check_contact_email(values["email"])
        values.update(email=checked.email, email_valid=checked.valid,
                      email_invalid_reason=checked.invalid_reason)
    if all(getattr(contact, k) == v for k, v in values.items()):
        return contact, None
    changed = replace(contact, **values, version=next_version(contact.version), updated_at=now)
    return changed, contact_upserted(changed)


def delete_contact(contact: Contact, *, now: datetime) -> tuple[Contact, RecordDeleted]:
    """The contact soft deleted at the next version, and its ``RecordDeleted``."""
    deleted = replace(contact, deleted=True, version=next_version(contact.version),
                      updated_at=now)
    return deleted, RecordDeleted(account_id=contact.account_id, version=deleted.version,
                                  occurred_at=now, record_kind="contact",
                                  record_id=contact.id, permanent=False)


def restore_deleted_contact(contact: Contact, *, now: datetime) -> tuple[Contact, ContactUpserted]:
    """The soft-deleted contact live again at the next version, and its
    ``ContactUpserted``; :class:`~convene_records.domain.crm.NotDeleted` if it is live."""
    if not contact.deleted:
        raise NotDeleted("The contact is not deleted.")
    restored = replace(contact, deleted=False, version=next_version(contact.version),
                       updated_at=now)
    return restored, contact_upserted(restored)
