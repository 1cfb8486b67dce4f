"""/users: the users of the caller's account (R1)."""

from __future__ import annotations

from convene_kit.auth import CurrentPrincipal
from convene_kit.http import ApiError
from fastapi import APIRouter

from convene_records.api.deps import Deps
from convene_records.api.models import UserCreate, UserRead, UserUpdate
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


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(user_id: str, body: UserUpdate, principal: CurrentPrincipal,
                      deps: Deps) -> UserRead:
    """Change a user (role ``admin`` only: 403 ``forbidden``); publishes ``UserUpserted``.
    ``null`` is refused (every user field is required)."""
    if not principal.has_role("admin"):
        raise ApiError(403, "forbidden", "Only an account admin can change users.")
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise ApiError(422, "validation_error", "A user field cannot be set to null.")
    return UserRead.of(await people.update_user(deps, principal.account_id, user_id, changes))
