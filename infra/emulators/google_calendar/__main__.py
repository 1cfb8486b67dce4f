"""`python -m infra.emulators.google_calendar --port 18090`: the emulator as a server.

Optional seeding for `make run` and manual use: `--user alice@example.test` (repeatable) and
`--client ID:SECRET:REDIRECT_URI[,REDIRECT_URI...]` (repeatable); everything else through the
admin API (/_admin/...).
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from infra.emulators.google_calendar.app import build_app
from infra.emulators.google_calendar.state import EmulatorState, OAuthClient


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.emulators.google_calendar",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", action="append", default=[], help="an email address")
    parser.add_argument("--client", action="append", default=[],
                        help="ID:SECRET:REDIRECT_URI[,REDIRECT_URI...]")
    parser.add_argument("--marker", help="ignored: lets infra recognise the process as its own")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    state = EmulatorState()
    for email in args.user:
        state.add_user(email)
    for spec in args.client:
        client_id, secret, redirects = spec.split(":", 2)
        state.clients[client_id] = OAuthClient(client_id, secret, redirects.split(","))
    uvicorn.run(build_app(state), host=args.host, port=args.port, log_level="info",
                access_log=False)


if __name__ == "__main__":
    main()
