"""``convene calendar resync`` and ``convene keys rotate``: pointers, not the operations.

Both act on what calendar-sync owns: connections with their sync cursors, and credentials
sealed under its keyring (``CONVENE_CREDENTIALS_ENCRYPTION_KEY``). This CLI holds neither the service's
database nor its keyring, and a service's data is changed only by the service, so the
commands say where the operation lives and exit 4 rather than pretend: an operator's script
must not read success into them.
"""

from __future__ import annotations

import click

from convene_cli.context import EXIT_NOT_AVAILABLE

_ANY_ARGUMENTS = {"ignore_unknown_options": True, "allow_extra_args": True}


class NotAvailable(click.ClickException):
    """The command needs a part of Convene that is not built yet."""

    exit_code = EXIT_NOT_AVAILABLE


@click.group()
def calendar() -> None:
    """Calendar connections (operations live in calendar-sync)."""


@calendar.command(context_settings=_ANY_ARGUMENTS)
def resync() -> None:
    """Force a full resync of calendar connections (through calendar-sync's API)."""
    raise NotAvailable(
        "`convene calendar resync` cannot reach calendar-sync's provider connections and sync "
        "cursors from here: a connection's owner resyncs it with POST "
        "/connections/{id}/resync on calendar-sync (services/calendar-sync/README.md); a "
        "resync of every connection is not built. Nothing was done.")


@click.group()
def keys() -> None:
    """Credentials encryption keys (operations live in calendar-sync)."""


@keys.command(context_settings=_ANY_ARGUMENTS)
def rotate() -> None:
    """Re-encrypt provider credentials under a new key (run in calendar-sync)."""
    raise NotAvailable(
        "`convene keys rotate` cannot open calendar-sync's encrypted provider credentials "
        "from here: run `python -m convene_calendar_sync keys rotate` where calendar-sync "
        "runs (its CONVENE_CREDENTIALS_ENCRYPTION_KEY, new key first, and its database; "
        "services/calendar-sync/README.md). Nothing was done.")
