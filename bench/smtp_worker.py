"""Sends emails through notifications' own mailer (``SmtpMailer``) and prints one JSON line
of timings. Run by ``bench.smtp`` with the interpreter of the code under test, so a baseline
revision is measured with its own mailer.

``python -m bench.smtp_worker --count N --concurrency C --tag T``; the mailer is built from
notifications' settings (``CONVENE_SMTP_*`` in the environment), so
``CONVENE_SMTP_MAX_MESSAGES_PER_CONNECTION=1`` makes it open a connection per email.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from email.message import EmailMessage

from convene_notifications import mailer as mailer_module
from convene_notifications.settings import NotificationsSettings

BODY = "A line of a benchmark message about as long as an invitation is in all.\n" * 60


def message(tag: str, i: int, sender: str, recipient: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = f"SMTP benchmark {i}"
    msg["Message-ID"] = f"<{tag}-{i}@bench.example>"
    msg["X-Bench-Id"] = f"{tag}-{i}"
    msg.set_content(BODY)
    return msg


def connections_opened() -> float | None:
    counter = getattr(mailer_module, "SMTP_CONNECTIONS_OPENED", None)
    return None if counter is None else counter._value.get()  # noqa: SLF001 - a test probe


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--tag", required=True)
    args = parser.parse_args()
    settings = NotificationsSettings()
    mailer = mailer_module.SmtpMailer.from_settings(settings)
    sender = settings.sender.addr_spec
    recipient = f"{args.tag}@bench.example"
    messages = [message(args.tag, i, sender, recipient) for i in range(args.count)]
    slots = asyncio.Semaphore(args.concurrency)
    latencies: list[float] = []
    failures: list[str] = []

    async def send(msg: EmailMessage) -> None:
        async with slots:
            started = time.perf_counter()
            try:
                await mailer.send(msg, sender=sender, recipients=[recipient])
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(send(m) for m in messages))
    elapsed = time.perf_counter() - started
    close_idle = getattr(mailer, "close_idle", None)
    if close_idle is not None:
        await close_idle()
    print(json.dumps({
        "count": args.count, "sent": len(latencies), "failures": len(failures),
        "failure_examples": sorted(set(failures))[:3], "elapsed_s": elapsed,
        "latencies_s": latencies, "connections_opened": connections_opened(),
        "mailer_file": mailer_module.__file__,
        "pool_size": getattr(settings, "smtp_pool_size", None),
        "max_messages_per_connection": getattr(settings, "smtp_max_messages_per_connection",
                                               None)}))


if __name__ == "__main__":
    asyncio.run(main())
