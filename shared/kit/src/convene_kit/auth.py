"""Verifying the gateway's per-request JWT and turning it into a :class:`Principal`.

The gateway authenticates end users and signs a short-lived token per request with its
private key; services hold only the public key. The accepted algorithm is pinned by the
key's type (RSA: RS256 only; EC P-256: ES256 only), which refuses ``alg: none`` and the
classic confusion attack of an HS256 token "signed" with the public key as the secret.
``exp``, ``iat``, ``aud``, ``iss``, ``sub`` and ``account_id`` are required.

Routers depend on :func:`current_principal`; failures are 401 JSON errors with codes
``missing_token``, ``invalid_token`` or ``token_expired`` and a ``WWW-Authenticate: Bearer``
header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from convene_schemas.text import first_disallowed
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from convene_kit.http import ApiError
from convene_kit.settings import ServiceSettings

REQUIRED_CLAIMS = ["exp", "iat", "aud", "iss", "sub"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account (tenant) every query is scoped to, the user, the roles."""

    account_id: str
    user_id: str
    roles: tuple[str, ...] = ()

    def has_role(self, role: str) -> bool:
        """True if the caller holds ``role``."""
        return role in self.roles


class AuthError(ApiError):
    """A 401 with the Bearer challenge."""

    def __init__(self, code: str, message: str) -> None:
        challenge = "Bearer"
        if code != "missing_token":
            challenge = f'Bearer error="invalid_token", error_description="{code}"'
        super().__init__(401, code, message, headers={"WWW-Authenticate": challenge})


def algorithms_for_key(key: Any) -> list[str]:
    """The one algorithm a public key may verify: RS256 for RSA, ES256 for EC P-256."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("RSA keys shorter than 2048 bits are refused")
        return ["RS256"]
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ["ES256"]
    raise ValueError(f"unsupported gateway key type {type(key).__name__}")


class JwtVerifier:
    """Verifies gateway tokens with the gateway's public key (PEM)."""

    def __init__(
        self, public_key_pem: bytes, *, audience: str, issuer: str, leeway_s: float = 30.0
    ) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        self.algorithms = algorithms_for_key(key)  # refuses any key but RSA and EC P-256
        assert isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
        self.key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey = key
        self.audience = audience
        self.issuer = issuer
        self.leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> JwtVerifier:
        """The verifier for ``settings.jwt_public_key_file`` and the configured aud/iss."""
        if settings.jwt_public_key_file is None:
            raise ValueError("CONVENE_JWT_PUBLIC_KEY_FILE is not set")
        return cls(
            Path(settings.jwt_public_key_file).read_bytes(),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway_s=settings.jwt_leeway_s,
        )

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises :class:`AuthError` otherwise."""
        try:
            claims = jwt.decode(
                token,
                key=self.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token_expired", "The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("invalid_token", f"The token is not valid: {exc}") from exc
        account_id, user_id = claims.get("account_id"), claims.get("sub")
        roles = claims.get("roles", [])
        if not isinstance(account_id, str) or not account_id:
            raise AuthError("invalid_token", "The token has no account_id.")
        if not isinstance(user_id, str) or not user_id:
            raise AuthError("invalid_token", "The token has no subject.")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthError("invalid_token", "The token's roles are not a list of strings.")
        if first_disallowed([account_id, user_id, *roles]) is not None:
            # Every query is scoped by these: the store must be able to hold them.
            raise AuthError("invalid_token", "The token's claims hold control characters.")
        return Principal(account_id=account_id, user_id=user_id, roles=tuple(roles))


_bearer = HTTPBearer(auto_error=False, description="The gateway's per-request JWT")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified caller (the app's ``state.jwt_verifier`` checks)."""
    verifier: JwtVerifier | None = getattr(request.app.state, "jwt_verifier", None)
    if verifier is None:
        raise ApiError(500, "auth_not_configured", "No JWT verifier is configured.")
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthError("missing_token", "A Bearer token is required.")
    return verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
"""Annotate a view parameter with this to receive the verified :class:`Principal`."""
