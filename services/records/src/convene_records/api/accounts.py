"""/account: the caller's account (its id is the token's account id)."""

from __future__ import annotations

from convene_kit.auth import CurrentPrincipal
from fastapi import APIRouter

from convene_records.api.deps import Deps
from convene_records.api.models import AccountCreate, AccountRead
from convene_records.service_layer import accounts

router = APIRouter(prefix="/account", tags=["accounts"])


@router.post("", status_code=201, response_model=AccountRead)
async def create_account(body: AccountCreate, principal: CurrentPrincipal,
                         deps: Deps) -> AccountRead:
    """Open the caller's account; 409 ``account_exists`` if it is open already."""
    account = await accounts.create_account(
        deps, principal.account_id, name=body.name, sandbox=body.sandbox,
        default_time_zone=body.default_time_zone, default_language=body.default_language)
    return AccountRead.of(account)


@router.get("", response_model=AccountRead)
async def get_account(principal: CurrentPrincipal, deps: Deps) -> AccountRead:
    """The caller's account; 404 ``account_not_found`` before it is created."""
    return AccountRead.of(await accounts.get_account(deps, principal.account_id))
