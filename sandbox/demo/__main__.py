"""``make demo``: the connector's main job, end to end, on this machine.

Starts a real Apache Kafka broker, a Schema Registry and the Timeplus emulator, creates
the streams with the same SQL that docker-compose gives Proton, runs the sample producers
(JSON, and Avro through the registry) and then the connector (all as the same commands
docker-compose runs), and prints what landed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from sandbox.kafka_broker import KafkaBroker
from sandbox.schema_registry import SchemaRegistry
from sandbox.timeplus_emulator import TimeplusEmulator

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "demo.yaml"
STREAMS_SQL = ROOT / "config" / "demo-streams.sql"
TOPIC = "orders"
AVRO_TOPIC = "orders-avro"
MESSAGES = 1000


def producer_command(bootstrap: str) -> list[str]:
    """The sample producer, as docker-compose's `producer` service runs it."""
    return ["python", "-m", "sandbox.demo.producer", "--bootstrap", bootstrap, "--topic", TOPIC,
            "--count", str(MESSAGES)]  # fmt: skip


def avro_producer_command(bootstrap: str, registry_url: str) -> list[str]:
    """The sample producer writing Avro, as docker-compose's `avro-producer` service runs it."""
    return ["python", "-m", "sandbox.demo.producer", "--bootstrap", bootstrap, "--topic", AVRO_TOPIC,
            "--count", str(MESSAGES), "--schema-registry", registry_url]  # fmt: skip


def connector_command(config: str, http: str) -> list[str]:
    """The connector, as docker-compose's `connector` service and the image's CMD run it."""
    return ["kafka-timeplus", "run", "-c", config, "--http", http]


def _local(command: list[str]) -> list[str]:
    # Run with this interpreter and its installed console script, whatever PATH says.
    if command[0] == "python":
        return [sys.executable, *command[1:]]
    return [str(Path(sys.executable).with_name(command[0])), *command[1:]]


def create_streams(sql_url: str) -> None:
    """Send each CREATE STREAM statement of the demo's SQL file, as a user would to Proton's :8123."""
    statements = [s.strip() for s in STREAMS_SQL.read_text().split(";")]
    for statement in statements:
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if body:
            response = requests.post(sql_url, data=body.encode(), timeout=10)
            response.raise_for_status()


def show(emulator: TimeplusEmulator, stream: str, columns: list[str], limit: int = 5) -> None:
    """Print a stream's row count and its first rows as a table."""
    rows = emulator.rows(stream)
    print(f"\n{stream}: {len(rows)} rows landed; the first {min(limit, len(rows))}:")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows[:limit])) for c in columns} if rows else {}
    print("  " + "  ".join(c.ljust(widths.get(c, len(c))) for c in columns))
    for row in rows[:limit]:
        print("  " + "  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def main() -> int:
    """Run the demo; exit 0 when every produced message landed in each stream."""
    workdir = ROOT / ".demo"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    print("starting a Kafka broker, a Schema Registry and the Timeplus emulator ...", flush=True)
    with (
        KafkaBroker(workdir=workdir / "kafka") as broker,
        SchemaRegistry(workdir=workdir / "registry") as registry,
        TimeplusEmulator() as emulator,
    ):
        create_streams(emulator.url + "/")
        broker.create_topic(TOPIC, 3)
        broker.create_topic(AVRO_TOPIC, 3)
        subprocess.run(_local(producer_command(broker.bootstrap)), cwd=ROOT, check=True)
        subprocess.run(_local(avro_producer_command(broker.bootstrap, registry.url)), cwd=ROOT, check=True)
        env = {**os.environ, "KAFKA_BOOTSTRAP": broker.bootstrap, "TIMEPLUS_URL": emulator.url,
               "SCHEMA_REGISTRY_URL": registry.url, "KAFKA_GROUP": f"timeplus-demo-{int(time.time())}"}  # fmt: skip
        print("running the connector until it has caught up ...", flush=True)
        # Its status server on a port the OS picks: the image serves it on :9108.
        command = connector_command(str(CONFIG), http="127.0.0.1:0")
        connector = subprocess.run([*_local(command), "--until-caught-up"], env=env)
        if connector.returncode != 0:
            print(f"the connector exited with {connector.returncode}", file=sys.stderr)
            return connector.returncode
        show(emulator, "orders", ["order_id", "amount", "customer", "items", "created", "key", "region"])
        show(emulator, "order_totals", ["order_id", "amount"])
        show(emulator, "orders_avro", ["order_id", "amount", "customer", "created", "region"])
        landed = {stream: emulator.count(stream) for stream in ("orders", "order_totals", "orders_avro")}
    ok = all(count == MESSAGES for count in landed.values())
    print(f"\n{MESSAGES} messages produced; landed: {landed} -> {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
