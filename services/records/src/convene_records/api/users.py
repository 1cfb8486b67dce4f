"""/users: the users of the caller's account (R1)."""

from __future__ import annotations

from convene_kit.auth import CurrentPrincipal
from fastapi import APIRouter

from convene_records.api.deps import Deps
from convene_records.api.models import UserCreate, UserRead
from convene_records.service_layer import people

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=201, response_model=UserRead)
async def create_user(body: UserCreate, principal: CurrentPrincipal, deps: Deps) -> UserRead:
    """Add a user; 409 ``user_email_taken`` if the account has one with this email."""
    user = await people.create_user(
        deps, principal.account_id, email=body.email, name=body.name,
        time_zone=body.time_zone, language=body.language, seat=body.seat,
        personal_email_access=body.personal_email_access)
    return UserRead.of(user)


@router.get("/{user_id}", response_model=UserRead)
async def get_user(user_id: str, principal: CurrentPrincipal, deps: Deps) -> UserRead:
    """A user of the caller's account; 404 ``user_not_found`` otherwise."""
    return UserRead.of(await people.get_user(deps, principal.account_id, user_id))
