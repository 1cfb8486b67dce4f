"""Development stand-in for the gateway's signing key: make keys, mint tokens.

::

    python -m convene_kit.devtokens keygen --dir D [--type ec|rsa]
    python -m convene_kit.devtokens mint --key-dir D --account A --user U \\
        [--roles r1,r2] [--ttl 3600] [--audience convene] [--issuer convene-gateway]

``keygen`` writes ``D/private.pem`` (mode 0600) and ``D/public.pem`` unless a private key
is already there; point ``CONVENE_JWT_PUBLIC_KEY_FILE`` at ``public.pem``. ``mint`` prints
one token signed as the gateway would sign it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PRIVATE_KEY_FILE = "private.pem"
PUBLIC_KEY_FILE = "public.pem"


def generate_key_pair(directory: Path, key_type: str = "ec") -> tuple[Path, Path]:
    """Write a key pair into ``directory`` unless one exists; returns (private, public) paths."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if private_path.exists():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    else:
        if key_type == "ec":
            key = ec.generate_private_key(ec.SECP256R1())
        elif key_type == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(f"unknown key type {key_type!r} (ec or rsa)")
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Created 0600 from the start: never readable by others, not even briefly.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    if not public_path.exists():
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private_path, public_path


def mint_token(
    private_key_pem: bytes,
    *,
    account_id: str,
    user_id: str,
    roles: Sequence[str] = (),
    ttl_s: int = 3600,
    audience: str = "convene",
    issuer: str = "convene-gateway",
    now: float | None = None,
) -> str:
    """A gateway-style token: ES256 for an EC key, RS256 for an RSA key."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ES256"
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    else:
        raise ValueError(f"unsupported key type {type(key).__name__}")
    issued = int(now if now is not None else time.time())
    claims = {
        "account_id": account_id,
        "sub": user_id,
        "roles": list(roles),
        "aud": audience,
        "iss": issuer,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    return jwt.encode(claims, key, algorithm=algorithm)


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m convene_kit.devtokens keygen|mint ...``."""
    parser = argparse.ArgumentParser(prog="python -m convene_kit.devtokens")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="write a key pair if absent")
    keygen.add_argument("--dir", required=True, type=Path)
    keygen.add_argument("--type", choices=["ec", "rsa"], default="ec")
    mint = commands.add_parser("mint", help="print a signed token")
    mint.add_argument("--key-dir", required=True, type=Path)
    mint.add_argument("--account", required=True)
    mint.add_argument("--user", required=True)
    mint.add_argument("--roles", default="")
    mint.add_argument("--ttl", type=int, default=3600)
    mint.add_argument("--audience", default="convene")
    mint.add_argument("--issuer", default="convene-gateway")
    args = parser.parse_args(argv)

    if args.command == "keygen":
        private_path, public_path = generate_key_pair(args.dir, args.type)
        print(f"private key: {private_path}\npublic key: {public_path}")
        return 0
    private_path = args.key_dir / PRIVATE_KEY_FILE
    if not private_path.exists():
        print(f"error: no {private_path}; run keygen first", file=sys.stderr)
        return 2
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    print(
        mint_token(
            private_path.read_bytes(),
            account_id=args.account,
            user_id=args.user,
            roles=roles,
            ttl_s=args.ttl,
            audience=args.audience,
            issuer=args.issuer,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
