"""Embedded Radicale 3.9 for tests (providers.md §5.1): a WSGI server in a thread on
127.0.0.1 and a random port, htpasswd auth with plain passwords, one storage folder per
server. Also a plain HTTP server that is not CalDAV, for the connect-time checks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import radicale
import radicale.config


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a test never waits on another request's socket."""

    daemon_threads = True


@dataclass(frozen=True)
class RadicaleServer:
    base_url: str  # http://127.0.0.1:<port>/
    storage: Path

    def user_url(self, user: str) -> str:
        return f"{self.base_url}{user}/"


@contextmanager
def radicale_server(tmp_path: Path, users: dict[str, str]) -> Iterator[RadicaleServer]:
    """Run Radicale with ``users`` (name -> password) until the block ends."""
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    storage = tmp_path / f"collections-{uuid.uuid4().hex[:8]}"
    configuration = radicale.config.load([])
    configuration.update({
        "auth": {"type": "htpasswd", "htpasswd_filename": str(htpasswd),
                 "htpasswd_encryption": "plain", "delay": "0"},
        "storage": {"filesystem_folder": str(storage)},
        "rights": {"type": "owner_only"},
        "logging": {"level": "warning"},
    }, "test", privileged=True)
    httpd = make_server("127.0.0.1", 0, radicale.Application(configuration),
                        server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield RadicaleServer(f"http://127.0.0.1:{httpd.server_address[1]}/", storage)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def plain_http_server(status: int = 200) -> Iterator[str]:
    """An ordinary web server (not WebDAV): every method gets ``status`` and an HTML page."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b"<!doctype html><html><body>Welcome to our website</body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PROPFIND = do_REPORT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
