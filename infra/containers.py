"""`CONVENE_INFRA=testcontainers`: Kafka and a real MongoDB 7 in containers, where a Docker
engine exists. Radicale and the SMTP sink stay local processes.

The containers outlive this command (the Ryuk reaper is disabled), so `infra down` removes
them by the ids recorded under .convene/run. Everything above the connection strings written
to .convene/infra.env is identical to the local mode.
"""

from __future__ import annotations

import json
import os

from infra.process import InfraError
from infra.servers import Server

KAFKA_IMAGE = os.environ.get("CONVENE_KAFKA_IMAGE", "confluentinc/cp-kafka:7.9.0")
MONGO_IMAGE = os.environ.get("CONVENE_MONGO_IMAGE", "mongo:7.0")


def _docker():
    try:
        import docker
    except ImportError:
        raise InfraError("CONVENE_INFRA=testcontainers needs the testcontainers package "
                         "(uv sync installs it)") from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable engine
        raise InfraError(f"CONVENE_INFRA=testcontainers needs a Docker engine: {exc}") from None
    return client


class _ContainerServer(Server):
    image: str

    @property
    def port(self) -> int:  # chosen by Docker
        return 0

    @property
    def _record(self):
        return self.cfg.run / f"{self.name}.container.json"

    def _saved(self) -> dict | None:
        try:
            return json.loads(self._record.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def check_prerequisites(self) -> None:
        _docker()

    def pid(self) -> int | None:
        return None

    def launch(self) -> int:  # pragma: no cover - the container API replaces it
        raise NotImplementedError

    def ready(self) -> bool:
        saved = self._saved()
        if not saved:
            return False
        try:
            return _docker().containers.get(saved["id"]).status == "running"
        except Exception:  # noqa: BLE001
            return False

    def _start_container(self):
        raise NotImplementedError

    def start(self) -> str:
        if self.ready():
            return f"{self.name}: container already running, reused"
        os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
        container, endpoints = self._start_container()
        self.cfg.run.mkdir(parents=True, exist_ok=True)
        self._record.write_text(json.dumps({
            "id": container.get_wrapped_container().id, "endpoints": endpoints,
        }))
        return f"{self.name}: container {self.image} started"

    def stop(self) -> int | None:
        saved = self._saved()
        self._record.unlink(missing_ok=True)
        if saved:
            try:
                _docker().containers.get(saved["id"]).remove(force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        return None

    def endpoints(self) -> dict[str, str]:
        saved = self._saved()
        return dict(saved["endpoints"]) if saved else {}


class KafkaContainerServer(_ContainerServer):
    name = "kafka"
    image = KAFKA_IMAGE

    def _start_container(self):
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer(self.image).with_kraft()
        container.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        container.start()
        return container, {"CONVENE_KAFKA_BOOTSTRAP": container.get_bootstrap_server()}


class MongoContainerServer(_ContainerServer):
    name = "mongodb"
    image = MONGO_IMAGE

    def _start_container(self):
        from testcontainers.mongodb import MongoDbContainer

        container = MongoDbContainer(self.image)
        container.start()
        return container, {"CONVENE_MONGO_URL": container.get_connection_url()}
