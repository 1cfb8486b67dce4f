"""Tiny HTTP servers on loopback for the SSRF probes: a target that counts every request it
receives (any method, CalDAV's PROPFIND included) and a redirector that sends every
request elsewhere."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits = 0
    location: str | None = None


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        self.server.hits += 1
        if self.server.location:
            self.send_response(302)
            self.send_header("Location", self.server.location)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PROPFIND = do_REPORT = do_HEAD = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        return


class Target:
    """A listener on 127.0.0.1 (and ::1 on the same port where IPv6 exists)."""

    def __init__(self, location: str | None = None) -> None:
        self.servers: list[_Server] = [_Server(("127.0.0.1", 0), _Handler)]
        self.port = self.servers[0].server_address[1]
        try:
            self.servers.append(_V6Server(("::1", self.port), _Handler))
        except OSError:
            pass  # no IPv6 loopback here: the [::1] probes then reach nothing either way
        for server in self.servers:
            server.location = location

    @property
    def hits(self) -> int:
        return sum(server.hits for server in self.servers)


@contextmanager
def serving(location: str | None = None) -> Iterator[Target]:
    target = Target(location)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in target.servers]
    for thread in threads:
        thread.start()
    try:
        yield target
    finally:
        for server in target.servers:
            server.shutdown()
            server.server_close()
