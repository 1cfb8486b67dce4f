"""The CLI's settings: the same ``CONVENE_*`` environment the services read.

An operator who runs ``convene`` beside a service (in its pod, or with its environment
file) reaches the same Kafka, with the same topic prefix, and mints tokens for the same
audience and issuer, without repeating any of it on the command line.
"""

from __future__ import annotations

from pathlib import Path

from convene_kit.settings import ServiceSettings
from pydantic import Field


class CliSettings(ServiceSettings):
    """The kit's settings (``CONVENE_KAFKA_BOOTSTRAP``, ``CONVENE_TOPIC_PREFIX``,
    ``CONVENE_KAFKA_REQUEST_TIMEOUT_S``, ``CONVENE_JWT_AUDIENCE``, ``CONVENE_JWT_ISSUER``,
    ...) plus ``CONVENE_HOME``, the local state folder ``make run`` uses."""

    service_name: str = "convene-cli"
    home: Path = Field(
        default=Path(".convene"),
        description="The local state folder (CONVENE_HOME, as infra uses it); the "
                    "development key pair is in <home>/keys.")

    @property
    def dev_key_dir(self) -> Path:
        """Where ``make run`` keeps the development key pair standing in for the gateway's."""
        return self.home / "keys"
