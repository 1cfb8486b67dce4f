"""``convene``: the operator's one entry point.

Connection settings come from the same ``CONVENE_*`` environment the services read
(:mod:`convene_cli.settings`); ``--bootstrap`` and ``--topic-prefix`` override them.
"""

from __future__ import annotations

import click

from convene_cli.calendar_sync import calendar, keys
from convene_cli.context import CliContext
from convene_cli.dlq import dlq
from convene_cli.tokens import token
from convene_cli.topics import topics

EPILOG = """\b
Settings: CONVENE_KAFKA_BOOTSTRAP, CONVENE_TOPIC_PREFIX, CONVENE_JWT_AUDIENCE,
CONVENE_JWT_ISSUER, CONVENE_HOME (the services' own variables).
\b
Exit codes: 0 done; 1 a problem found (a topic differs from the registry, a replay
timed out); 2 wrong usage or a name that does not exist; 3 Kafka unreachable or
refusing; 4 not done here (not built yet, or run in the owning service: the message
says where); 130 stopped by Ctrl-C.
See docs/operations.md."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.option("--bootstrap", metavar="HOST:PORT[,...]",
              help="Kafka bootstrap servers [default: $CONVENE_KAFKA_BOOTSTRAP, "
                   "else 127.0.0.1:19092].")
@click.option("--topic-prefix", metavar="PREFIX",
              help="Prefix of every topic [default: $CONVENE_TOPIC_PREFIX, else none].")
@click.pass_context
def cli(ctx: click.Context, bootstrap: str | None, topic_prefix: str | None) -> None:
    """Operate Convene: topics, dead-letter queues, development tokens."""
    ctx.obj = CliContext(bootstrap=bootstrap, topic_prefix=topic_prefix)


for command in (topics, dlq, token, calendar, keys):
    cli.add_command(command)


def main() -> None:
    """The ``convene`` console script."""
    cli(prog_name="convene")
