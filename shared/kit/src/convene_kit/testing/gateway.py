"""The gateway and the clock as unit tests stand them in: a key pair made for the test session
(the verifier a service is built with, the bearer headers its callers send) and a clock the
test moves by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from convene_kit import devtokens
from convene_kit.auth import JwtVerifier


class GatewayKeys:
    """An EC P-256 key pair in the gateway's place: tokens signed with its private half,
    verified by :meth:`verifier` with the public half."""

    def __init__(self, *, audience: str = "convene", issuer: str = "convene-gateway") -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        self.audience = audience
        self.issuer = issuer
        self.private_pem = key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verifier(self) -> JwtVerifier:
        """What a service under test verifies tokens with (``bootstrap(verifier=...)``)."""
        return JwtVerifier(self.public_pem, audience=self.audience, issuer=self.issuer)

    def token(self, *, account_id: str, user_id: str, roles: Sequence[str] = ()) -> str:
        return devtokens.mint_token(self.private_pem, account_id=account_id, user_id=user_id,
                                    roles=roles, audience=self.audience, issuer=self.issuer)

    def headers(self, *, account_id: str, user_id: str,
                roles: Sequence[str] = ()) -> dict[str, str]:
        """``Authorization: Bearer <token>`` for a user of an account."""
        token = self.token(account_id=account_id, user_id=user_id, roles=roles)
        return {"Authorization": f"Bearer {token}"}


class ManualClock:
    """A :data:`convene_kit.clock.Clock` that stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
