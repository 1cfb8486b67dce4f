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
from convene_records.revisions import DuplicateRecord
from convene_records.service_layer.changes import change, load
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
                           default_language=default_language, now=utcnow())
    try:
        written = await deps.accounts.add(account, [settings_changed(account)])
    except DuplicateRecord as exc:
        raise ApiError(409, "account_exists", "The account already exists.") from exc
    await deps.publish(deps.accounts.collection, written)
    return account


NOT_OPEN = ApiError(404, "account_not_found", "The account does not exist yet.")


async def get_account(deps: RecordsDeps, account_id: str) -> Account:
    """The account at its latest settings; 404 ``account_not_found`` until it is created."""
    account = await load(deps, deps.accounts, account_id, account_id)
    if account is None:
        raise NOT_OPEN
    return account


async def change_account_settings(deps: RecordsDeps, account_id: str,
                                  changes: dict[str, Any]) -> Account:
    """Apply ``changes`` and publish ``AccountSettingsChanged`` (full state) if anything
    changed. 422 ``invalid_settings``; concurrent changes are applied one after the other
    (:func:`~convene_records.service_layer.changes.change`)."""
    async def rule(account: Account) -> tuple[Account, list[Any]] | None:
        try:
            changed, event = change_settings(account, changes, now=utcnow())
        except InvalidSettings as exc:
            raise ApiError(422, "invalid_settings", str(exc)) from exc
        return None if event is None else (changed, [event])

    return await change(deps, deps.accounts, account_id, account_id, rule, missing=NOT_OPEN)
