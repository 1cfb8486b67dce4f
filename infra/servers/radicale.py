"""Radicale (PyPI) as a real CalDAV server, with htpasswd users for tests and the demo.

Passwords are generated once per infrastructure folder and kept, hashed with SHA-512 crypt in
the htpasswd file and in clear in a 0600 credentials file that tests and `make run` read.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path

from infra.process import spawn
from infra.servers import Server

USERS = ("alice", "bob", "demo")


class Radicale(Server):
    name = "radicale"

    @property
    def port(self) -> int:
        return self.cfg.caldav_port

    @property
    def folder(self) -> Path:
        return self.cfg.data / "radicale"

    @property
    def config_file(self) -> Path:
        return self.folder / "config"

    @property
    def credentials_file(self) -> Path:
        return self.folder / "credentials.json"

    def _credentials(self) -> dict[str, str]:
        if self.credentials_file.exists():
            return json.loads(self.credentials_file.read_text())
        credentials = {user: secrets.token_urlsafe(12) for user in USERS}
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(credentials, handle, indent=2)
        return credentials

    def prepare(self) -> None:
        from passlib.hash import sha512_crypt  # ships with Radicale

        (self.folder / "collections").mkdir(parents=True, exist_ok=True)
        credentials = self._credentials()
        htpasswd = self.folder / "users"
        htpasswd.write_text("".join(f"{user}:{sha512_crypt.hash(password)}\n"
                                    for user, password in credentials.items()))
        self.config_file.write_text(
            "# Written by infra/servers/radicale.py on every start.\n"
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {htpasswd}\n"
            "htpasswd_encryption = sha512\n"
            "delay = 0\n"
            # SHA-512-crypt per request is the server's main cost under calendar-sync's
            # polling; logins are remembered briefly instead (15 s ok, 90 s failed).
            "cache_logins = true\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {self.folder / 'collections'}\n"
            "[logging]\n"
            "level = info\n"
        )

    def launch(self) -> int:
        return spawn(self.cfg, self.name, [sys.executable, "-m", "radicale",
                                           "--config", str(self.config_file)],
                     marker=str(self.config_file))

    def ready(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}.well-known/caldav", timeout=1)
        except urllib.error.HTTPError:
            return True  # it answered (401 or a redirect): it is up
        except OSError:
            return False
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def endpoints(self) -> dict[str, str]:
        return {"CONVENE_CALDAV_URL": self.url,
                "CONVENE_CALDAV_CREDENTIALS_FILE": str(self.credentials_file)}
