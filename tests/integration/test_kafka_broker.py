"""The broker harness against a real Apache Kafka broker: nothing about Kafka is mocked."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from sandbox import kafka_broker
from sandbox.kafka_broker import BrokerStartError, KafkaBroker, fetch_jars

N = 100


def _no_subprocess(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"subprocess.run called: {args}")


def test_fetch_runs_mvn_once_then_uses_the_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TIMEPLUS_CACHE", str(tmp_path))
    libs = fetch_jars()
    assert libs == tmp_path / "libs"
    jars = {p.name for p in libs.glob("*.jar")}
    assert "kafka_2.13-4.1.1.jar" in jars
    assert {"log4j-core-2.24.3.jar", "log4j-slf4j-impl-2.24.3.jar", "slf4j-api-1.7.36.jar"} <= jars
    assert (libs / kafka_broker.MARKER).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["libs"]  # no scratch dir left behind

    monkeypatch.setattr(subprocess, "run", _no_subprocess)
    assert fetch_jars() == libs


def test_fetch_refetches_when_a_jar_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TIMEPLUS_CACHE", str(tmp_path))
    libs = fetch_jars()
    (libs / "kafka_2.13-4.1.1.jar").unlink()
    assert (fetch_jars() / "kafka_2.13-4.1.1.jar").is_file()


def test_fetch_without_mvn_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TIMEPLUS_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="mvn not found"):
        fetch_jars()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    with KafkaBroker(tmp_path / "broker") as b:
        yield b


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(N):
        producer.produce(topic, key=str(i).encode(), value=f"message-{i}".encode())
    assert producer.flush(30) == 0


def _consume_all(bootstrap: str, topic: str, group: str) -> dict[int, set[bytes]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: dict[int, set[bytes]] = {}
    try:
        for _ in range(600):  # at most ~60 s
            msg = consumer.poll(0.1)
            if msg is None:
                if sum(map(len, seen.values())) >= N:
                    break
                continue
            assert msg.error() is None, msg.error()
            partition, value = msg.partition(), msg.value()
            assert partition is not None and value is not None
            seen.setdefault(partition, set()).add(value)
    finally:
        consumer.close()
    return seen


def test_broker_serves_restarts_keeping_data_and_stops(broker: KafkaBroker) -> None:
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    broker.create_topic("events", partitions=3)
    _produce(broker.bootstrap, "events")
    expected = {f"message-{i}".encode() for i in range(N)}

    first = _consume_all(broker.bootstrap, "events", "group-1")
    assert set().union(*first.values()) == expected
    assert sorted(first) == [0, 1, 2]  # keys spread over all three partitions

    address, pid = broker.bootstrap, broker.pid
    broker.restart()
    assert broker.bootstrap == address  # same ports: clients reconnect to the same address
    assert broker.pid != pid
    second = _consume_all(broker.bootstrap, "events", "group-2")
    assert second == first

    pid = broker.pid
    assert pid is not None
    broker.stop()
    assert not broker.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    broker.stop()  # idempotent


def test_kill_then_start_again(broker: KafkaBroker) -> None:
    broker.create_topic("t", partitions=1)
    _produce(broker.bootstrap, "t")
    broker.kill()
    assert not broker.is_running()
    broker.start()
    assert len(_consume_all(broker.bootstrap, "t", "g")[0]) == N


def test_unusable_heap_raises_with_the_jvm_output(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path, heap="1k")
    with pytest.raises(BrokerStartError, match="heap"):
        broker.start(timeout=30)
    assert not broker.is_running()


def test_invalid_config_raises_with_the_tool_output(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path, overrides={"num.io.threads": "-1"})
    with pytest.raises(BrokerStartError) as info:
        broker.start(timeout=30)
    assert "num.io.threads" in str(info.value)
    assert not broker.is_running()


def test_port_in_use_raises_with_the_broker_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = KafkaBroker(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(BrokerStartError, match="Address already in use") as info:
            broker.start(timeout=60)
    assert "broker.log" in str(info.value)
    assert not broker.is_running()


def test_mvn_failure_is_a_clear_error_with_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-dir").touch()
    monkeypatch.setenv("KAFKA_TIMEPLUS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MAVEN_OPTS", f"-Dmaven.repo.local={tmp_path / 'not-a-dir' / 'repo'}")
    with pytest.raises(RuntimeError, match=r"mvn failed(.|\n)*Could not create local repository"):
        fetch_jars()
    assert list((tmp_path / "cache").iterdir()) == []  # the scratch dir was removed
