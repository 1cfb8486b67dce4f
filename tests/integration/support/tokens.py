"""Gateway tokens made by hand, good and bad, for the tests of the services' doors
(tests/integration/test_skeleton_3_auth.py, tests/security/test_3_tokens.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.services import Stack


def claims(account_id: str, user_id: str, **overrides: Any) -> dict[str, Any]:
    """What the gateway signs for a team member of ``account_id``, valid for ten minutes."""
    now = int(time.time())
    return {"sub": user_id, "account_id": account_id, "roles": ["team"],
            "aud": "convene", "iss": "convene-gateway", "iat": now, "exp": now + 600,
            **overrides}


def signed(stack: Stack, payload: dict[str, Any], key: Any = None, algorithm: str = "ES256") -> str:
    """``payload`` signed with the stack's gateway key (or ``key``)."""
    key = key or (stack.keys / "private.pem").read_bytes()
    return jwt.encode(payload, key, algorithm=algorithm)


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    """An unsecured JWT (``alg: none``, or a spelling of it), without a signature."""
    return f"{_part({'alg': alg, 'typ': 'JWT'})}.{_part(payload)}."


def hs256_with_public_key(public_key_pem: bytes, payload: dict[str, Any]) -> str:
    """The key-confusion attack: HS256 with the verifier's public key as the HMAC secret
    (PyJWT refuses to make it, so it is made by hand)."""
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT'})}.{_part(payload)}"
    mac = hmac.new(public_key_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def tampered(token: str, **changes: Any) -> str:
    """A genuine token whose payload was changed after signing (the signature kept)."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_part({**data, **changes})}.{signature}"


def bad_tokens(stack: Stack, account_id: str, user_id: str) -> dict[str, Callable[[], str | None]]:
    """Every kind of token the services must refuse with 401, by name (None: no token)."""
    now = int(time.time())
    good = claims(account_id, user_id)
    public_pem = Path(stack.keys / "public.pem").read_bytes()
    return {
        "missing": lambda: None,
        "expired": lambda: signed(stack, claims(account_id, user_id, iat=now - 7200, exp=now - 3600)),
        "wrong_key": lambda: signed(stack, good, key=ec.generate_private_key(ec.SECP256R1())),
        "rsa_other_key": lambda: signed(stack, good, key=rsa.generate_private_key(65537, 2048),
                                        algorithm="RS256"),
        "alg_none": lambda: unsigned(good),
        "alg_None_spelling": lambda: unsigned(good, alg="None"),
        "hs256_with_public_key": lambda: hs256_with_public_key(public_pem, good),
        "tampered_account": lambda: tampered(signed(stack, good), account_id="acc_someone_else"),
        "tampered_roles": lambda: tampered(signed(stack, good), roles=["admin", "team"]),
        "wrong_audience": lambda: signed(stack, claims(account_id, user_id, aud="someone-else")),
        "wrong_issuer": lambda: signed(stack, claims(account_id, user_id, iss="evil-gateway")),
        "not_yet_valid": lambda: signed(stack, claims(account_id, user_id, nbf=now + 3600)),
        "garbage": lambda: "not.a.jwt",
    }
