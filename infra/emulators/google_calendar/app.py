"""The emulator as one Starlette application, and a way to run it on a background thread
(tests start it in-process on a free 127.0.0.1 port; `python -m` runs it as a server)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.emulators.google_calendar.admin import AdminApi
from infra.emulators.google_calendar.api import CalendarApi
from infra.emulators.google_calendar.events import EventWriter
from infra.emulators.google_calendar.oauth import OAuthServer
from infra.emulators.google_calendar.push import PushChannels
from infra.emulators.google_calendar.queries import EventQueries
from infra.emulators.google_calendar.state import EmulatorConfig, EmulatorState


def build_app(state: EmulatorState | None = None) -> Starlette:
    state = state or EmulatorState()
    push = PushChannels(state)
    writer = EventWriter(state, on_change=push.changed)
    oauth = OAuthServer(state)
    api = CalendarApi(state, oauth, writer, EventQueries(state), push)
    admin = AdminApi(state, writer, push)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "emulator": "google-calendar-v3"})

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        await push.close()

    app = Starlette(routes=[Route("/healthz", healthz), *oauth.routes(), *api.routes(),
                            *admin.routes()], lifespan=lifespan)
    app.state.emulator = state
    return app


class EmulatorThread:
    """The emulator on a daemon thread, listening on 127.0.0.1 (port 0: a free one).

    >>> with EmulatorThread() as emulator:
    ...     emulator.base_url  # http://127.0.0.1:<port>
    """

    def __init__(self, port: int = 0, config: EmulatorConfig | None = None) -> None:
        self.state = EmulatorState(config)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every keep-alive answer waits 40 ms for a delayed ACK.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.port = self.socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(build_app(self.state), log_level="warning",
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self._run, args=([self.socket],), daemon=True,
                                       name=f"google-emulator-{self.port}")

    def _run(self, sockets: Iterable[socket.socket]) -> None:
        asyncio.run(self.server.serve(sockets=list(sockets)))

    def start(self) -> EmulatorThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Google Calendar emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
