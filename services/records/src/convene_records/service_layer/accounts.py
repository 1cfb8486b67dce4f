"""Opening and reading the caller's account."""

from __future__ import annotations

from convene_kit.http import ApiError
from convene_kit.outbox import utcnow

from convene_records.domain.accounts import Account, open_account, settings_changed
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
