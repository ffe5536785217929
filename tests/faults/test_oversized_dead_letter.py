"""Dead letters larger than librdkafka's default 1,000,000-byte producer limit.

A topic may hold messages far larger than 1 MB (its ``max.message.bytes``). A bad one must
reach the dead-letter topic whole when that topic accepts it; when the dead-letter topic
cannot hold what ``max_message_bytes`` lets through, the connector refuses to start; and a
letter that still cannot be produced stops the connector with one line naming where the
message came from, committing nothing past it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import STREAM_COLUMNS, Connectors, FaultReport, committed, delivery, wait_until
from tests.support.services import end_offsets

MiB = 1 << 20
GOOD = 200


def create_topic(kafka: KafkaBroker, name: str, max_message_bytes: int | None) -> None:
    """A one-partition topic, with ``max.message.bytes`` when given (the broker's default otherwise)."""
    config = {"max.message.bytes": str(max_message_bytes)} if max_message_bytes else {}
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(30)

    def has_leader() -> bool:
        topic = admin.list_topics(topic=name, timeout=30).topics.get(name)
        return topic is not None and topic.error is None and all(p.leader >= 0 for p in topic.partitions.values())

    wait_until(has_leader, 30, f"topic {name} to have a leader")


def produce_with_bad(kafka: KafkaBroker, topic: str, bad: bytes) -> int:
    """``GOOD`` good messages with ``bad`` in the middle (key ``bad``); the bad message's offset."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "message.max.bytes": 16 * MiB})
    for i in range(GOOD):
        if i == GOOD // 2:
            producer.produce(topic, value=bad, key=b"bad", partition=0)
        producer.produce(topic, value=orjson.dumps({"id": i, "name": f"item-{i}"}), partition=0)
    assert producer.flush(60) == 0
    return GOOD // 2


def write_config(path: Path, *, kafka: KafkaBroker, emulator: TimeplusEmulator, names: dict[str, str],
                 max_message_bytes: str | None = None) -> Path:  # fmt: skip
    limit = f"max_message_bytes: {max_message_bytes}\n" if max_message_bytes else ""
    path.write_text(
        textwrap.dedent(
            f"""\
            kafka:
              bootstrap.servers: "{kafka.bootstrap}"
              group.id: "{names["group"]}"
            timeplus:
              url: "{emulator.url}"
              timeout_s: 5
            batch: {{max_rows: 100, max_bytes: 1MiB, linger_ms: 100}}
            drain_timeout_s: 10
            """
        )
        + limit
        + textwrap.dedent(
            f"""\
            mappings:
              - topic: "{names["topic"]}"
                stream: "{names["stream"]}"
                dlq_topic: "{names["dlq"]}"
                columns:
                  id: {{from: value.id, type: int64}}
                  name: value.name
            """
        )
    )
    return path


def setup(kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, name: str) -> dict[str, str]:
    names = {
        "topic": f"{name}-{unique}",
        "dlq": f"{name}-{unique}.dlq",
        "stream": f"{name}_{unique}",
        "group": f"g-{name}-{unique}",
    }
    emulator.create_stream(names["stream"], STREAM_COLUMNS)
    return names


def read_letters(kafka: KafkaBroker, topic: str, expected: int) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of the dead letters in ``topic``, read from its start."""
    consumer = Consumer({
        "bootstrap.servers": kafka.bootstrap, "group.id": f"reader-{topic}", "auto.offset.reset": "earliest",
        "fetch.max.bytes": 64 * MiB, "max.partition.fetch.bytes": 64 * MiB,
    })  # fmt: skip
    consumer.subscribe([topic])
    found: list[tuple[bytes | None, bytes | None]] = []
    try:
        for _ in range(150):
            for message in consumer.consume(10, timeout=0.2):
                assert message.error() is None, message.error()
                found.append((message.key(), message.value()))
            if len(found) >= expected:
                break
    finally:
        consumer.close()
    return found


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_bad_message_of_3_mb_is_dead_lettered_whole(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    unique: str,
    tmp_path: Path,
) -> None:
    names = setup(kafka, emulator, unique, "bigbad")
    create_topic(kafka, names["topic"], 6 * MiB)
    create_topic(kafka, names["dlq"], 12 * MiB)  # accepts max_message_bytes (8 MiB, the default) and the headers
    bad = b"not json " + b"x" * (3_000_000 - 9)
    produce_with_bad(kafka, names["topic"], bad)
    config = write_config(tmp_path / "c.yaml", kafka=kafka, emulator=emulator, names=names)

    connector = connectors.start(config, "run", until_caught_up=True)
    code = connector.wait(120)
    letters = read_letters(kafka, names["dlq"], 1) if code == 0 else []
    result = delivery(emulator, names["stream"], range(GOOD))
    fault_report(
        "oversized dead letter",
        "a 3,000,000-byte message that is not JSON amid 200 good ones (source topic max.message.bytes 6 MiB, "
        "dead-letter topic 12 MiB, max_message_bytes 8 MiB)",
        f"{result.outcome()} good messages; dead-lettered whole ({len(letters[0][1] or b''):,} bytes); exit 0"
        if code == 0 and len(letters) == 1
        else f"STOPPED (exit {code}): the letter could not be produced",
    )
    assert code == 0, connector.log()[-3000:]
    assert letters == [(b"bad", bad)]
    result.assert_nothing_lost()
    assert committed(kafka.bootstrap, names["group"], names["topic"], 1) == end_offsets(
        kafka.bootstrap, names["topic"], 1
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_dead_letter_topic_smaller_than_max_message_bytes_is_refused_at_start(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    unique: str,
    tmp_path: Path,
) -> None:
    names = setup(kafka, emulator, unique, "smalldlq")
    create_topic(kafka, names["topic"], None)
    create_topic(kafka, names["dlq"], None)  # the broker's default: 1,048,588 bytes
    produce_with_bad(kafka, names["topic"], b'{"id": "not a number"}')
    config = write_config(tmp_path / "c.yaml", kafka=kafka, emulator=emulator, names=names, max_message_bytes="4MiB")

    connector = connectors.start(config, "run", until_caught_up=True)
    code = connector.wait(60)
    fatal = [line for line in connector.log().splitlines() if line.startswith("kafka-timeplus: fatal:")]
    assert code == 1, connector.log()[-3000:]
    assert len(fatal) == 1, connector.log()[-3000:]
    for words in (names["dlq"], "max.message.bytes", "1,048,588", "max_message_bytes", "4,194,304"):
        assert words in fatal[0], f"{words!r} not in {fatal[0]!r}"
    assert emulator.count(names["stream"]) == 0, "nothing is consumed before the check"
    assert committed(kafka.bootstrap, names["group"], names["topic"], 1) == {}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_letter_the_dead_letter_topic_cannot_hold_stops_the_connector_before_it(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    unique: str,
    tmp_path: Path,
) -> None:
    names = setup(kafka, emulator, unique, "toobig")
    create_topic(kafka, names["topic"], 6 * MiB)
    create_topic(kafka, names["dlq"], 2 * MiB)
    # Over max_message_bytes, so a data error, and larger than the dead-letter topic accepts.
    bad = orjson.dumps({"id": -1, "name": "y" * 3_000_000})
    offset = produce_with_bad(kafka, names["topic"], bad)
    config = write_config(tmp_path / "c.yaml", kafka=kafka, emulator=emulator, names=names, max_message_bytes="1MiB")

    first = connectors.start(config, "run", until_caught_up=True)
    first_code = first.wait(120)
    offsets = committed(kafka.bootstrap, names["group"], names["topic"], 1)
    second = connectors.start(config, "restart", until_caught_up=True)  # the same message stops it again
    runs, codes = [first, second], [first_code, second.wait(120)]
    fatal = [[line for line in run.log().splitlines() if line.startswith("kafka-timeplus: fatal:")] for run in runs]
    fault_report(
        "dead letter the dead-letter topic cannot hold",
        f"a {len(bad):,}-byte message over max_message_bytes (1 MiB) amid 200 good ones; dead-letter topic "
        "max.message.bytes 2 MiB; started twice",
        f"exit codes {codes}, each run one line naming the message, the topic and the reason; committed offset "
        f"{offsets.get(0, 0)} ≤ the message's offset {offset}",
    )
    for run, code, lines in zip(runs, codes, fatal, strict=True):
        assert code == 1, run.log()[-3000:]
        assert len(lines) == 1, run.log()[-3000:]
        for words in (f"{names['topic']}[0]@{offset}", names["dlq"], "too large"):
            assert words in lines[0], f"{words!r} not in {lines[0]!r}"
    assert offsets.get(0, 0) <= offset, "an offset past the undelivered letter was committed"
    assert committed(kafka.bootstrap, names["group"], names["topic"], 1).get(0, 0) <= offset
