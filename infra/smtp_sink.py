"""An SMTP sink: accepts every message and keeps each one as a file a test or a person can read.

Each message is written atomically as ``<folder>/<received>-<id>.eml`` (the bytes exactly as
received) with a ``.json`` beside it holding the SMTP envelope (MAIL FROM, RCPT TO, peer,
time). Faults can be injected for tests through a JSON file (``<folder>/faults.json``, read at
every command), e.g. ``{"rcpt": {"bounce@example.com": [550, "5.1.1 no such user"]},
"data": {"count": 3, "reply": [451, "4.3.0 try again later"]}}``: a RCPT reply per address,
and a temporary reply to the next ``count`` DATA commands.

Run: ``python -m infra.smtp_sink --port 18025 --folder .convene/data/mail``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import uuid
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("smtp-sink")


class MailSink:
    """aiosmtpd handler that stores messages and applies injected faults."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.faults_file = folder / "faults.json"

    def _faults(self) -> dict:
        try:
            return json.loads(self.faults_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save_faults(self, faults: dict) -> None:
        tmp = self.faults_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(faults))
        os.replace(tmp, self.faults_file)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self._faults().get("rcpt", {}).get(address.lower())
        if reply:
            return f"{reply[0]} {reply[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        faults = self._faults()
        data_fault = faults.get("data")
        if data_fault and data_fault.get("count", 0) > 0:
            data_fault["count"] -= 1
            self._save_faults(faults)
            code, text = data_fault["reply"]
            log.info("refused a message with %s (fault injection)", code)
            return f"{code} {text}"
        received = datetime.now(timezone.utc)
        name = f"{received.strftime('%Y%m%dT%H%M%S.%fZ')}-{uuid.uuid4().hex[:12]}"
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "peer": str(session.peer),
            "received_at": received.isoformat(),
        }
        # Write both files under temporary names, then rename: a reader never sees half.
        for suffix, payload in ((".json", json.dumps(meta).encode()), (".eml", content)):
            tmp = self.folder / f".{name}{suffix}.tmp"
            tmp.write_bytes(payload)
            os.replace(tmp, self.folder / f"{name}{suffix}")
        log.info("stored message for %s at %s", ", ".join(envelope.rcpt_tos),
                 self.folder / f"{name}.eml")
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    handler = MailSink(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="convene-mail-sink", data_size_limit=25 * 1024 * 1024),
        host=host, port=port,
    )
    log.info("SMTP sink listening on %s:%d, writing every message to %s", host, port, folder)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(args.host, args.port, args.folder.resolve()))


if __name__ == "__main__":
    main()
