"""Apache Kafka 4.2.0, KRaft, single node, from the jars Maven Central serves."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from infra.config import KAFKA_VERSION, REPO_ROOT
from infra.process import InfraError, port_open, spawn
from infra.servers import Server, require_tool

POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
LOG4J_CONFIG = REPO_ROOT / "infra" / "kafka" / "log4j2.properties"


class Kafka(Server):
    name = "kafka"

    @property
    def port(self) -> int:
        return self.cfg.kafka_port

    @property
    def data_dir(self) -> Path:
        return self.cfg.data / "kafka"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    def check_prerequisites(self) -> None:
        java = require_tool("java", "Install Java 17 (apt-get install openjdk-17-jre-headless).")
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        if not any(f'version "{v}' in out for v in range(17, 30)):
            raise InfraError("missing prerequisite: Java 17 or newer is needed, "
                             f"found: {out.splitlines()[0]}")
        if not self._libs_complete():
            require_tool("mvn", "Install Maven (apt-get install maven) to fetch the Kafka jars.")

    def _stamp(self) -> str:
        return hashlib.sha256(POM.read_bytes()).hexdigest()

    def _libs_complete(self) -> bool:
        stamp = self.cfg.kafka_libs / ".complete"
        return stamp.exists() and stamp.read_text().strip() == self._stamp()

    def fetch_jars(self) -> None:
        """Resolve the broker's jars from Maven Central into the cache, once per pom."""
        if self._libs_complete():
            return
        libs = self.cfg.kafka_libs
        partial = libs.with_name("libs.partial")
        shutil.rmtree(partial, ignore_errors=True)
        print(f"kafka: fetching Kafka {KAFKA_VERSION} jars with Maven into {libs}", flush=True)
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={partial}", "-DincludeScope=runtime"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise InfraError("kafka: mvn could not fetch the jars:\n"
                             f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        (libs / ".complete").write_text(self._stamp())

    def prepare(self) -> None:
        self.fetch_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self._properties())
        if not (self.data_dir / "log" / "meta.properties").exists():
            cluster_id = self._java("kafka.tools.StorageTool", "random-uuid").strip()
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.properties_file))

    def _classpath(self) -> str:
        return f"{self.cfg.kafka_libs}/*"

    def _java(self, *args: str) -> str:
        result = subprocess.run(
            ["java", "-Xmx256m", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
             "-cp", self._classpath(), *args],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise InfraError(f"kafka: {' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def _listeners(self) -> list[str]:
        """listeners, advertised.listeners and their protocol map. With both proxied ports
        configured, a PROXIED listener too, advertised at the proxy's port: a client that
        bootstraps through a test's fault proxy is told to connect to the proxy again, not
        to the broker directly. Inter-broker and controller traffic never takes it."""
        port, ctrl = self.cfg.kafka_port, self.cfg.kafka_controller_port
        listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{ctrl}"]
        advertised = [f"PLAINTEXT://127.0.0.1:{port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        proxied, proxy = self.cfg.kafka_proxied_port, self.cfg.kafka_proxy_port
        if proxied is not None and proxy is not None:
            listeners.append(f"PROXIED://127.0.0.1:{proxied}")
            advertised.append(f"PROXIED://127.0.0.1:{proxy}")
            protocols.append("PROXIED:PLAINTEXT")
        return [f"listeners={','.join(listeners)}",
                f"advertised.listeners={','.join(advertised)}",
                f"listener.security.protocol.map={','.join(protocols)}"]

    def _properties(self) -> str:
        ctrl = self.cfg.kafka_controller_port
        return "\n".join([
            "# Written by infra/servers/kafka.py on every start.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{ctrl}",
            *self._listeners(),
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={self.data_dir / 'log'}",
            # Topics are created by the project (convene_schemas.topics), never implicitly.
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.hours=168",
            "",
        ])

    def launch(self) -> int:
        return spawn(self.cfg, self.name, [
            "java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp", self._classpath(), "kafka.Kafka", str(self.properties_file),
        ], marker=str(self.properties_file))

    def ready(self) -> bool:
        if not port_open(self.port):
            return False
        return asyncio.run(_broker_answers(self.bootstrap))

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def endpoints(self) -> dict[str, str]:
        return {"CONVENE_KAFKA_BOOTSTRAP": self.bootstrap}


async def _broker_answers(bootstrap: str) -> bool:
    """True when the broker serves cluster metadata (the controller has elected itself)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 5)
        await asyncio.wait_for(admin.list_topics(), 5)
        return True
    except Exception:  # noqa: BLE001 - not ready yet
        return False
    finally:
        try:
            await admin.close()
        except Exception:  # noqa: BLE001
            print("kafka: admin client close failed", file=sys.stderr)
