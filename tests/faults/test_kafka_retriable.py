"""Kafka-side transient failures get the policy Timeplus's get: back off, warn once, retry.

``errors.py`` promises that a ``RetriableError`` is retried. Two come from Kafka here, each
through a real broker: a dead letter that times out because its topic does not exist
yet (the broker does not create topics), and the group's committed offsets, which an
instance waiting with ``--until-caught-up`` reads while the broker is down.
"""

from __future__ import annotations

import os
import re
import signal
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from sandbox.kafka_broker import BrokerStartError, KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    STREAM_COLUMNS,
    Connectors,
    FaultReport,
    committed,
    delivery,
    ensure_running,
    fully_committed,
    produce_ids,
    wait_until,
)
from tests.support.services import produce


def start_broker(workdir: Path, **overrides: str) -> KafkaBroker:
    broker = KafkaBroker(workdir=workdir, overrides=overrides)
    try:
        broker.start()
    except BrokerStartError as exc:
        broker.stop()
        pytest.fail(f"the Kafka broker did not start:\n{exc}", pytrace=False)
    return broker


@pytest.fixture
def no_auto_create_kafka(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of this test alone that creates no topic on a produce."""
    broker = start_broker(tmp_path / "kafka", **{"auto.create.topics.enable": "false"})
    yield broker
    broker.stop()


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker for this test alone: stopping the session's broker would disturb the others."""
    broker = start_broker(tmp_path / "kafka")
    yield broker
    broker.stop()


def write_config(path: Path, *, bootstrap: str, group: str, url: str, topic: str, stream: str,
                 dlq: str | None = None, kafka_extra: str = "") -> Path:  # fmt: skip
    dlq_line = f'    dlq_topic: "{dlq}"\n' if dlq else ""
    path.write_text(
        textwrap.dedent(
            f"""\
            kafka:
              bootstrap.servers: "{bootstrap}"
              group.id: "{group}"
            """
        )
        + kafka_extra
        + textwrap.dedent(
            f"""\
            timeplus:
              url: "{url}"
              timeout_s: 5
              retry_backoff_s: 0.1
              retry_backoff_max_s: 1
            batch: {{max_rows: 100, max_bytes: 1MiB, linger_ms: 100}}
            drain_timeout_s: 10
            mappings:
              - topic: "{topic}"
                stream: "{stream}"
            """
        )
        + dlq_line
        + "    columns:\n      id: {from: value.id, type: int64}\n      name: value.name\n"
    )
    return path


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_dead_letters_wait_for_their_topic_instead_of_stopping_the_connector(
    no_auto_create_kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    unique: str,
    tmp_path: Path,
) -> None:
    kafka = no_auto_create_kafka
    topic, dlq, stream, group = f"in-{unique}", f"in-{unique}.dlq", f"s_{unique}", f"g-{unique}"
    kafka.create_topic(topic, 1)
    emulator.create_stream(stream, STREAM_COLUMNS)
    good = 300
    bad = [b"not json", b'{"id": "x", "name": "wrong type"}', b"[1, 2]"]
    messages: list[tuple[int, bytes | None, bytes | None]] = [
        (0, None, orjson.dumps({"id": i, "name": f"item-{i}"})) for i in range(good)
    ]
    for n, value in enumerate(bad):
        messages.insert(50 + n * 100, (0, f"bad-{n}".encode(), value))
    produce(kafka.bootstrap, topic, messages)
    # A short delivery timeout, so that the letters fail within seconds instead of 5 minutes.
    config = write_config(
        tmp_path / "c.yaml", bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream,
        dlq=dlq, kafka_extra='  message.timeout.ms: "2000"\n',
    )  # fmt: skip
    connector = connectors.start(config, "run", until_caught_up=True)

    def letters_failing() -> bool:
        ensure_running(connector)
        return "unavailable, retrying" in connector.log()

    wait_until(letters_failing, 60, "the connector to retry the dead letters", connector.log)
    stalled = committed(kafka.bootstrap, group, topic, 1).get(0, 0)
    kafka.create_topic(dlq, 1)
    code = connector.wait(120)
    result = delivery(emulator, stream, range(good))
    warnings = [line for line in connector.log().splitlines() if "unavailable" in line]
    fault_report(
        "dead-letter topic missing",
        f"{len(bad)} bad messages amid {good} good; the dead-letter topic does not exist and the broker "
        "creates none (message.timeout.ms 2 s); created later",
        f"{result.outcome()} good messages; letters retried with backoff ({len(warnings)} warning), "
        f"delivered once the topic existed; committed offset held at {stalled} meanwhile; exit {code}",
    )
    assert code == 0, connector.log()[-3000:]
    assert stalled <= 50, "an offset past an undelivered dead letter was committed"
    result.assert_nothing_lost()
    assert fully_committed(kafka.bootstrap, group, topic, 1)
    assert len(warnings) <= 3, "one warning per outage, not one per attempt:\n" + "\n".join(warnings)


class GroupMember:
    """A plain consumer in the connector's group that holds partitions without committing."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "partition.assignment.strategy": "cooperative-sticky", "auto.offset.reset": "earliest",
        })  # fmt: skip
        self.topic = topic
        self.stop = threading.Event()
        self.assigned: set[int] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._poll, name="group-member", daemon=True)

    def start(self) -> None:
        def on_assign(_consumer: object, partitions: list[TopicPartition]) -> None:
            with self.lock:
                self.assigned.update(p.partition for p in partitions)

        def on_revoke(_consumer: object, partitions: list[TopicPartition]) -> None:
            with self.lock:
                self.assigned.difference_update(p.partition for p in partitions)

        self.consumer.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set():
            self.consumer.consume(100, timeout=0.2)  # read and drop: this member never delivers

    def owned(self) -> set[int]:
        with self.lock:
            return set(self.assigned)

    def commit_and_leave(self, ends: dict[int, int]) -> None:
        """Commit the end offsets of what it owns (as if it had delivered them), then leave the group."""
        self.stop.set()
        self.thread.join(30)
        owned = self.owned()
        for _ in range(60):
            try:
                self.consumer.commit(
                    offsets=[TopicPartition(self.topic, p, ends[p]) for p in owned], asynchronous=False
                )
                break
            except KafkaException:
                threading.Event().wait(0.5)  # the coordinator may still be loading after the restart
        self.consumer.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_idle_member_waiting_for_the_group_survives_a_frozen_broker(
    own_kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    unique: str,
    tmp_path: Path,
) -> None:
    kafka = own_kafka
    topic, stream, group = f"wait-{unique}", f"wait_{unique}", f"g-wait-{unique}"
    kafka.create_topic(topic, 1)
    emulator.create_stream(stream, STREAM_COLUMNS)
    produce_ids(kafka.bootstrap, topic, 1, range(1_000))
    # Another member owns the only partition; the connector joining gets nothing and, with
    # --until-caught-up, reads the group's committed offsets every second until they reach the end.
    member = GroupMember(kafka.bootstrap, group, topic)
    member.start()
    wait_until(lambda: member.owned() == {0}, 60, "the other member to own the partition")
    config = write_config(
        tmp_path / "c.yaml", bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream,
        kafka_extra='  socket.timeout.ms: "5000"\n',
    )  # fmt: skip
    connector = connectors.start(config, "run", until_caught_up=True)

    def waiting_for_the_group() -> bool:
        ensure_running(connector)
        return "assigned nothing" in connector.log() and member.owned() == {0}

    wait_until(waiting_for_the_group, 90, "the connector to join the group with nothing assigned", connector.log)
    # Freeze the broker (a long GC pause, an overloaded host): reading the committed offsets times out.
    pid = kafka.pid
    assert pid is not None
    frozen_at = len(connector.log())
    os.kill(pid, signal.SIGSTOP)
    try:

        def retried_or_exited() -> bool:
            return connector.process.poll() is not None or "unavailable, retrying" in connector.log()[frozen_at:]

        wait_until(retried_or_exited, 60, "the connector to retry reading the group's offsets", connector.log)
        threading.Event().wait(15)  # the fault's duration: long enough for another read to time out
        alive = connector.process.poll() is None
    finally:
        os.kill(pid, signal.SIGCONT)
    member.commit_and_leave({0: 1_000})
    code = connector.wait(120)
    lines = [line for line in connector.log().splitlines() if "connector.outage: Kafka" in line]
    warnings = [line for line in lines if "Kafka unavailable" in line]
    first_end = next((line for line in lines if "available again" in line), "")
    attempts = re.search(r"after (\d+) failed attempts", first_end)
    fault_report(
        "broker frozen while an instance waits for the group",
        "--until-caught-up instance assigned nothing, reading the group's committed offsets; broker frozen "
        "(SIGSTOP) until a read times out, 15 s more, then SIGCONT; the other member then commits and leaves",
        f"alive through the outage (one warning for {attempts.group(1) if attempts else '?'} failed reads), "
        f"exit {code} once the group's offsets "
        "reached the end offsets"
        if alive and code == 0
        else f"DIED during the outage (exit {code})",
    )
    assert alive, "the connector died while the broker was frozen:\n" + connector.log()[-3000:]
    assert code == 0, connector.log()[-3000:]
    # One warning for the outage, however many reads failed during it (after SIGCONT the
    # broker may refuse a read or two while its coordinator reloads: a second, short outage).
    assert attempts is not None and int(attempts.group(1)) >= 2, "\n".join(lines)
    assert lines[0] == warnings[0] and "available again" in lines[1], "\n".join(lines)
    assert committed(kafka.bootstrap, group, topic, 1) == {0: 1_000}
