"""FerretDB 1.24.2 on its PostgreSQL backend: the embedded MongoDB-wire store.

Built once from the Go module proxy through the Go module in infra/ferretdb: vendor it, write
the version file the binary panics without, and build cmd/ferretdb from the vendor tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from infra.config import FERRETDB_VERSION, REPO_ROOT
from infra.process import InfraError, spawn
from infra.servers import Server, require_tool
from infra.servers.postgres import Postgres

MODULE_DIR = REPO_ROOT / "infra" / "ferretdb"
MODULE_FILES = ("go.mod", "go.sum", "tools.go")


class FerretDB(Server):
    name = "ferretdb"

    @property
    def port(self) -> int:
        return self.cfg.mongo_port

    @property
    def state_dir(self) -> Path:
        return self.cfg.data / "ferretdb"

    def check_prerequisites(self) -> None:
        if not self.cfg.ferretdb_binary.exists():
            require_tool("go", "Install Go 1.24 or newer (https://go.dev/doc/install) to build FerretDB.")

    def build(self) -> None:
        """Build the FerretDB binary into the cache unless it is there."""
        binary = self.cfg.ferretdb_binary
        if binary.exists():
            return
        build_dir = binary.parent / "build"
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        for name in MODULE_FILES:
            shutil.copy2(MODULE_DIR / name, build_dir / name)
        print(f"ferretdb: building FerretDB {FERRETDB_VERSION} with Go (about 80 s, once)", flush=True)
        env = {**os.environ, "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
        self._go(["go", "mod", "vendor"], build_dir, env)
        version_file = build_dir / "vendor/github.com/FerretDB/FerretDB/build/version/version.txt"
        version_file.write_text(FERRETDB_VERSION)
        partial = binary.with_suffix(".partial")
        self._go(["go", "build", "-mod=vendor", "-o", str(partial),
                  "github.com/FerretDB/FerretDB/cmd/ferretdb"], build_dir, env)
        partial.rename(binary)
        shutil.rmtree(build_dir, ignore_errors=True)

    @staticmethod
    def _go(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"ferretdb: `{' '.join(argv)}` failed:\n{result.stderr[-3000:]}")

    def prepare(self) -> None:
        self.build()
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> int:
        return spawn(self.cfg, self.name, [
            str(self.cfg.ferretdb_binary),
            "--handler=postgresql",
            f"--postgresql-url={self.postgresql_url(self.cfg.ferretdb_pool)}",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--state-dir={self.state_dir}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ], marker=str(self.state_dir))

    def postgresql_url(self, pool: int) -> str:
        """PostgreSQL's URL with FerretDB's pool sized on purpose.

        FerretDB 1.24 runs an update (and a delete) as a query whose rows it holds open
        while it takes a *second* pooled connection to write each document. When as many
        updates run at once as the pool has connections, each holds one and waits for
        another: FerretDB deadlocks for good, and a client's timeout does not free it
        (tests/integration/test_store_wedge.py). So the pool is set here, and every client
        bounds its own connections (``CONVENE_MONGO_MAX_POOL_SIZE``) so that the sum over
        all clients stays below it.
        """
        return f"{Postgres(self.cfg).url}?pool_max_conns={pool}"

    def ready(self) -> bool:
        from pymongo import MongoClient

        client: MongoClient = MongoClient(self.url, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        finally:
            client.close()

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def endpoints(self) -> dict[str, str]:
        return {"CONVENE_MONGO_URL": self.url}
