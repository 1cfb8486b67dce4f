"""``convene token keygen|mint``: a token the services accept, for their audience and
issuer, from the key pair where ``make run`` keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest
from convene_kit.auth import JwtVerifier

from shared.cli.tests.conftest import Invoke


def verifier(key_dir: Path, audience: str = "convene",
             issuer: str = "convene-gateway") -> JwtVerifier:
    return JwtVerifier((key_dir / "public.pem").read_bytes(), audience=audience, issuer=issuer)


def test_minted_token_is_accepted_by_the_services_verifier(convene: Invoke,
                                                           tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert convene("token", "keygen", "--key-dir", str(keys)).exit_code == 0

    result = convene("token", "mint", "--key-dir", str(keys), "--account", "acc_1",
                     "--user", "usr_1", "--roles", "team, admin", "--ttl", "600")

    assert result.exit_code == 0, result.output
    principal = verifier(keys).verify(result.stdout.strip())
    assert (principal.account_id, principal.user_id) == ("acc_1", "usr_1")
    assert set(principal.roles) == {"team", "admin"}


def test_keys_default_to_convene_home_and_claims_to_the_services_settings(
        convene: Invoke, tmp_path: Path) -> None:
    env = {"CONVENE_HOME": str(tmp_path / "state"), "CONVENE_JWT_AUDIENCE": "crm",
           "CONVENE_JWT_ISSUER": "edge"}
    keygen = convene("token", "keygen", "--type", "rsa", env=env)
    result = convene("token", "mint", "--account", "acc_1", "--user", "usr_1", env=env)

    assert keygen.exit_code == 0 and result.exit_code == 0, result.output
    keys = tmp_path / "state" / "keys"
    assert (keys / "private.pem").is_file()
    verifier(keys, audience="crm", issuer="edge").verify(result.stdout.strip())


def test_mint_without_a_key_says_how_to_make_one(convene: Invoke, tmp_path: Path) -> None:
    result = convene("token", "mint", "--account", "acc_1", "--user", "usr_1",
                     "--key-dir", str(tmp_path / "none"))

    assert result.exit_code == 2
    assert "no private key at" in result.stderr
    assert "convene token keygen" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--user", "usr_1"), "Missing option '--account'"),
    (("--account", " ", "--user", "usr_1"), "must be an id without surrounding spaces"),
    (("--account", "acc_1", "--user", "usr_1", "--ttl", "0"), "0 is not in the range x>=1"),
    (("--account", "acc_1", "--user", "usr_1", "--roles", "team lead"), "roles are"),
])
def test_mint_validates_its_arguments(convene: Invoke, tmp_path: Path,
                                      args: tuple[str, ...], message: str) -> None:
    keys = tmp_path / "keys"
    convene("token", "keygen", "--key-dir", str(keys))

    result = convene("token", "mint", "--key-dir", str(keys), *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
