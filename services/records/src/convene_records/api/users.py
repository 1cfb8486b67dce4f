"""/users: the users of the caller's account (R1). Only an account admin manages users:
creating one and changing one both need the token's ``admin`` role (403 ``forbidden``)."""

from __future__ import annotations

from convene_kit.auth import CurrentPrincipal, Principal
from convene_kit.http import ApiError
from convene_kit.openapi import error_responses
from fastapi import APIRouter

from convene_records.api.deps import Deps
from convene_records.api.models import UserCreate, UserRead, UserUpdate
from convene_records.service_layer import people

router = APIRouter(prefix="/users", tags=["users"])


def _only_admins(principal: Principal) -> None:
    if not principal.has_role("admin"):
        raise ApiError(403, "forbidden", "Only an account admin can add or change users.")


_ADMIN_ONLY = {403: "forbidden: the token has no admin role."}
_EMAIL = {409: "user_email_taken: the account has a user with this email.",
          422: "invalid_email, validation_error, disallowed_character."}


@router.post("", status_code=201, response_model=UserRead, responses=error_responses({
    **_ADMIN_ONLY, 404: "account_not_found: the account is not open yet.", **_EMAIL}))
async def create_user(body: UserCreate, principal: CurrentPrincipal, deps: Deps) -> UserRead:
    """Add a user (role ``admin`` only: 403 ``forbidden``); publishes ``UserUpserted``.
    409 ``user_email_taken`` if the account has one with this email."""
    _only_admins(principal)
    user = await people.create_user(
        deps, principal.account_id, email=body.email, name=body.name,
        time_zone=body.time_zone, language=body.language, seat=body.seat,
        personal_email_access=body.personal_email_access)
    return UserRead.of(user)


@router.get("/{user_id}", response_model=UserRead,
            responses=error_responses({404: "user_not_found"}))
async def get_user(user_id: str, principal: CurrentPrincipal, deps: Deps) -> UserRead:
    """A user of the caller's account; 404 ``user_not_found`` otherwise."""
    return UserRead.of(await people.get_user(deps, principal.account_id, user_id))


@router.patch("/{user_id}", response_model=UserRead, responses=error_responses({
    **_ADMIN_ONLY, 404: "user_not_found", **_EMAIL,
    409: "user_email_taken, or concurrent_change (changed by others right now)"}))
async def update_user(user_id: str, body: UserUpdate, principal: CurrentPrincipal,
                      deps: Deps) -> UserRead:
    """Change a user (role ``admin`` only: 403 ``forbidden``); publishes ``UserUpserted``.
    ``null`` is refused (every user field is required)."""
    _only_admins(principal)
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise ApiError(422, "validation_error", "A user field cannot be set to null.")
    return UserRead.of(await people.update_user(deps, principal.account_id, user_id, changes))
