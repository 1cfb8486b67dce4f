"""Opening, reading and configuring the caller's account (R2, R8, R10, R19)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.aggregates import KeyTaken
from convene_kit.http import ApiError

from convene_records.domain.accounts import (
    Account,
    InvalidSettings,
    change_settings,
    open_account,
    settings_changed,
)
from convene_records.service_layer.deps import RecordsDeps


async def create_account(
    deps: RecordsDeps,
    account_id: str,
    *,
    name: str,
    sandbox: bool,
    default_time_zone: str,
    default_language: str,
) -> Account:
    """Open the account ``account_id`` (the caller's) and publish its settings.

    409 ``account_exists`` if it is already open.
    """
    account = open_account(account_id, name=name, sandbox=sandbox,
                           default_time_zone=default_time_zone,
                           default_language=default_language, now=deps.clock())
    try:
        return await deps.aggregates.create(deps.accounts, account, [settings_changed(account)])
    except KeyTaken as exc:
        raise ApiError(409, "account_exists", "The account already exists.") from exc


NOT_OPEN = ApiError(404, "account_not_found", "The account does not exist yet.")


async def get_account(deps: RecordsDeps, account_id: str) -> Account:
    """The account at its latest settings; 404 ``account_not_found`` until it is created."""
    account = await deps.aggregates.load(deps.accounts, account_id, account_id)
    if account is None:
        raise NOT_OPEN
    return account


async def change_account_settings(deps: RecordsDeps, account_id: str,
                                  changes: dict[str, Any]) -> Account:
    """Apply ``changes`` and publish ``AccountSettingsChanged`` (full state) if anything
    changed. 422 ``invalid_settings``; concurrent changes are applied one after the other
    (:meth:`convene_kit.aggregates.Aggregates.change`)."""
    async def rule(account: Account, now: datetime) -> tuple[Account, list[Any]] | None:
        try:
            changed, event = change_settings(account, changes, now=now)
        except InvalidSettings as exc:
            raise ApiError(422, "invalid_settings", str(exc)) from exc
        return None if event is None else (changed, [event])

    return await deps.aggregates.change(deps.accounts, account_id, account_id, rule,
                                        missing=NOT_OPEN)
