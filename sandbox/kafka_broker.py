"""A real single-node Apache Kafka broker (KRaft) for the tests, the demo and the benchmark.

Docker cannot run here but Maven Central is reachable, so the broker's jars come from there
(``kafka_pom.xml``) into a cache outside the repository, and the broker runs as a plain
``java`` child process: one node that is both controller and broker, listening on loopback.
Nothing about Kafka is mocked; whatever the connector survives here, it survived a real broker.

CLI::

    python -m sandbox.kafka_broker fetch
    python -m sandbox.kafka_broker run --port 9092 [--controller-port N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from sandbox.processes import JVM_FLAGS, ChildProcess, free_ports, serve_until_signal, tail

POM = Path(__file__).with_name("kafka_pom.xml")
MARKER = ".complete"
LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class BrokerStartError(RuntimeError):
    """The broker process died or did not become ready; the message carries its log tail."""


def kafka_version() -> str:
    """The Kafka version pinned in the pom, which stays the single place it is written."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().findtext("m:properties/m:kafka.version", namespaces=ns)
    if not version:
        raise RuntimeError(f"{POM} has no <kafka.version> property")
    return version.strip()


def cache_dir() -> Path:
    """``$KAFKA_TIMEPLUS_CACHE`` or a per-version directory under ``~/.cache``."""
    env = os.environ.get("KAFKA_TIMEPLUS_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "kafka-timeplus" / f"kafka-{kafka_version()}"


def fetch_jars() -> Path:
    """Download the broker's runtime classpath once; return the directory holding the jars.

    The marker records the pom's digest and the jar names, so an edited pom fetches again and
    a half-deleted cache is noticed. mvn writes into a scratch directory that is renamed into
    place only on success, so an interrupted download never looks complete.
    """
    libs = cache_dir() / "libs"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    marker = libs / MARKER
    if marker.is_file():
        head, *jars = marker.read_text().splitlines()
        if head == digest and jars and all((libs / jar).is_file() for jar in jars):
            return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("mvn not found on PATH; it is needed to fetch the Kafka broker jars")
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"]
    cmd += [f"-DoutputDirectory={scratch}", "-Dmdep.useRepositoryLayout=false"]
    cmd += ["-DincludeScope=runtime", "-Dstyle.color=never"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    jars = sorted(p.name for p in scratch.glob("*.jar"))
    if proc.returncode != 0 or not any(j.startswith("kafka_") for j in jars):
        shutil.rmtree(scratch, ignore_errors=True)
        output = tail(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr), 40)
        raise RuntimeError(f"mvn failed to fetch Kafka jars (exit {proc.returncode}):\n{output}")
    (scratch / MARKER).write_text("\n".join([digest, *jars]) + "\n")
    shutil.rmtree(libs, ignore_errors=True)
    scratch.rename(libs)
    return libs


def _cluster_id() -> str:
    """22-char base64url UUID, never starting with '-' (Kafka's own rule: CLI parsing)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaBroker:
    """One KRaft node (broker+controller) as a child process; a context manager.

    Ports are chosen on the first ``start`` and then kept, so ``restart`` brings the broker
    back at the same address with the same data, as a real broker restart would.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        heap: str = "512m",
        port: int | None = None,
        controller_port: int | None = None,
        overrides: Mapping[str, str] | None = None,
        sasl_users: Mapping[str, str] | None = None,
    ) -> None:
        """``sasl_users`` (name → password) adds a SASL_PLAINTEXT listener (``sasl_bootstrap``)
        that accepts them through PLAIN and SCRAM-SHA-256; PLAINTEXT stays open beside it."""
        self.sasl_users = dict(sasl_users or {})
        self.sasl_port: int | None = None
        self._owns_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="kafka-broker-")) if workdir is None else workdir
        self.heap = heap
        self.port = port
        self.controller_port = controller_port
        self.overrides = dict(overrides or {})
        self.log_file = self.workdir / "broker.log"
        self.console_file = self.workdir / "console.log"
        self._process = ChildProcess("broker", BrokerStartError)

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise RuntimeError("broker has not been started")
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        """The SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256), when ``sasl_users`` were given."""
        if self.sasl_port is None:
            raise RuntimeError("broker has no SASL listener (pass sasl_users) or has not been started")
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def is_running(self) -> bool:
        return self._process.is_running()

    def _write_config(self) -> Path:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            # After a SIGKILL the controller refuses the new incarnation until the old one's
            # session expires (default 9 s); a shorter session makes crash tests faster.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            **self._sasl_props(),
            **self.overrides,
        }
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.workdir / "log4j2.properties").write_text(LOG4J2.format(log=self.log_file))
        return config

    def _sasl_props(self) -> dict[str, str]:
        if not self.sasl_users:
            return {}
        sasl = f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}"
        # PLAIN checks the users written here; SCRAM checks credentials stored at format time.
        plain_users = " ".join(f'user_{name}="{password}"' for name, password in self.sasl_users.items())
        return {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},{sasl},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},{sasl}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
            ),
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        }

    def _java(self, libs: Path, *args: str) -> list[str]:
        log4j = self.workdir / "log4j2.properties"
        return [
            "java",
            *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dlog4j.configurationFile={log4j}",
            "-cp",
            str(libs / "*"),
            *args,
        ]

    def start(self, timeout: float = 60) -> None:
        """Start the broker and return once it serves clients on ``bootstrap``."""
        if self.is_running():
            return
        libs = fetch_jars()
        self.workdir.mkdir(parents=True, exist_ok=True)
        port, controller_port, sasl_port = free_ports(3)
        self.port = self.port or port
        self.controller_port = self.controller_port or controller_port
        if self.sasl_users:
            self.sasl_port = self.sasl_port or sasl_port
        config = self._write_config()
        if not (self.workdir / "data" / "meta.properties").exists():  # format once: keep data
            fmt = ["kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config)]
            for name, password in self.sasl_users.items():
                fmt += ["--add-scram", f"SCRAM-SHA-256=[name={name},password={password}]"]
            out = subprocess.run(self._java(libs, *fmt), capture_output=True, text=True)
            if out.returncode != 0:
                raise BrokerStartError(f"storage format failed:\n{tail(out.stdout + out.stderr, 40)}")
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._process.launch(self._java(libs, f"-Xmx{self.heap}", "kafka.Kafka", str(config)), self.console_file)
        self._process.wait_ready(lambda: self._started_since(log_offset) and self._port_open(), timeout, self.log_tail)

    def _started_since(self, offset: int) -> bool:
        if not self.log_file.exists():
            return False
        with self.log_file.open("rb") as f:
            f.seek(offset)
            return b"Kafka Server started" in f.read()

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port or 0), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (Kafka shuts down cleanly on it), then SIGKILL after ``timeout``."""
        self._process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests; the data dir keeps what was flushed."""
        self._process.kill()

    def restart(self, timeout: float = 60) -> None:
        self.stop()
        self.start(timeout)

    def log_tail(self, n: int = 40) -> str:
        """The broker log's last lines, plus the JVM console's if it printed anything."""
        parts = []
        for path in (self.log_file, self.console_file):
            text = path.read_text(errors="replace") if path.exists() else ""
            if text.strip():
                parts.append(f"--- {path.name} ---\n{tail(text, n)}")
        return "\n".join(parts) or "(no broker output)"

    def create_topic(self, name: str, partitions: int, timeout: float = 30) -> None:
        """Create a topic and wait until every partition has a leader."""
        from confluent_kafka.admin import AdminClient
        from confluent_kafka.cimpl import NewTopic  # admin re-exports it implicitly only

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, partitions, 1)], request_timeout=timeout)
        futures[name].result(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topic = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
            parts = [] if topic is None or topic.error else list(topic.partitions.values())
            if len(parts) == partitions and all(p.leader >= 0 for p in parts):
                return
            time.sleep(0.1)
        raise TimeoutError(f"topic {name} has no leaders for all partitions after {timeout}s")

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.kafka_broker")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="download the broker jars into the cache; print the path")
    run = sub.add_parser("run", help="run a broker in the foreground until SIGTERM/SIGINT")
    run.add_argument("--port", type=int, default=9092)
    run.add_argument("--controller-port", type=int, default=None)
    run.add_argument("--dir", type=Path, default=None, help="data dir (kept; default: temp)")
    run.add_argument("--heap", default="512m")
    args = parser.parse_args(argv)
    if args.cmd == "fetch":
        print(fetch_jars())
        return 0
    with KafkaBroker(args.dir, args.heap, args.port, args.controller_port) as broker:
        return serve_until_signal(f"bootstrap={broker.bootstrap}", broker.is_running, broker.log_tail)


if __name__ == "__main__":
    sys.exit(main())
