"""Opening, reading and configuring the caller's account (R2, R8, R10, R19)."""

from __future__ import annotations

from typing import Any

from convene_kit.http import ApiError
from convene_kit.outbox import utcnow

from convene_records.domain.accounts import (
    Account,
    InvalidSettings,
    change_settings,
    open_account,
    settings_changed,
)
from convene_records.service_layer.deps import RecordsDeps
from convene_records.store import DuplicateRecord


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
                           default_language=default_language, now=utcnow())
    try:
        written = await deps.accounts.add(account, [settings_changed(account)])
    except DuplicateRecord as exc:
        raise ApiError(409, "account_exists", "The account already exists.") from exc
    await deps.publish(deps.accounts.collection, written)
    return account


async def get_account(deps: RecordsDeps, account_id: str) -> Account:
    """The account; 404 ``account_not_found`` until it is created."""
    account = await deps.accounts.get(account_id)
    if account is None:
        raise ApiError(404, "account_not_found", "The account does not exist yet.")
    return account


async def change_account_settings(deps: RecordsDeps, account_id: str,
                                  changes: dict[str, Any]) -> Account:
    """Apply ``changes`` and publish ``AccountSettingsChanged`` (full state) if anything
    changed. 422 ``invalid_settings``; 409 ``concurrent_change`` if another change won."""
    account = await get_account(deps, account_id)
    try:
        changed, event = change_settings(account, changes, now=utcnow())
    except InvalidSettings as exc:
        raise ApiError(422, "invalid_settings", str(exc)) from exc
    if event is None:
        return account
    if not await deps.accounts.replace(account, changed, [event]):
        raise ApiError(409, "concurrent_change", "The settings changed meanwhile; try again.")
    await deps.publish(deps.accounts.collection, {"_id": account.id})
    return changed
