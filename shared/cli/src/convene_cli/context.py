"""What every ``convene`` command shares: its settings, its exit codes, and how a Kafka
failure is reported (one line naming the bootstrap servers, never a traceback)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import click
from convene_schemas.topics.ensure import TopicAdminError
from pydantic import ValidationError

from convene_cli.settings import CliSettings

EXIT_PROBLEM = 1
"""The command ran and found something wrong (a topic that does not match the registry,
a replay that could not read its range in time)."""
EXIT_USAGE = 2
"""Wrong arguments or a setting that is not valid (click's own usage errors use 2 too)."""
EXIT_KAFKA = 3
"""Kafka could not be reached, or refused the request."""
EXIT_NOT_AVAILABLE = 4
"""The command is not done by this CLI: it needs a part of Convene that is not built yet,
or it runs in the service that owns the data (the message says where)."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (128 + SIGINT), after saying what was done."""


class KafkaUnavailable(click.ClickException):
    """Kafka could not be reached or refused an admin request."""

    exit_code = EXIT_KAFKA


class BadInput(click.ClickException):
    """An argument that is well-formed but names something that is not there."""

    exit_code = EXIT_USAGE


@dataclass
class CliContext:
    """The root command's options; settings are read from the environment on first use,
    so ``--help`` works whatever the environment holds."""

    bootstrap: str | None = None
    topic_prefix: str | None = None
    _settings: CliSettings | None = field(default=None, repr=False)

    @property
    def settings(self) -> CliSettings:
        """``CONVENE_*`` settings, with the root command's overrides on top."""
        if self._settings is None:
            overrides: dict[str, Any] = {}
            if self.bootstrap:
                overrides["kafka_bootstrap"] = self.bootstrap
            if self.topic_prefix is not None:
                overrides["topic_prefix"] = self.topic_prefix
            try:
                self._settings = CliSettings(**overrides)
            except ValidationError as exc:
                problems = "; ".join(
                    f"CONVENE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                    for e in exc.errors())
                raise BadInput(f"invalid setting: {problems}") from exc
        return self._settings


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


@contextlib.contextmanager
def kafka_errors(bootstrap: str) -> Iterator[None]:
    """Turn a Kafka client's failure into one line naming ``bootstrap`` (exit 3)."""
    try:
        yield
    except TopicAdminError as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} refused: {exc}") from exc
    except TimeoutError as exc:  # before OSError, its base class
        raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer in time: {exc}") from exc
    except OSError as exc:
        raise KafkaUnavailable(f"cannot talk to Kafka at {bootstrap}: {exc}") from exc
    except Exception as exc:
        # aiokafka's errors have no common base beyond Exception (KafkaError, and
        # connection errors raised as other types), so tell them by their module.
        if type(exc).__module__.startswith("aiokafka"):
            raise KafkaUnavailable(
                f"cannot talk to Kafka at {bootstrap}: {type(exc).__name__}: {exc}") from exc
        raise
