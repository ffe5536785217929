"""SASL: the connector reads through a SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256) of a real
broker, and a wrong password stops it with one clear line that shows no password."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kafka_broker import BrokerStartError, KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import produce_ids, write_fault_config

USER, PASSWORD = "connector", "s3cret-Pa55word"
WRONG = "wr0ng-Pa55word"
MESSAGES = 2_000


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker of its own with a SASL listener beside PLAINTEXT (the test producer uses PLAINTEXT)."""
    broker = KafkaBroker(workdir=tmp_path_factory.mktemp("kafka-sasl"), sasl_users={USER: PASSWORD})
    try:
        broker.start()
    except BrokerStartError as exc:
        broker.stop()
        pytest.fail(f"the SASL broker did not start:\n{exc}", pytrace=False)
    yield broker
    broker.stop()


def run_connector(config: Path, password: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "KAFKA_PASSWORD": password}
    args = [sys.executable, "-m", "connector.cli", "run", "-c", str(config), "--until-caught-up"]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def stream_of(name: str) -> str:
    return name.replace("-", "_") + "_stream"


def sasl_config(path: Path, broker: KafkaBroker, emulator: TimeplusEmulator, mechanism: str, name: str) -> Path:
    topic, stream = f"{name}-topic", stream_of(name)
    broker.create_topic(topic, 2)
    emulator.create_stream(stream, [("id", "int64"), ("name", "string")])
    produce_ids(broker.bootstrap, topic, 2, range(MESSAGES))
    return write_fault_config(
        path, bootstrap=broker.sasl_bootstrap, group=f"g-{name}", url=emulator.url, topic=topic, stream=stream,
        kafka_extra={"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
                     "sasl.username": USER, "sasl.password": "${KAFKA_PASSWORD}"},
    )  # fmt: skip


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_the_connector_reads_through_sasl(
    secured: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path, mechanism: str
) -> None:
    name = f"{mechanism.lower().replace('-', '')}-{unique}"
    config = sasl_config(tmp_path / "c.yaml", secured, emulator, mechanism, name)
    done = run_connector(config, PASSWORD)
    assert done.returncode == 0, done.stderr[-4000:]
    assert emulator.count(stream_of(name)) == MESSAGES
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_a_wrong_password_stops_the_connector_with_one_clear_line(
    secured: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path, mechanism: str
) -> None:
    name = f"wrong-{mechanism.lower().replace('-', '')}-{unique}"
    config = sasl_config(tmp_path / "c.yaml", secured, emulator, mechanism, name)
    done = run_connector(config, WRONG)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-4000:]
    fatal = [line for line in output.splitlines() if line.startswith("kafka-timeplus:")]
    assert len(fatal) == 1, output[-4000:]
    assert fatal[0].startswith("kafka-timeplus: fatal: kafka: authentication failed"), fatal[0]
    assert "sasl.username / sasl.password" in fatal[0]
    assert fatal == output.strip().splitlines()[-1:], "the fatal line is the last word"
    assert WRONG not in output and PASSWORD not in output
    assert emulator.count(stream_of(name)) == 0
