"""Bad input interleaved with good: every good message lands, every bad one is dead-lettered
with a reason naming the problem, and nothing blocks."""

from __future__ import annotations

from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.services import ConnectorProcess, committed_offsets, end_offsets, write_config

GOOD = 200
# (class, value, headers, words the dead letter's reason must contain)
BAD: list[tuple[str, bytes | None, list[tuple[str, str | bytes | None]] | None, tuple[str, ...]]] = [
    ("non-JSON", b"hello world", None, ("not valid JSON",)),
    ("truncated JSON", b'{"id": 1, "name": "tru', None, ("not valid JSON",)),
    ("JSON array", b"[1, 2, 3]", None, ("JSON array",)),
    ("JSON scalar", b"42", None, ("JSON int",)),
    ("non-UTF-8", b'{"id": 7, "name": "\xff\xfe"}', None, ("UTF-8",)),
    ("missing required field", b'{"name": "no id"}', None, ("missing field value.id",)),
    ("wrong type", b'{"id": "abc", "name": "x"}', None, ("column id", "not a valid int64")),
    ("integer overflow", b'{"id": 9, "name": "x", "level": 300}', None, ("column level", "out of range for uint8")),
    ("bad timestamp", b'{"id": 9, "name": "x", "at": "2024-13-45T99:00"}', None, ("column at",)),
    ("tombstone", None, None, ("tombstone",)),
    ("empty value", b"", None, ("empty value",)),
    ("oversized", b'{"id": 1, "name": "' + b"x" * 20_000 + b'"}', None, ("max_message_bytes",)),
    ("deeply nested", b'{"a":' * 1100 + b"1" + b"}" * 1100, None, ("depth limit",)),
    ("NaN", b'{"id": NaN, "name": "x"}', None, ("not valid JSON",)),
    ("Infinity", b'{"id": 1, "name": "x", "score": Infinity}', None, ("not valid JSON",)),
    ("duplicate keys", b'{"id": 1, "id": 2, "name": "x"}', None, ("'id' more than once",)),
    ("value Timeplus rejects", b'{"id": 5, "name": "x", "label": "not-a-number"}', None, ("rejected by Timeplus",)),
    ("header not UTF-8", b'{"id": 6, "name": "x"}', [("region", b"\xc3\x28")], ("column region", "UTF-8")),
]


def good(i: int) -> bytes:
    return orjson.dumps({"id": 1000 + i, "name": f"n{i}", "level": i % 200, "at": "2024-05-01T10:00:00Z", "label": i})


def test_bad_input_corpus_is_dead_lettered_and_good_messages_land(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic, dlq, stream = f"in-{unique}", f"in-{unique}.dlq", f"s_{unique}"
    kafka.create_topic(topic, 2)
    kafka.create_topic(dlq, 1)
    # `label` is passed through untyped by the mapping, so only Timeplus can refuse it.
    emulator.create_stream(
        stream,
        [("id", "int64"), ("name", "string"), ("level", "uint8"), ("at", "datetime64(3)"),
         ("label", "int32"), ("region", "string")],
    )  # fmt: skip
    producer = Producer(
        {"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True, "message.max.bytes": 200_000}
    )
    expected_bad: dict[bytes, tuple[str, tuple[str, ...]]] = {}
    sequence = 0
    for i in range(GOOD):
        producer.produce(topic, value=good(i), key=f"good-{i}".encode(), partition=i % 2,
                         headers=[("region", b"eu")])  # fmt: skip
        if i % 10 == 5 and i // 10 < len(BAD):
            name, value, headers, words = BAD[i // 10]
            key = f"bad-{sequence}".encode()
            sequence += 1
            producer.produce(topic, value=value, key=key, partition=sequence % 2, headers=headers or [])
            expected_bad[key] = (name, words)
    assert producer.flush(30) == 0
    assert len(expected_bad) == len(BAD) >= 15

    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        extra="max_message_bytes: 10KiB\n",
        mappings=f"""
        - topic: {topic}
          stream: {stream}
          dlq_topic: {dlq}
          reject_duplicate_keys: true
          columns:
            id: {{from: value.id, type: int64}}
            name: {{from: value.name, type: string}}
            level: {{from: value.level, type: uint8, default: 0}}
            at: {{from: value.at, type: 'datetime64(3)', default: '2024-01-01 00:00:00'}}
            label: {{from: value.label, default: 0}}
            region: {{from: headers.region, type: string, default: none}}
        """,
    )
    connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
    assert connector.wait(120) == 0, connector.log()[-5000:]

    assert sorted(r["id"] for r in emulator.rows(stream)) == [1000 + i for i in range(GOOD)]
    letters = read_all(kafka.bootstrap, dlq, len(expected_bad))
    assert sorted(letters) == sorted(expected_bad), "each bad message is dead-lettered exactly once"
    for key, (name, words) in expected_bad.items():
        reason = letters[key]["kafka-timeplus.error.reason"].decode()
        for word in words:
            assert word in reason, f"{name}: {word!r} not in {reason!r}"
        assert letters[key]["kafka-timeplus.error.topic"] == topic.encode()
        assert letters[key]["kafka-timeplus.error.stream"] == stream.encode()
    assert committed_offsets(kafka.bootstrap, f"g-{unique}", topic, 2) == end_offsets(kafka.bootstrap, topic, 2)


def read_all(bootstrap: str, topic: str, expected: int) -> dict[bytes, dict[str, bytes]]:
    """Dead letters by key, with their headers, read from the start of the topic."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: dict[bytes, dict[str, bytes]] = {}
    try:
        for _ in range(300):
            for message in consumer.consume(100, timeout=0.2):
                assert message.error() is None, message.error()
                key = message.key()
                assert key is not None and key not in found, f"dead letter {key!r} twice"
                headers = message.headers() or []
                assert isinstance(headers, list)  # a consumed message's headers are a list of pairs
                found[key] = {k: v for k, v in headers if isinstance(v, bytes)}
            if len(found) >= expected:
                break
    finally:
        consumer.close()
    return found


def test_missing_stream_stops_with_one_line_and_commits_nothing(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic = f"in-{unique}"
    kafka.create_topic(topic, 1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for i in range(20):
        producer.produce(topic, value=good(i))
    assert producer.flush(30) == 0
    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        mappings=f"""
        - topic: {topic}
          stream: nowhere_{unique}
          columns: {{id: value.id}}
        """,
    )
    # --no-check: what happens when the stream is missing at ingest (the start-up check would refuse
    # earlier, tests/integration/test_cli_operate.py), e.g. after it was dropped while running.
    connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log", check=False)
    assert connector.wait(60) == 1
    fatal = [line for line in connector.log().splitlines() if line.startswith("kafka-timeplus: fatal:")]
    assert len(fatal) == 1 and f"nowhere_{unique}" in fatal[0] and "60" in fatal[0], connector.log()[-3000:]
    assert committed_offsets(kafka.bootstrap, f"g-{unique}", topic, 1) == {}
