"""``python -m convene_schemas.topics ensure --bootstrap HOST:PORT [--dry-run]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from convene_schemas.topics.ensure import TopicAdminError, ensure_topics, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Run the topics command line; returns the exit code (1 when a topic is wrong)."""
    parser = argparse.ArgumentParser(prog="python -m convene_schemas.topics")
    commands = parser.add_subparsers(dest="command", required=True)
    ensure = commands.add_parser("ensure", help="create or verify every topic and its DLQ")
    ensure.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, HOST:PORT")
    ensure.add_argument("--dry-run", action="store_true", help="report, change nothing")
    ensure.add_argument(
        "--replication-factor", type=int, default=1, help="for new topics (default 1)"
    )
    ensure.add_argument("--prefix", default="", help="prepend to every topic name (tests)")
    args = parser.parse_args(argv)

    try:
        results = asyncio.run(
            ensure_topics(
                args.bootstrap,
                prefix=args.prefix,
                replication_factor=args.replication_factor,
                dry_run=args.dry_run,
            )
        )
    except (TopicAdminError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # aiokafka's connection errors have no common base
        if type(exc).__module__.startswith("aiokafka"):
            print(f"error: cannot talk to Kafka at {args.bootstrap}: {exc!r}", file=sys.stderr)
            return 2
        raise
    for result in results:
        print(result.line())
    print(summary(results, args.dry_run))
    return 1 if any(r.outcome == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
