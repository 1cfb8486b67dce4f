"""Reading what the SMTP sink stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from support import endpoint


@dataclass(frozen=True)
class StoredMail:
    path: Path
    raw: bytes
    rcpt_tos: list[str]

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]

    def calendar_parts(self) -> list[bytes]:
        """Every text/calendar part (the alternative and the attachment)."""
        return [part.get_payload(decode=True) for part in self.message.walk()
                if part.get_content_type() == "text/calendar"]


def mails(containing: bytes | str, recipient: str | None = None) -> list[StoredMail]:
    """Every stored message whose bytes contain ``containing`` (and sent to ``recipient``)."""
    needle = containing.encode() if isinstance(containing, str) else containing
    found = []
    for path in sorted(Path(endpoint("CONVENE_MAIL_SINK_DIR")).glob("*.eml")):
        raw = path.read_bytes()
        if needle not in raw:
            continue
        meta = json.loads(path.with_suffix(".json").read_text())
        if recipient is None or recipient.lower() in (r.lower() for r in meta["rcpt_tos"]):
            found.append(StoredMail(path, raw, meta["rcpt_tos"]))
    return found
