"""The Google Calendar v3 + OAuth emulator (infra/emulators/google_calendar) as a server of the
local infrastructure: 127.0.0.1 only, port CONVENE_GOOGLE_PORT (default 18090), output in
<home>/logs/google.log, PID in <home>/run/google.pid, stopped by that PID.

Started with the rest by `make infra-up` and `make run` (``all_servers()``); alone:

    python -m infra.servers.google up | down | status

Its state is in memory: a restart empties it (tests set it up through /_admin/...).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request

from infra import config
from infra.config import InfraConfig, _port
from infra.process import InfraError, spawn
from infra.servers import Server

PORT_VARIABLE = "CONVENE_GOOGLE_PORT"
DEFAULT_PORT = 18090


class GoogleCalendarEmulator(Server):
    name = "google"

    def __init__(self, cfg: InfraConfig) -> None:
        super().__init__(cfg)
        self._port = _port(PORT_VARIABLE, DEFAULT_PORT)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> int:
        return spawn(self.cfg, self.name, [
            sys.executable, "-m", "infra.emulators.google_calendar", "--host", "127.0.0.1",
            "--port", str(self.port), "--marker", str(self.cfg.home)])

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return json.load(response).get("emulator") == "google-calendar-v3"
        except (OSError, ValueError):
            return False

    def endpoints(self) -> dict[str, str]:
        return {
            "CONVENE_GOOGLE_URL": self.url,  # the admin API is under /_admin/
            "CONVENE_GOOGLE_API_ENDPOINT": f"{self.url}/calendar/v3/",  # client_options api_endpoint
            "CONVENE_GOOGLE_AUTH_URI": f"{self.url}/o/oauth2/v2/auth",
            "CONVENE_GOOGLE_TOKEN_URI": f"{self.url}/token",
            "CONVENE_GOOGLE_REVOKE_URI": f"{self.url}/revoke",
            "CONVENE_GOOGLE_USERINFO_URI": f"{self.url}/oauth2/v3/userinfo",
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.servers.google",
                                     description="start, stop or show the Google emulator")
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    server = GoogleCalendarEmulator(config.load())
    try:
        if args.command == "up":
            print(server.start(), flush=True)
            for key, value in server.endpoints().items():
                print(f"{key}={value}")
        elif args.command == "down":
            pid = server.stop()
            print(f"google: stopped (pid {pid})" if pid else "google: not running")
        else:
            up = server.ready()
            print(f"google    {'up' if up else 'down'}  pid {server.pid() or '-'}  {server.url}")
            return 0 if up else 1
    except InfraError as exc:
        print(f"infra: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
