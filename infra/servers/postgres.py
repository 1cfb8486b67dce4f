"""PostgreSQL 15 from Debian's packages: the backend of FerretDB.

initdb and the server refuse to run as root, so when the caller is root they run as the
`postgres` user, in a data folder that user owns. Unix sockets are off: TCP on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from infra.config import POSTGRES_MAJOR, REPO_ROOT
from infra.process import InfraError, spawn, stop
from infra.servers import Server

DATABASE = "ferretdb"
GIN_SQL = REPO_ROOT / "infra" / "postgres" / "ferretdb_gin.sql"
"""Indexes that serve FerretDB's equality reads (see the file)."""
INSTALL_HINT = (
    f"Install PostgreSQL {POSTGRES_MAJOR} (apt-get install postgresql-{POSTGRES_MAJOR}), "
    "or set CONVENE_PG_BIN to its bin folder."
)


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb/postgres/pg_isready of PostgreSQL 15, if installed."""
    configured = os.environ.get("CONVENE_PG_BIN")
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin"))
    for candidate in candidates:
        if (candidate / "postgres").exists() and (candidate / "initdb").exists():
            return candidate
    return None


def install_postgres() -> None:
    """Install Debian's PostgreSQL 15 when it is missing and we are allowed to (root + apt)."""
    if postgres_bin_dir() is not None:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise InfraError(f"missing prerequisite: PostgreSQL {POSTGRES_MAJOR} binaries. {INSTALL_HINT}")
    print(f"postgres: installing postgresql-{POSTGRES_MAJOR} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                  f"postgresql-{POSTGRES_MAJOR}"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise InfraError(f"postgres: {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    if postgres_bin_dir() is None:
        raise InfraError(f"postgres: apt-get installed nothing usable. {INSTALL_HINT}")


def _traversable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents] if p.exists())


class Postgres(Server):
    name = "postgres"

    @property
    def port(self) -> int:
        return self.cfg.postgres_port

    @property
    def run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    @property
    def data_dir(self) -> Path:
        preferred = self.cfg.data / "postgres"
        if self.run_as is None or _traversable_by_others(self.cfg.data.parent):
            return preferred
        # The postgres user cannot reach a folder under, say, /root: keep its data where it can.
        digest = hashlib.sha256(str(self.cfg.home).encode()).hexdigest()[:10]
        return Path("/var/tmp") / f"convene-postgres-{digest}"

    def check_prerequisites(self) -> None:
        install_postgres()
        if self.run_as:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                raise InfraError("missing prerequisite: the `postgres` user (comes with Debian's "
                                 "postgresql package) is needed to run PostgreSQL as root") from None

    def _bin(self, tool: str) -> str:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise InfraError(f"missing prerequisite: PostgreSQL {POSTGRES_MAJOR}. {INSTALL_HINT}")
        return str(bin_dir / tool)

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        kwargs = {"user": self.run_as, "group": self.run_as, "extra_groups": []} if self.run_as else {}
        return subprocess.run(argv, capture_output=True, text=True, cwd="/", **kwargs)

    def prepare(self) -> None:
        data = self.data_dir
        if (data / "PG_VERSION").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(data, user.pw_uid, user.pw_gid)
        os.chmod(data, 0o700)
        result = self._run([self._bin("initdb"), "-D", str(data), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8", "--no-locale"])
        if result.returncode != 0:
            raise InfraError(f"postgres: initdb failed:\n{result.stdout}{result.stderr}")

    def launch(self) -> int:
        data = str(self.data_dir)
        return spawn(self.cfg, self.name, [
            self._bin("postgres"), "-D", data, "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            # FerretDB's pool must fit: at PostgreSQL's default of 100, bursts of concurrent
            # updates hung FerretDB (local-infrastructure.md).
            "-c", f"max_connections={self.cfg.postgres_max_connections}",
            "-c", "shared_buffers=256MB",
        ], user=self.run_as, cwd="/", marker=data)

    def stop(self) -> int | None:
        # SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to leave;
        # SIGINT is its "fast" shutdown: roll back open work, close clients, stop cleanly.
        return stop(self.cfg, self.name, sig=signal.SIGINT)

    def ready(self) -> bool:
        result = subprocess.run([self._bin("pg_isready"), "-q", "-h", "127.0.0.1",
                                 "-p", str(self.port)], capture_output=True)
        return result.returncode == 0

    def after_ready(self) -> None:
        psql = [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                "-d", "postgres", "-tAc"]
        exists = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname='{DATABASE}'"],
                                capture_output=True, text=True)
        if exists.stdout.strip() != "1":
            created = subprocess.run([*psql, f"CREATE DATABASE {DATABASE}"],
                                     capture_output=True, text=True)
            if created.returncode != 0:
                raise InfraError(f"postgres: could not create database {DATABASE}: {created.stderr}")
        indexed = subprocess.run(
            [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", DATABASE, "-q", "-v", "ON_ERROR_STOP=1", "-f", str(GIN_SQL)],
            capture_output=True, text=True)
        if indexed.returncode != 0:
            raise InfraError(f"postgres: installing {GIN_SQL.name} failed: {indexed.stderr}")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def endpoints(self) -> dict[str, str]:
        return {"CONVENE_POSTGRES_URL": self.url}
