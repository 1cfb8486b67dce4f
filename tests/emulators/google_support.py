"""Helpers for the Google Calendar emulator's tests: how calendar-sync will build credentials
and the Calendar service (official client libraries pointed at the emulator), bounded waits, and
a local receiver for push notifications."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from infra.emulators.google_calendar.app import EmulatorThread
from infra.emulators.google_calendar.client import EmulatorAdmin

CLIENT_ID = "convene-test.apps.googleusercontent.com"
CLIENT_SECRET = "convene-test-secret"
REDIRECT_URI = "http://127.0.0.1:8103/oauth/google/callback"
CALENDAR = "https://www.googleapis.com/auth/calendar"
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
ALICE = "alice@example.test"
BOB = "bob@example.test"


def fresh_world(emulator: EmulatorThread) -> EmulatorAdmin:
    """The emulator emptied, then one OAuth client, Alice (Europe/Rome) and Bob (UTC): the
    world every test of the emulator and of calendar-sync's Google adapter starts from."""
    admin = EmulatorAdmin(emulator.base_url)
    admin.reset()
    admin.add_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
    admin.add_user(ALICE, "Alice", "Europe/Rome")
    admin.add_user(BOB, "Bob", "UTC")
    return admin


def credentials_for(emulator: EmulatorThread, admin: EmulatorAdmin, email: str,
                    scopes: tuple[str, ...] = (CALENDAR,)) -> Credentials:
    """Credentials holding only a refresh token: google-auth refreshes them against the
    emulator's token endpoint before the first call."""
    tokens = admin.grant(email, CLIENT_ID, list(scopes))
    return Credentials(token=None, refresh_token=tokens["refresh_token"],
                       token_uri=f"{emulator.base_url}/token", client_id=CLIENT_ID,
                       client_secret=CLIENT_SECRET, scopes=list(scopes))


def calendar_service(emulator: EmulatorThread, credentials: Credentials, **kwargs: Any) -> Any:
    return build("calendar", "v3", credentials=credentials, static_discovery=True,
                 cache_discovery=False,
                 client_options={"api_endpoint": f"{emulator.base_url}/calendar/v3/"}, **kwargs)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
    """Poll `condition` until it returns something truthy; fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class PushReceiver:
    """An HTTP endpoint on 127.0.0.1 recording every notification's headers; `replies` holds
    status codes to answer with first (then 200)."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.replies: deque[int] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["body"] = body.decode()
                status = receiver.replies.popleft() if receiver.replies else 200
                headers["answered"] = str(status)
                receiver.received.append(headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/google/notifications"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        wait_until(lambda: len(self.received) >= count, f"{count} push notification(s); got "
                   f"{len(self.received)}", timeout)
        return self.received[:count]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
