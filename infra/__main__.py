"""`python -m infra <command> [server ...]`: the local infrastructure's command line.

  setup    check prerequisites and fetch/build everything (no server started; Chromium for
           the browser test where root can install it)
  up       start every server (or the ones named) unless already running; write infra.env
  down     stop exactly the processes `up` started, by their recorded PIDs
  status   one line per server
  env      print the endpoints file (shell syntax)
  clean    stop everything and delete data and logs; keep the download caches
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

from infra import config
from infra.browser import install_chromium
from infra.process import InfraError
from infra.servers import Server, all_servers


def _select(servers: list[Server], names: list[str]) -> list[Server]:
    if not names:
        return servers
    known = {s.name: s for s in servers}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InfraError(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [s for s in servers if s.name in names]


def write_endpoints(cfg: config.InfraConfig, servers: list[Server]) -> None:
    """Write .convene/infra.env: how tests, services and people reach the servers."""
    lines = ["# Written by `python -m infra up`. Shell syntax; read by tests and make run."]
    for server in servers:
        if server.name == "postgres" or _answers(server):
            lines += [f"{key}={value}" for key, value in server.endpoints().items()]
    cfg.home.mkdir(parents=True, exist_ok=True)
    cfg.endpoints_file.write_text("\n".join(lines) + "\n")


def cmd_setup(cfg: config.InfraConfig, servers: list[Server]) -> None:
    for server in servers:
        server.check_prerequisites()
    for server in servers:
        fetch = getattr(server, "fetch_jars", None) or getattr(server, "build", None)
        if fetch is not None:
            fetch()
    install_chromium()  # the public page's browser test (not a server)
    print("infra: prerequisites present, downloads and builds cached in", cfg.cache)


def cmd_up(cfg: config.InfraConfig, servers: list[Server], names: list[str]) -> None:
    chosen = _select(servers, names)
    for server in chosen:
        server.check_prerequisites()
    started = time.monotonic()
    for server in chosen:
        print(server.start(), flush=True)
    write_endpoints(cfg, servers)
    print(f"infra: up in {time.monotonic() - started:.1f}s; endpoints in {cfg.endpoints_file}")


def cmd_down(cfg: config.InfraConfig, servers: list[Server], names: list[str]) -> None:
    for server in reversed(_select(servers, names)):
        pid = server.stop()
        print(f"{server.name}: stopped (pid {pid})" if pid else f"{server.name}: not running")


def _answers(server: Server) -> bool:
    try:
        return server.ready()
    except Exception:  # noqa: BLE001 - a server that errors is not up
        return False


def cmd_status(servers: list[Server]) -> int:
    down = 0
    for server in servers:
        pid = server.pid()
        if _answers(server):
            print(f"{server.name:9} up    pid {pid or '-':<8} {server.endpoints()}")
        else:
            down += 1
            print(f"{server.name:9} down" + (f"  (pid {pid} alive but not answering)" if pid else ""))
    return 1 if down else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["setup", "up", "down", "status", "env", "clean"])
    parser.add_argument("servers", nargs="*", help="limit to these servers (default: all)")
    args = parser.parse_args(argv)
    cfg = config.load()
    servers = all_servers(cfg)
    try:
        if args.command == "setup":
            cmd_setup(cfg, servers)
        elif args.command == "up":
            cmd_up(cfg, servers, args.servers)
        elif args.command == "down":
            cmd_down(cfg, servers, args.servers)
        elif args.command == "status":
            return cmd_status(servers)
        elif args.command == "env":
            print(cfg.endpoints_file.read_text() if cfg.endpoints_file.exists() else "", end="")
        elif args.command == "clean":
            cmd_down(cfg, servers, [])
            for folder in (cfg.data, cfg.logs, cfg.run):
                shutil.rmtree(folder, ignore_errors=True)
            pg_data = next((s for s in servers if s.name == "postgres"), None)
            if pg_data is not None:
                shutil.rmtree(pg_data.data_dir, ignore_errors=True)  # type: ignore[attr-defined]
            cfg.endpoints_file.unlink(missing_ok=True)
            print(f"infra: data and logs removed; caches kept in {cfg.cache}")
    except InfraError as exc:
        print(f"infra: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
