"""``convene calendar resync`` and ``convene keys rotate``: present, not yet possible.

Both act on what calendar-sync is to own (provider connections with their sync cursors;
credentials encrypted with ``CONVENE_CREDENTIALS_ENCRYPTION_KEY``), and calendar-sync is a
skeleton that stores nothing yet (services/calendar-sync/README.md, issue 14). They say so
and exit 4 rather than pretend: an operator's script must not read success into them.
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
    """Calendar connections (needs calendar-sync, not built yet)."""


@calendar.command(context_settings=_ANY_ARGUMENTS)
def resync() -> None:
    """Force a full resync of calendar connections (not available yet)."""
    raise NotAvailable(
        "`convene calendar resync` needs calendar-sync's provider connections and sync "
        "cursors, which are not built yet: calendar-sync is a skeleton that stores no "
        "connection (services/calendar-sync/README.md, issue 14). Nothing was done.")


@click.group()
def keys() -> None:
    """Credentials encryption key (needs calendar-sync, not built yet)."""


@keys.command(context_settings=_ANY_ARGUMENTS)
def rotate() -> None:
    """Re-encrypt provider credentials under a new key (not available yet)."""
    raise NotAvailable(
        "`convene keys rotate` needs calendar-sync's encrypted provider credentials, which "
        "are not built yet: calendar-sync stores no credential and does not read "
        "CONVENE_CREDENTIALS_ENCRYPTION_KEY (services/calendar-sync/README.md, issue 14). "
        "Nothing was done.")
