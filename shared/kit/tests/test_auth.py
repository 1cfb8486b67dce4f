"""Gateway JWT verification: the right tokens pass, every wrong one is a 401 with a code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
from convene_kit import devtokens
from convene_kit.auth import CurrentPrincipal, JwtVerifier, Principal
from convene_kit.http import create_app
from convene_kit.settings import ServiceSettings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter
from fastapi.testclient import TestClient

router = APIRouter()


@router.get("/whoami")
async def whoami(principal: CurrentPrincipal) -> dict:
    return {"account_id": principal.account_id, "user_id": principal.user_id,
            "roles": list(principal.roles)}


def pem_private(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def app_for(public_pem: bytes) -> TestClient:
    verifier = JwtVerifier(public_pem, audience="convene", issuer="convene-gateway")
    app = create_app(ServiceSettings(service_name="kittest"), routers=[router], verifier=verifier)
    return TestClient(app)


def mint(key, **overrides) -> str:
    token = devtokens.mint_token(pem_private(key), account_id="acc-1", user_id="u-1",
                                 roles=["host"], **overrides)
    return token


def call(c: TestClient, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return c.get("/whoami", headers=headers)


def assert_401(response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_es256_token_is_accepted(ec_key) -> None:
    response = call(app_for(pem_public(ec_key)), mint(ec_key))
    assert response.status_code == 200
    assert response.json() == {"account_id": "acc-1", "user_id": "u-1", "roles": ["host"]}


def test_rs256_token_is_accepted(rsa_key) -> None:
    response = call(app_for(pem_public(rsa_key)), mint(rsa_key))
    assert response.status_code == 200
    assert response.json()["account_id"] == "acc-1"


def test_missing_token(ec_key) -> None:
    assert_401(call(app_for(pem_public(ec_key)), None), "missing_token")


def test_expired_token(ec_key) -> None:
    token = mint(ec_key, now=time.time() - 7200, ttl_s=60)
    assert_401(call(app_for(pem_public(ec_key)), token), "token_expired")


def test_token_signed_by_another_key(ec_key) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert_401(call(app_for(pem_public(ec_key)), mint(other)), "invalid_token")


def test_alg_none_is_refused(ec_key) -> None:
    claims = jwt.decode(mint(ec_key), options={"verify_signature": False})
    token = jwt.encode(claims, key=None, algorithm="none")
    assert_401(call(app_for(pem_public(ec_key)), token), "invalid_token")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("key_fixture", ["rsa_key", "ec_key"])
def test_hs256_signed_with_the_public_key_is_refused(key_fixture, request) -> None:
    key = request.getfixturevalue(key_fixture)
    public = pem_public(key)
    claims = jwt.decode(mint(key), options={"verify_signature": False})
    signing_input = (_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "."
                     + _b64(json.dumps(claims).encode()))
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + _b64(signature)
    assert_401(call(app_for(public), token), "invalid_token")


def test_wrong_audience_and_issuer(ec_key) -> None:
    c = app_for(pem_public(ec_key))
    assert_401(call(c, mint(ec_key, audience="someone-else")), "invalid_token")
    assert_401(call(c, mint(ec_key, issuer="evil-gateway")), "invalid_token")


def test_token_without_account_id_is_refused(ec_key) -> None:
    claims = {"sub": "u-1", "aud": "convene", "iss": "convene-gateway",
              "iat": int(time.time()), "exp": int(time.time()) + 60}
    token = jwt.encode(claims, ec_key, algorithm="ES256")
    assert_401(call(app_for(pem_public(ec_key)), token), "invalid_token")


def test_token_without_exp_is_refused(ec_key) -> None:
    claims = {"sub": "u-1", "account_id": "acc-1", "aud": "convene", "iss": "convene-gateway",
              "iat": int(time.time())}
    token = jwt.encode(claims, ec_key, algorithm="ES256")
    assert_401(call(app_for(pem_public(ec_key)), token), "invalid_token")


def test_garbage_token(ec_key) -> None:
    assert_401(call(app_for(pem_public(ec_key)), "not.a.jwt"), "invalid_token")


def test_algorithms_are_pinned_by_key_type(ec_key, rsa_key) -> None:
    assert JwtVerifier(pem_public(ec_key), audience="a", issuer="i").algorithms == ["ES256"]
    assert JwtVerifier(pem_public(rsa_key), audience="a", issuer="i").algorithms == ["RS256"]
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError):
        JwtVerifier(pem_public(p384), audience="a", issuer="i")


def test_keygen_and_mint_cli(tmp_path: Path, capsys) -> None:
    key_dir = tmp_path / "keys"
    assert devtokens.main(["keygen", "--dir", str(key_dir)]) == 0
    private = key_dir / "private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    assert devtokens.main(["keygen", "--dir", str(key_dir), "--type", "rsa"]) == 0
    assert private.read_bytes() == before  # an existing key is never replaced
    capsys.readouterr()
    assert devtokens.main(["mint", "--key-dir", str(key_dir), "--account", "acc-9",
                           "--user", "u-9", "--roles", "admin,host", "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    settings = ServiceSettings(service_name="kittest", jwt_public_key_file=key_dir / "public.pem")
    principal = JwtVerifier.from_settings(settings).verify(token)
    assert principal == Principal(account_id="acc-9", user_id="u-9", roles=("admin", "host"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


@pytest.mark.parametrize("claims", [{"account_id": "acc\u0000"}, {"user_id": "u\n1"},
                                    {"roles": ["team\u0000"]}])
def test_claims_no_store_can_hold_are_an_invalid_token(ec_key, claims: dict) -> None:
    # Every query is scoped by the account and user: a NUL there was a 500 from the store.
    values = {"account_id": "acc-1", "user_id": "u-1", "roles": ["host"], **claims}
    token = devtokens.mint_token(pem_private(ec_key), **values)
    assert_401(call(app_for(pem_public(ec_key)), token), "invalid_token")
