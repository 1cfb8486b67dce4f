"""The watcher's settings: command-line options, each with an environment variable default."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from convene_schemas.events.meetings import MeetingsEvent


@dataclass(frozen=True)
class Settings:
    bootstrap: str
    group: str
    database: Path
    topic_prefix: str = ""

    @property
    def topic(self) -> str:
        """The meetings topic; its name comes from the published package, never typed out."""
        return f"{self.topic_prefix}{MeetingsEvent.TOPIC}"


def parse_settings(argv: Sequence[str] | None = None,
                   environ: Mapping[str, str] = os.environ) -> Settings:
    parser = argparse.ArgumentParser(
        prog="meeting-watcher",
        description="Log and remember every meeting event Convene publishes (an example consumer).")
    parser.add_argument(
        "--bootstrap", default=environ.get("WATCHER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        help="Kafka bootstrap servers (WATCHER_KAFKA_BOOTSTRAP); the default is the Kafka "
             "that Convene's `make run` starts")
    parser.add_argument(
        "--group", default=environ.get("WATCHER_GROUP", "meeting-watcher"),
        help="the consumer group, this service's own (WATCHER_GROUP)")
    parser.add_argument(
        "--database", type=Path,
        default=Path(environ.get("WATCHER_DATABASE", "meeting-watcher.sqlite3")),
        help="the SQLite file of what was seen (WATCHER_DATABASE)")
    parser.add_argument(
        "--topic-prefix", default=environ.get("WATCHER_TOPIC_PREFIX", ""),
        help="a prefix before every topic name, when the cluster uses one (WATCHER_TOPIC_PREFIX)")
    args = parser.parse_args(argv)
    return Settings(bootstrap=args.bootstrap, group=args.group, database=args.database,
                    topic_prefix=args.topic_prefix)
