"""Avro, Protobuf and JSON Schema topics through a real broker and a real Schema Registry.

Producers write with confluent-kafka's own serializers against Apicurio Registry (its
Confluent-compatible API); the connector runs as users run it, as a subprocess, into the
Timeplus emulator. Nothing about Kafka or the registry is mocked.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from sandbox.kafka_broker import KafkaBroker
from sandbox.schema_registry import SchemaRegistry
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.integration.test_bad_input import read_all
from tests.support.faults import committed
from tests.support.services import (
    ConnectorProcess,
    end_offsets,
    produce,
    wait_for,
    write_config,
)

PARTITIONS = 2


def avro_schema(extra: list[dict[str, Any]] | None = None, without: str | None = None) -> str:
    fields: list[dict[str, Any]] = [
        {"name": "id", "type": "long"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 4}},
        {"name": "price",
         "type": {"type": "fixed", "name": "Price", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 2}},
        {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["RETAIL", "WHOLESALE"]}},
        {"name": "customer",
         "type": {"type": "record", "name": "Customer", "fields": [{"name": "name", "type": "string"}]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ]  # fmt: skip
    fields = [f for f in fields if f["name"] != without] + (extra or [])
    return orjson.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": fields}).decode()


def order(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "ts": datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC).replace(second=i % 60),
        "tsu": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC).replace(microsecond=i),
        "day": date(2024, 2, 29),
        "at": time_of_day(23, 59, 58, 999000),
        "amount": Decimal(f"{i}1234567890.0001"),
        "price": Decimal(f"-{i}.05"),
        "uid": str(UUID(int=i)),
        "kind": "WHOLESALE" if i % 2 else "RETAIL",
        "customer": {"name": f"customer-{i % 7}"},
        "tags": [f"t{i}"],
        "note": None if i % 3 else f"note {i}",
    }


class Serialized:
    """Produces values serialized by one confluent-kafka serializer to a topic."""

    def __init__(self, kafka: KafkaBroker, topic: str, serializer: Callable[[Any, SerializationContext], Any]) -> None:
        self.kafka, self.topic, self.serializer = kafka, topic, serializer

    def values(self, objects: list[Any]) -> list[bytes]:
        ctx = SerializationContext(self.topic, MessageField.VALUE)
        return [bytes(self.serializer(obj, ctx)) for obj in objects]


def produce_values(kafka: KafkaBroker, topic: str, values: list[bytes], key: str = "k", start: int = 0) -> None:
    produce(kafka.bootstrap, topic, ((i % PARTITIONS, f"{key}{start + i}".encode(), v) for i, v in enumerate(values)))


@pytest.fixture
def registry_client(schema_registry: SchemaRegistry) -> Iterator[SchemaRegistryClient]:
    client = SchemaRegistryClient({"url": schema_registry.url})
    yield client
    client.close()


AVRO_COLUMNS = [
    ("id", "int64"), ("ts", "datetime64(3, 'UTC')"), ("tsu", "datetime64(6, 'UTC')"), ("day", "date"),
    ("at", "string"), ("amount", "decimal(20, 4)"), ("price", "decimal(18, 2)"), ("uid", "uuid"),
    ("kind", "string"), ("customer", "string"), ("tag", "string"), ("channel", "string"),
    ("note", "nullable(string)"),
]  # fmt: skip


def avro_mapping(topic: str, stream: str, dlq: str) -> str:
    return f"""
    - topic: {topic}
      stream: {stream}
      format: avro
      dlq_topic: {dlq}
      columns:
        id: {{from: value.id, type: int64}}
        ts: {{from: value.ts, type: "datetime64(3, 'UTC')"}}
        tsu: {{from: value.tsu, type: "datetime64(6, 'UTC')"}}
        day: {{from: value.day, type: date}}
        at: value.at
        amount: {{from: value.amount, type: 'decimal(20, 4)'}}
        price: {{from: value.price, type: 'decimal(18, 2)'}}
        uid: {{from: value.uid, type: uuid}}
        kind: {{from: value.kind, type: string}}
        customer: value.customer.name
        tag: {{from: value.tags.0, type: string, default: none}}
        channel: {{from: value.channel, type: string, default: web}}
        note: {{from: value.note, type: 'nullable(string)'}}
    """


def registry_extra(url: str) -> str:
    # max_message_bytes: dead letters must fit the test DLQ topics' default max.message.bytes (1 MiB).
    registry = f"schema_registry: {{url: '{url}', retry_backoff_s: 0.05, retry_backoff_max_s: 0.5}}\n"
    return registry + "max_message_bytes: 512KiB\n"


def test_avro_lands_exactly_across_schema_versions_and_bad_messages_are_dead_lettered(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    schema_registry: SchemaRegistry,
    registry_client: SchemaRegistryClient,
    unique: str,
    tmp_path: Path,
) -> None:
    topic, dlq, stream = f"avro-{unique}", f"avro-{unique}.dlq", f"avro_{unique}"
    kafka.create_topic(topic, PARTITIONS)
    kafka.create_topic(dlq, 1)
    emulator.create_stream(stream, AVRO_COLUMNS)
    # v1, then v2 adds a field with a default, then v3 removes one the mapping reads (tags).
    v1 = Serialized(kafka, topic, AvroSerializer(registry_client, avro_schema()))
    v2 = Serialized(kafka, topic, AvroSerializer(registry_client, avro_schema(
        extra=[{"name": "channel", "type": "string", "default": "web"}])))  # fmt: skip
    v3 = Serialized(kafka, topic, AvroSerializer(registry_client, avro_schema(without="tags")))
    produce_values(kafka, topic, v1.values([order(i) for i in range(100)]))
    produce_values(kafka, topic, v2.values([order(i) | {"channel": "app"} for i in range(100, 200)]), start=100)
    produce_values(kafka, topic, v3.values([order(i) for i in range(200, 300)]), start=200)
    good = v1.values([order(7)])[0]
    bad = {
        b"bad-no-magic": (b'{"id": 1}', "no Schema Registry framing: the value starts with byte 0x7b"),
        b"bad-unknown-id": (b"\x00\x7f\xff\xff\xf0" + good[5:], "the schema registry has no schema id 2147483632"),
        b"bad-truncated": (good[:12], "value does not match Avro schema"),
        b"bad-tombstone": (None, "tombstone (null value)"),
    }
    produce(kafka.bootstrap, topic, ((0, key, value) for key, (value, _) in bad.items()))

    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        mappings=avro_mapping(topic, stream, dlq),
        extra=registry_extra(schema_registry.url),
    )
    connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
    assert connector.wait(180) == 0, connector.log()[-4000:]

    rows = {r["id"]: r for r in emulator.rows(stream)}
    assert sorted(rows) == list(range(300))
    for i in (0, 1, 99, 100, 150, 199, 200, 299):
        row, source = rows[i], order(i)
        assert row["ts"] == f"2024-05-06 07:08:{i % 60:02d}.123", row
        assert row["tsu"] == f"2024-05-06 07:08:09.{i:06d}"
        assert row["day"] == "2024-02-29"
        assert row["at"] == "23:59:58.999"
        assert Decimal(str(row["amount"])) == source["amount"]
        assert Decimal(str(row["price"])) == source["price"]
        assert row["uid"] == str(UUID(int=i))
        assert row["kind"] == source["kind"]
        assert row["customer"] == f"customer-{i % 7}"
        assert row["tag"] == (f"t{i}" if i < 200 else "none")  # v3 has no tags: the column's default
        assert row["channel"] == ("app" if 100 <= i < 200 else "web")
        assert row["note"] == source["note"]
    letters = read_all(kafka.bootstrap, dlq, len(bad))
    assert set(letters) == set(bad)
    for key, (_, words) in bad.items():
        assert words in letters[key]["kafka-timeplus.error.reason"].decode(), letters[key]
        assert letters[key]["kafka-timeplus.error.class"] == b"data"
    assert committed(kafka.bootstrap, f"g-{unique}", topic, PARTITIONS) == end_offsets(
        kafka.bootstrap, topic, PARTITIONS
    )


def protobuf_classes(package: str) -> dict[str, Any]:
    """Two messages in one file, compiled at run time (protoc is not needed); Order uses well-known types."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name=f"{package}.proto", package=package, syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"],
    )  # fmt: skip
    other = file.message_type.add(name="Other")
    other.field.add(name="x", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    msg = file.message_type.add(name="Order")
    msg.field.add(name="id", number=1, type=field.TYPE_INT64, label=field.LABEL_OPTIONAL)
    msg.field.add(name="created", number=2, type=field.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp",
                  label=field.LABEL_OPTIONAL)  # fmt: skip
    msg.field.add(name="note", number=3, type=field.TYPE_MESSAGE, type_name=".google.protobuf.StringValue",
                  label=field.LABEL_OPTIONAL)  # fmt: skip
    msg.field.add(name="qty", number=4, type=field.TYPE_UINT32, label=field.LABEL_OPTIONAL)
    msg.field.add(name="state", number=5, type=field.TYPE_ENUM, type_name=f".{package}.Order.State",
                  label=field.LABEL_OPTIONAL)  # fmt: skip
    state = msg.enum_type.add(name="State")
    state.value.add(name="NEW", number=0)
    state.value.add(name="PAID", number=1)
    pool = descriptor_pool.Default()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in ("Order", "Other")}  # fmt: skip


def test_protobuf_and_json_schema_land_exactly(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    schema_registry: SchemaRegistry,
    registry_client: SchemaRegistryClient,
    unique: str,
    tmp_path: Path,
) -> None:
    proto_topic, json_topic, dlq = f"proto-{unique}", f"js-{unique}", f"reg-{unique}.dlq"
    for topic in (proto_topic, json_topic):
        kafka.create_topic(topic, PARTITIONS)
    kafka.create_topic(dlq, 1)
    emulator.create_stream(
        f"proto_{unique}",
        [
            ("id", "int64"),
            ("created", "datetime64(6, 'UTC')"),
            ("note", "nullable(string)"),
            ("qty", "uint32"),
            ("state", "string"),
        ],
    )
    emulator.create_stream(f"js_{unique}", [("id", "int64"), ("name", "string"), ("score", "float64")])  # fmt: skip
    classes = protobuf_classes(f"shop{unique}")
    serializer = ProtobufSerializer(classes["Order"], registry_client, {"use.deprecated.format": False})
    messages = []
    for i in range(200):
        message = classes["Order"](id=2**40 + i, qty=i, state=i % 2)
        message.created.FromDatetime(datetime(2024, 1, 2, 3, 4, 5, i))
        if i % 2:
            message.note.value = f"n{i}"
        messages.append(message)
    produce_values(kafka, proto_topic, Serialized(kafka, proto_topic, serializer).values(messages))
    json_schema = orjson.dumps({
        "type": "object", "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "number"}},
    }).decode()  # fmt: skip
    json_serializer = JSONSerializer(json_schema, registry_client)
    people = [{"id": i, "name": f"p{i}", "score": i / 4} for i in range(200)]
    js_values = Serialized(kafka, json_topic, json_serializer).values(people)
    produce_values(kafka, json_topic, js_values)
    # A body the schema refuses (the serializer would not write it: frame it by hand), and
    # a Protobuf message of the other message type written to the same topic (index [0]).
    other = ProtobufSerializer(classes["Other"], registry_client, {"use.deprecated.format": False})
    other_value = Serialized(kafka, proto_topic, other).values([classes["Other"](x="o")])[0]
    produce(kafka.bootstrap, json_topic, [(0, b"bad-json", js_values[0][:5] + b'{"id": "one"}')])
    produce(kafka.bootstrap, proto_topic, [(0, b"other", other_value)])

    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        mappings=f"""
        - topic: {proto_topic}
          stream: proto_{unique}
          format: protobuf
          dlq_topic: {dlq}
          columns:
            id: {{from: value.id, type: int64}}
            created: {{from: value.created, type: "datetime64(6, 'UTC')"}}
            note: {{from: value.note, type: 'nullable(string)'}}
            qty: {{from: value.qty, type: uint32}}
            state: value.state
        - topic: {json_topic}
          stream: js_{unique}
          format: json_schema
          dlq_topic: {dlq}
          columns:
            id: {{from: value.id, type: int64}}
            name: value.name
            score: {{from: value.score, type: float64}}
        """,
        extra=registry_extra(schema_registry.url),
    )
    connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
    assert connector.wait(180) == 0, connector.log()[-4000:]

    protos = {r["id"]: r for r in emulator.rows(f"proto_{unique}")}
    assert sorted(protos) == [2**40 + i for i in range(200)]
    for i in (0, 1, 198, 199):
        row = protos[2**40 + i]
        assert row["created"] == f"2024-01-02 03:04:05.{i:06d}"
        assert row["note"] == (f"n{i}" if i % 2 else None)
        assert row["qty"] == i
        assert row["state"] == ("PAID" if i % 2 else "NEW")
    people_rows = sorted(emulator.rows(f"js_{unique}"), key=lambda r: r["id"])
    assert [(r["id"], r["name"], r["score"]) for r in people_rows] == [(p["id"], p["name"], p["score"]) for p in people]
    letters = read_all(kafka.bootstrap, dlq, 2)
    assert "value does not match JSON Schema" in letters[b"bad-json"]["kafka-timeplus.error.reason"].decode()
    # The other message type decodes, but lacks the fields the mapping reads: a data error naming the column.
    assert "missing field value.id" in letters[b"other"]["kafka-timeplus.error.reason"].decode()


def simple_schema(version: int) -> str:
    fields: list[dict[str, Any]] = [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}]
    if version == 2:
        fields.append({"name": "channel", "type": "string", "default": "web"})
    return orjson.dumps({"type": "record", "name": "Simple", "fields": fields}).decode()


def test_registry_outage_commits_nothing_while_down_and_loses_nothing(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    # A registry of its own: this one is stopped and started again.
    registry = SchemaRegistry(workdir=tmp_path / "registry")
    registry.start()
    try:
        topic, stream, group = f"outage-{unique}", f"outage_{unique}", f"g-{unique}"
        kafka.create_topic(topic, PARTITIONS)
        emulator.create_stream(stream, [("id", "int64"), ("name", "string"), ("channel", "string")])
        with SchemaRegistryClient({"url": registry.url}) as client:
            before = Serialized(kafka, topic, AvroSerializer(client, simple_schema(1)))
            during = Serialized(kafka, topic, AvroSerializer(client, simple_schema(2)))
            first = before.values([{"id": i, "name": f"n{i}"} for i in range(500)])
            # Registered now, while the registry is up; produced only once it is down, so the
            # connector meets a schema id it has not fetched yet during the outage.
            second = during.values([{"id": i, "name": f"n{i}", "channel": "app"} for i in range(500, 1000)])
        ids = {value[1:5] for value in first + second}
        assert len(ids) == 2
        produce_values(kafka, topic, first)
        config = write_config(
            tmp_path / "c.yaml",
            bootstrap=kafka.bootstrap,
            group=group,
            url=emulator.url,
            mappings=f"""
            - topic: {topic}
              stream: {stream}
              format: avro
              columns:
                id: {{from: value.id, type: int64}}
                name: value.name
                channel: {{from: value.channel, type: string, default: web}}
            """,
            extra=registry_extra(registry.url),
        )
        connector = ConnectorProcess(config, until_caught_up=False, log_path=tmp_path / "run.log")
        first_end = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        wait_for(lambda: committed(kafka.bootstrap, group, topic, PARTITIONS) == first_end, 120,
                 "the first 500 messages to be committed")  # fmt: skip

        registry.stop()
        produce_values(kafka, topic, second, start=500)
        wait_for(lambda: "schema registry: cannot reach" in connector.log(), 60, "the outage warning")
        # Throughout five commit intervals (1 s each) of the outage, nothing lands and nothing is committed.
        window = time.monotonic() + 5
        while time.monotonic() < window:
            assert committed(kafka.bootstrap, group, topic, PARTITIONS) == first_end
            assert emulator.count(stream) == 500
        assert connector.process.poll() is None, connector.log()[-4000:]

        registry.start()  # the same registry (its schemas are kept on disk), at the same address
        wait_for(lambda: emulator.count(stream) == 1000, 120, "every row after the registry came back")
        end = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        wait_for(lambda: committed(kafka.bootstrap, group, topic, PARTITIONS) == end, 60, "the commit")
        connector.terminate()
        assert connector.wait(60) == 0, connector.log()[-4000:]
    finally:
        registry.stop()
    rows = emulator.rows(stream)
    assert sorted(r["id"] for r in rows) == list(range(1000))
    assert {r["channel"] for r in rows if r["id"] >= 500} == {"app"}
    log = connector.log()
    assert log.count("schema registry: cannot reach") == 1, "one warning per outage"
    assert log.count("schema registry answers again") == 1


def test_preview_decodes_avro_through_the_registry(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    schema_registry: SchemaRegistry,
    registry_client: SchemaRegistryClient,
    unique: str,
    tmp_path: Path,
) -> None:
    topic = f"preview-{unique}"
    kafka.create_topic(topic, 1)
    values = Serialized(kafka, topic, AvroSerializer(registry_client, simple_schema(1))).values(
        [{"id": i, "name": f"n{i}"} for i in range(3)]
    )
    produce(kafka.bootstrap, topic, [(0, None, v) for v in values] + [(0, None, b'{"id": 9}')])
    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        mappings=f"""
        - topic: {topic}
          stream: s_{unique}
          format: avro
          on_error: skip
          columns:
            id: {{from: value.id, type: int64}}
            name: value.name
        """,
        extra=registry_extra(schema_registry.url),
    )
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "preview", "--messages", "4", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "stream s_" in done.stdout and "3 row(s)" in done.stdout, done.stdout
    assert "n2" in done.stdout
    assert "no Schema Registry framing: the value starts with byte 0x7b" in done.stdout, done.stdout
