"""/account: the caller's account (its id is the token's account id)."""

from __future__ import annotations

from convene_kit.auth import CurrentPrincipal
from convene_kit.http import ApiError
from convene_kit.openapi import error_responses
from fastapi import APIRouter

from convene_records.api.deps import Deps
from convene_records.api.models import (
    AccountCreate,
    AccountRead,
    AccountSettingsRead,
    AccountSettingsUpdate,
)
from convene_records.service_layer import accounts

router = APIRouter(prefix="/account", tags=["accounts"])


_NOT_OPEN = {404: "account_not_found: the account is not open yet."}


@router.post("", status_code=201, response_model=AccountRead,
             responses=error_responses({409: "account_exists: it is open already."}))
async def create_account(body: AccountCreate, principal: CurrentPrincipal,
                         deps: Deps) -> AccountRead:
    """Open the caller's account; 409 ``account_exists`` if it is open already."""
    account = await accounts.create_account(
        deps, principal.account_id, name=body.name, sandbox=body.sandbox,
        default_time_zone=body.default_time_zone, default_language=body.default_language)
    return AccountRead.of(account)


@router.get("", response_model=AccountRead, responses=error_responses(_NOT_OPEN))
async def get_account(principal: CurrentPrincipal, deps: Deps) -> AccountRead:
    """The caller's account; 404 ``account_not_found`` before it is created."""
    return AccountRead.of(await accounts.get_account(deps, principal.account_id))


@router.get("/settings", response_model=AccountSettingsRead,
            responses=error_responses(_NOT_OPEN))
async def get_settings(principal: CurrentPrincipal, deps: Deps) -> AccountSettingsRead:
    """The caller's account with every meeting setting."""
    return AccountSettingsRead.of(await accounts.get_account(deps, principal.account_id))


@router.patch("/settings", response_model=AccountSettingsRead, responses=error_responses({
    403: "forbidden: the token has no admin role.", **_NOT_OPEN,
    409: "concurrent_change: changed by others right now; try again.",
    422: "invalid_settings (duplicate or blank names, null), validation_error, "
         "disallowed_character."}))
async def change_settings(body: AccountSettingsUpdate, principal: CurrentPrincipal,
                          deps: Deps) -> AccountSettingsRead:
    """Change settings (role ``admin`` only: 403 ``forbidden``); publishes
    ``AccountSettingsChanged``. 422 ``invalid_settings`` (duplicate names, ...)."""
    if not principal.has_role("admin"):
        raise ApiError(403, "forbidden", "Only an account admin can change its settings.")
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise ApiError(422, "invalid_settings", "A setting cannot be set to null.")
    account = await accounts.change_account_settings(deps, principal.account_id, changes)
    return AccountSettingsRead.of(account)
