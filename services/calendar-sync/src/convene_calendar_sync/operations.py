"""Operator commands of calendar-sync, run where the service runs (its settings, its
database): ``python -m convene_calendar_sync keys generate | rotate``.

``keys rotate`` re-seals every stored credential under the keyring's current key (the first
of ``CONVENE_CREDENTIALS_ENCRYPTION_KEY``); older keys stay in the keyring until it reports nothing left
under them. Each write is conditional on the sealed value it read (its nonce), so a
credential replaced meanwhile (a user reconnecting) is left as the user made it. It prints
counts only, never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

from convene_kit.secret_box import SecretBox, SecretBoxError, generate_key
from convene_kit.store import MongoStore

from convene_calendar_sync.adapters import credential_context
from convene_calendar_sync.settings import CalendarSyncSettings
from convene_calendar_sync.store import CREDENTIALS, CredentialStore


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0  # already under the current key
    changed_meanwhile: int = 0
    unreadable: int = 0  # sealed under a key no longer in the keyring, or tampered

    def __str__(self) -> str:
        return (f"rotated {self.rotated}, already current {self.current}, changed meanwhile "
                f"{self.changed_meanwhile}, unreadable {self.unreadable}")


async def rotate_keys(credentials: CredentialStore, box: SecretBox) -> RotationReport:
    """Re-seal every credential not under the current key; see the module docstring."""
    report = RotationReport()
    after = ""
    while True:
        page = await credentials.page_after(after)
        for document in page:
            sealed = document["sealed"]
            context = credential_context(document["account_id"], document["_id"])
            if not box.needs_rotation(sealed):
                report.current += 1
                continue
            try:
                resealed = box.rotate(sealed, context=context)
            except SecretBoxError:
                report.unreadable += 1
                continue
            if await credentials.replace_sealed(document["_id"], sealed["nonce"], resealed):
                report.rotated += 1
            else:
                report.changed_meanwhile += 1
        if not page:
            return report
        after = page[-1]["_id"]


async def _rotate(settings: CalendarSyncSettings) -> RotationReport:
    from convene_calendar_sync.bootstrap import keyring

    store = MongoStore.from_settings(settings)
    try:
        return await rotate_keys(CredentialStore(store.collection(CREDENTIALS)),
                                 keyring(settings))
    finally:
        await store.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m convene_calendar_sync",
                                     description="calendar-sync operator commands")
    commands = parser.add_subparsers(dest="group", required=True)
    keys = commands.add_parser("keys", help="the keyring of credentials at rest")
    keys.add_argument("action", choices=["generate", "rotate"],
                      help="generate: print a new key entry; rotate: re-seal every "
                           "credential under the current key")
    args = parser.parse_args(argv)
    if args.action == "generate":
        print(f"k{datetime.now(timezone.utc):%Y%m%d}:{generate_key()}")
        return 0
    settings = CalendarSyncSettings()
    if not settings.credentials_encryption_key.get_secret_value().strip():
        print("CONVENE_CREDENTIALS_ENCRYPTION_KEY is not set: nothing to rotate to", file=sys.stderr)
        return 2
    report = asyncio.run(_rotate(settings))
    print(report)
    return 1 if report.unreadable else 0
