"""The SMTP sink keeps every message as a file that parses with the standard email package."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from support import endpoint, unique, wait_for


def sink() -> Path:
    return Path(endpoint("CONVENE_MAIL_SINK_DIR"))


async def test_sent_email_arrives_in_the_sink_and_parses() -> None:
    subject = unique("Quarterly review")
    message = EmailMessage()
    message["From"] = "host@convene.test"
    message["To"] = "Zoë Contact <zoe@example.com>"
    message["Subject"] = subject
    message.set_content("See you on Tuesday.\n")
    message.add_alternative("<p>See you on <b>Tuesday</b>.</p>", subtype="html")
    await aiosmtplib.send(message, hostname=endpoint("CONVENE_SMTP_HOST"),
                          port=int(endpoint("CONVENE_SMTP_PORT")))

    async def stored() -> Path | None:
        for path in sink().glob("*.eml"):
            if subject.encode() in path.read_bytes():
                return path
        return None

    path = await wait_for(stored, f"a message with subject {subject!r} in {sink()}")
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == subject
    assert parsed["To"].addresses[0].display_name == "Zoë Contact"
    # Stored exactly as received on the wire, with CRLF line ends.
    assert parsed.get_body(("plain",)).get_content().splitlines() == ["See you on Tuesday."]
    assert "<b>Tuesday</b>" in parsed.get_body(("html",)).get_content()
    envelope = json.loads(path.with_suffix(".json").read_text())
    assert envelope["rcpt_tos"] == ["zoe@example.com"]
    assert envelope["mail_from"] == "host@convene.test"
