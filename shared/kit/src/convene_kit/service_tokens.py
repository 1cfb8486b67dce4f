"""Service-to-service reads over HTTP (architecture: "HTTP ... for reads between services where
an answer is needed now", e.g. booking-pages asking calendar-sync for busy time).

A public visitor has no gateway token, so such a read cannot carry an end user's JWT. The
callee instead accepts bearer tokens from an operator-set list (``name:token`` pairs, one per
calling service, from a Kubernetes Secret), compared in constant time against their SHA-256
digests; the caller sends its own token. Rotation: list the old and the new token under two
names, move the caller, drop the old one. An empty list refuses every call (a route that needs
a service token is closed until the operator opens it), and a token is never logged.

Routes depend on :data:`CallingService`; it answers 401 ``missing_token`` /
``invalid_token`` like the gateway check, so a caller cannot tell which part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from convene_kit.auth import AuthError

MIN_TOKEN_LENGTH = 32
"""Characters a service token has at least (a ``secrets.token_urlsafe(32)`` has 43)."""


class ServiceTokens:
    """The tokens a service accepts, by the name of the calling service."""

    def __init__(self, tokens: dict[str, str]) -> None:
        for name, token in tokens.items():
            if len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(f"the service token named {name!r} is shorter than "
                                 f"{MIN_TOKEN_LENGTH} characters")
        self._digests = {name: _digest(token) for name, token in tokens.items()}

    @classmethod
    def from_setting(cls, setting: SecretStr | str) -> ServiceTokens:
        """Parse ``"name:token,name:token"`` (whitespace around items ignored)."""
        text = setting.get_secret_value() if isinstance(setting, SecretStr) else setting
        tokens: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, token = item.partition(":")
            if not sep or not name.strip() or not token.strip():
                raise ValueError("service tokens are 'name:token' pairs separated by commas")
            if name.strip() in tokens:
                raise ValueError(f"the service token name {name.strip()!r} appears twice")
            tokens[name.strip()] = token.strip()
        return cls(tokens)

    def caller(self, token: str) -> str | None:
        """The name of the service holding ``token``, or None. Every digest is compared,
        in constant time, whatever matches first."""
        offered = _digest(token)
        found = None
        for name, digest in self._digests.items():
            if hmac.compare_digest(offered, digest):
                found = name
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_bearer = HTTPBearer(auto_error=False, description="A service token (service-to-service reads)")


async def calling_service(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """FastAPI dependency: the name of the calling service (``app.state.service_tokens``)."""
    tokens: ServiceTokens | None = getattr(request.app.state, "service_tokens", None)
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthError("missing_token", "A service token is required.")
    name = tokens.caller(credentials.credentials) if tokens is not None else None
    if name is None:
        raise AuthError("invalid_token", "The service token is not accepted.")
    return name


CallingService = Annotated[str, Depends(calling_service)]
"""Annotate a view parameter with this to require a service token; it receives the caller."""
