"""The account (tenant) and the meeting settings every other service reads from it.

The account's id is the gateway's account id (the token's ``account_id``). Its settings
travel as :class:`AccountSettingsChanged`, the full state after each change, so meetings,
calendar-sync and booking-pages keep read models without calling records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.records import DEFAULT_MEETING_OUTCOMES, AccountSettingsChanged
from pydantic import ValidationError

from convene_records.domain.versions import FIRST_VERSION, next_version

HubTier = Literal["free", "starter", "professional", "enterprise"]

DEFAULT_HUB_TIER: HubTier = "free"
"""A new account's tier until a subscription changes it (nothing upgrades accounts yet)."""


@dataclass(frozen=True)
class Account:
    """One account and its meeting settings (R2, R8, R10, R19, R25)."""

    id: str
    name: str
    sandbox: bool
    default_time_zone: str
    default_language: str
    created_at: datetime
    updated_at: datetime
    hub_tier: HubTier = DEFAULT_HUB_TIER
    reminders_enabled_by_default: bool = False
    default_reminders: tuple[ReminderOffset, ...] = ()
    custom_meeting_types_enabled: bool = False
    meeting_types: tuple[str, ...] = ()
    meeting_outcomes: tuple[str, ...] = field(default=DEFAULT_MEETING_OUTCOMES)
    version: int = FIRST_VERSION


def open_account(
    account_id: str,
    *,
    name: str,
    sandbox: bool,
    default_time_zone: str,
    default_language: str,
    now: datetime,
) -> Account:
    """A new account with the default settings: reminders off, custom meeting types off,
    the default outcomes (R19), the free tier."""
    return Account(
        id=account_id,
        name=name,
        sandbox=sandbox,
        default_time_zone=default_time_zone,
        default_language=default_language,
        created_at=now,
        updated_at=now,
    )


def settings_changed(account: Account) -> AccountSettingsChanged:
    """The event carrying every meeting setting of ``account`` as it is now."""
    return AccountSettingsChanged(
        account_id=account.id,
        version=account.version,
        occurred_at=account.updated_at,
        account_created_at=account.created_at,
        is_sandbox=account.sandbox,
        hub_tier=account.hub_tier,
        default_time_zone=account.default_time_zone,
        default_language=account.default_language,
        reminders_enabled_by_default=account.reminders_enabled_by_default,
        default_reminders=list(account.default_reminders),
        custom_meeting_types_enabled=account.custom_meeting_types_enabled,
        meeting_types=list(account.meeting_types),
        meeting_outcomes=list(account.meeting_outcomes),
    )


SETTING_FIELDS: frozenset[str] = frozenset({
    "name", "sandbox", "default_time_zone", "default_language", "hub_tier",
    "reminders_enabled_by_default", "default_reminders", "custom_meeting_types_enabled",
    "meeting_types", "meeting_outcomes",
})
"""The account fields a settings change may set."""


class InvalidSettings(ValueError):
    """A settings change breaks a rule (at most three reminders, unique non-blank names,
    at least one outcome); the message says which."""


def change_settings(account: Account, changes: dict[str, Any], *,
                    now: datetime) -> tuple[Account, AccountSettingsChanged | None]:
    """The account with ``changes`` applied at the next version, and its event; the same
    account and no event when nothing actually changes."""
    unknown = set(changes) - SETTING_FIELDS
    if unknown:
        raise InvalidSettings(f"Unknown settings: {sorted(unknown)}")
    values = dict(changes)
    if "default_reminders" in values:
        try:
            values["default_reminders"] = tuple(ReminderOffset.model_validate(r)
                                                for r in values["default_reminders"])
        except ValidationError as exc:
            raise InvalidSettings(_problems(exc)) from exc
    for name in ("meeting_types", "meeting_outcomes"):
        if name in values:
            values[name] = tuple(values[name])
    if all(getattr(account, k) == v for k, v in values.items()):
        return account, None
    changed = replace(account, **values, version=next_version(account.version), updated_at=now)
    try:
        return changed, settings_changed(changed)
    except ValidationError as exc:
        raise InvalidSettings(_problems(exc)) from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]) for e in exc.errors())
