"""``convene token keygen|mint``: development tokens, signed as the gateway would sign them.

A thin front over :mod:`convene_kit.devtokens` (the same functions ``make run`` uses). The
key pair lives in ``$CONVENE_HOME/keys`` (``.convene/keys``, where ``make run`` makes it)
unless ``--key-dir`` says otherwise; the audience and issuer default to
``CONVENE_JWT_AUDIENCE`` / ``CONVENE_JWT_ISSUER``, the claims the services check. For
development and tests only: in production the gateway signs every request.
"""

from __future__ import annotations

from pathlib import Path

import click
from convene_kit.devtokens import PRIVATE_KEY_FILE, generate_key_pair, mint_token

from convene_cli.context import BadInput, CliContext, pass_cli

key_dir_option = click.option(
    "--key-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder of private.pem / public.pem [default: $CONVENE_HOME/keys, i.e. .convene/keys].")


@click.group()
def token() -> None:
    """Development tokens (a key pair standing in for the gateway's)."""


@token.command()
@key_dir_option
@click.option("--type", "key_type", type=click.Choice(["ec", "rsa"]), default="ec",
              show_default=True, help="ES256 (ec) or RS256 (rsa).")
@pass_cli
def keygen(cli: CliContext, key_dir: Path | None, key_type: str) -> None:
    """Write a key pair unless one is there; point CONVENE_JWT_PUBLIC_KEY_FILE at public.pem."""
    private_path, public_path = generate_key_pair(key_dir or cli.settings.dev_key_dir, key_type)
    click.echo(f"private key: {private_path}\npublic key: {public_path}")


def _not_blank(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip() or value != value.strip():
        raise click.BadParameter("must be an id without surrounding spaces")
    return value


def _roles(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    roles = tuple(role.strip() for role in value.split(",") if role.strip())
    if any(" " in role for role in roles):
        raise click.BadParameter("roles are comma-separated names without spaces")
    return roles


@token.command()
@click.option("--account", required=True, callback=_not_blank, help="The account (tenant) id.")
@click.option("--user", required=True, callback=_not_blank, help="The user id (the token's sub).")
@click.option("--roles", default="", callback=_roles, metavar="ROLE[,ROLE...]",
              help="Roles, comma-separated (e.g. team).")
@click.option("--ttl", type=click.IntRange(min=1), default=3600, show_default=True,
              help="Seconds until the token expires.")
@click.option("--audience", help="The aud claim [default: $CONVENE_JWT_AUDIENCE, convene].")
@click.option("--issuer", help="The iss claim [default: $CONVENE_JWT_ISSUER, convene-gateway].")
@key_dir_option
@pass_cli
def mint(cli: CliContext, account: str, user: str, roles: tuple[str, ...], ttl: int,
         audience: str | None, issuer: str | None, key_dir: Path | None) -> None:
    """Print one token for ACCOUNT and USER, signed with the development private key."""
    settings = cli.settings
    private_path = (key_dir or settings.dev_key_dir) / PRIVATE_KEY_FILE
    if not private_path.is_file():
        raise BadInput(f"no private key at {private_path}: run `convene token keygen` "
                       "(or `make run`) first, or pass --key-dir")
    click.echo(mint_token(private_path.read_bytes(), account_id=account, user_id=user,
                          roles=roles, ttl_s=ttl, audience=audience or settings.jwt_audience,
                          issuer=issuer or settings.jwt_issuer))
