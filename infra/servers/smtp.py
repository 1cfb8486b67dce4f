"""The SMTP sink (aiosmtpd): every received message becomes a file under the mail folder."""

from __future__ import annotations

import socket
import sys

from infra.process import spawn
from infra.servers import Server


class SmtpSink(Server):
    name = "smtp"

    @property
    def port(self) -> int:
        return self.cfg.smtp_port

    def prepare(self) -> None:
        self.cfg.mail_sink_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> int:
        return spawn(self.cfg, self.name, [
            sys.executable, "-m", "infra.smtp_sink", "--port", str(self.port),
            "--folder", str(self.cfg.mail_sink_dir),
        ], marker=str(self.cfg.mail_sink_dir))

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                return conn.recv(512).startswith(b"220")
        except OSError:
            return False

    def endpoints(self) -> dict[str, str]:
        return {
            "CONVENE_SMTP_HOST": "127.0.0.1",
            "CONVENE_SMTP_PORT": str(self.port),
            "CONVENE_MAIL_SINK_DIR": str(self.cfg.mail_sink_dir),
        }
