"""``convene topics create|verify``: the topic registry's ``ensure``, from the CLI.

Both run :func:`convene_schemas.topics.ensure.ensure_topics` over every registry topic and
its dead-letter topic (with ``CONVENE_TOPIC_PREFIX``): ``create`` changes the broker to
match (creates topics, adds partitions, sets retention and cleanup policy), ``verify`` is
its dry run and exits 1 unless every topic already matches.
"""

from __future__ import annotations

import asyncio

import click
from convene_schemas.topics.ensure import TopicResult, ensure_topics, summary

from convene_cli.context import EXIT_PROBLEM, CliContext, kafka_errors, pass_cli

replication_factor_option = click.option(
    "--replication-factor", type=click.IntRange(min=1), default=1, show_default=True,
    help="Replicas of each topic: used for new topics, and checked on existing ones "
         "(use your cluster's, e.g. 3).")


@click.group()
def topics() -> None:
    """Create or verify the registry's topics and their dead-letter topics."""


@topics.command()
@replication_factor_option
@pass_cli
def create(cli: CliContext, replication_factor: int) -> None:
    """Create missing topics, add partitions, set retention and cleanup policy.

    Idempotent: a second run changes nothing and says so. Exits 1 if a topic cannot be
    made to match (more partitions than the registry declares, another replication factor).
    """
    results = _ensure(cli, replication_factor, dry_run=False)
    if any(r.outcome == "error" for r in results):
        raise SystemExit(EXIT_PROBLEM)


@topics.command()
@replication_factor_option
@pass_cli
def verify(cli: CliContext, replication_factor: int) -> None:
    """Report how the broker differs from the registry; change nothing.

    Exits 0 when every topic matches, 1 when one is missing or differs.
    """
    results = _ensure(cli, replication_factor, dry_run=True)
    if any(r.outcome != "ok" for r in results):
        raise SystemExit(EXIT_PROBLEM)


def _ensure(cli: CliContext, replication_factor: int, *, dry_run: bool) -> list[TopicResult]:
    settings = cli.settings
    with kafka_errors(settings.kafka_bootstrap):
        results = asyncio.run(ensure_topics(
            settings.kafka_bootstrap, prefix=settings.topic_prefix,
            replication_factor=replication_factor, dry_run=dry_run))
    for result in results:
        click.echo(result.line())
    click.echo(summary(results, dry_run))
    return results
