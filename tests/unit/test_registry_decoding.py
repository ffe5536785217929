"""Decoding Confluent-framed avro / protobuf / json_schema values, against a schema source in memory.

The bodies are written by fastavro and protobuf themselves (the integration tests use
confluent-kafka's serializers against a real registry); the source here only stands in
for the registry's HTTP answers, so that outages and unknown ids can be staged exactly.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import textwrap
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import fastavro
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2, wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st

from connector.config import parse_config
from connector.errors import DataError, RetriableError
from connector.pipeline import Tuning, build_pipeline
from connector.ports import RegisteredSchema
from connector.records import Record
from connector.registry_decoding import Backoff, RegistryDecoder
from connector.types import column_type
from tests.unit.fakes import FakeSink, FakeSource

ORDER: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "atu", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 4}},
        {
            "name": "fx",
            "type": {"type": "fixed", "name": "Fx", "size": 9, "logicalType": "decimal", "precision": 20, "scale": 2},
        },
        {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["RETAIL", "WHOLESALE"]}},
        {"name": "customer",
         "type": {"type": "record", "name": "Customer", "fields": [{"name": "name", "type": "string"}]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "blob", "type": "bytes"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}  # fmt: skip


def order(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 7,
        "ts": datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        "tsu": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "day": date(2024, 2, 29),
        "at": time(23, 59, 58, 999000),
        "atu": time(0, 0, 1, 5),
        "amount": Decimal("1234567890123456.0001"),
        "fx": Decimal("-0.01"),
        "uid": str(UUID(int=7)),
        "kind": "WHOLESALE",
        "customer": {"name": "Ada"},
        "tags": ["a", "b"],
        "blob": b"\x00\xff",
        "note": None,
    }
    return record | changes


def framed(schema_id: int, body: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def avro(schema_id: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return framed(schema_id, out.getvalue())


class Registry:
    """Schemas by id, and a script of failures to answer with first."""

    def __init__(self, schemas: dict[int, RegisteredSchema]) -> None:
        self.schemas = schemas
        self.calls: list[int] = []
        self.failures: list[Exception] = []

    def schema(self, schema_id: int) -> RegisteredSchema:
        self.calls.append(schema_id)
        if self.failures:
            raise self.failures.pop(0)
        if schema_id not in self.schemas:
            raise DataError(f"the schema registry has no schema id {schema_id} (40403: Schema not found)")
        return self.schemas[schema_id]


def decoder(registry: Registry, stopping: list[bool] | None = None) -> tuple[RegistryDecoder, list[float]]:
    slept: list[float] = []
    flag = stopping if stopping is not None else [False]
    found = RegistryDecoder(registry, Backoff(0.01, 0.02), stopping=lambda: flag[0], sleep=slept.append)
    return found, slept


AVRO_1 = RegisteredSchema("AVRO", json.dumps(ORDER))


def test_avro_logical_types_decode_exactly() -> None:
    decode, _ = decoder(Registry({1: AVRO_1}))
    got = decode.decode(avro(1, ORDER, order()), "avro")
    assert got == {
        "id": 7,
        "ts": datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        "tsu": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "day": date(2024, 2, 29),
        "at": "23:59:58.999",
        "atu": "00:00:01.000005",
        "amount": "1234567890123456.0001",
        "fx": "-0.01",
        "uid": "00000000-0000-0000-0000-000000000007",
        "kind": "WHOLESALE",
        "customer": {"name": "Ada"},
        "tags": ["a", "b"],
        "blob": base64.b64encode(b"\x00\xff").decode(),
        "note": None,
    }
    # ... and the column types turn them into exactly what Timeplus reads.
    assert column_type("datetime64(3)").convert(got["ts"]) == "2024-05-06 07:08:09.123Z"
    assert column_type("datetime64(6)").convert(got["tsu"]) == "2024-05-06 07:08:09.123456Z"
    assert column_type("date").convert(got["day"]) == "2024-02-29"
    assert column_type("decimal(20, 4)").convert(got["amount"]) == "1234567890123456.0001"
    assert column_type("uuid").convert(got["uid"]) == "00000000-0000-0000-0000-000000000007"
    assert column_type("enum8('RETAIL' = 1, 'WHOLESALE' = 2)").convert(got["kind"]) == "WHOLESALE"


@given(st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=4, allow_nan=False))
def test_avro_decimals_reach_the_column_without_rounding(amount: Decimal) -> None:
    decode, _ = decoder(Registry({1: AVRO_1}))
    got = decode.decode(avro(1, ORDER, order(amount=amount)), "avro")
    assert Decimal(column_type("decimal(20, 4)").convert(got["amount"])) == amount


def test_avro_named_types_of_referenced_schemas_resolve() -> None:
    money = {"type": "record", "name": "Money", "namespace": "shop", "fields": [{"name": "cents", "type": "long"}]}
    order_schema = {"type": "record", "name": "Order", "namespace": "shop",
                    "fields": [{"name": "total", "type": "shop.Money"}]}  # fmt: skip
    registered = RegisteredSchema(
        "AVRO", json.dumps(order_schema), (("shop.Money", RegisteredSchema("AVRO", json.dumps(money))),)
    )
    decode, _ = decoder(Registry({5: registered}))
    named: dict[str, Any] = {}
    fastavro.parse_schema(money, named)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(order_schema, named), {"total": {"cents": 1999}})
    assert decode.decode(framed(5, out.getvalue()), "avro") == {"total": {"cents": 1999}}


def test_each_schema_id_is_fetched_once() -> None:
    registry = Registry({1: AVRO_1})
    decode, _ = decoder(registry)
    for i in range(50):
        assert decode.decode(avro(1, ORDER, order(id=i)), "avro")["id"] == i
    assert registry.calls == [1]


def test_a_new_schema_version_mid_topic_just_works() -> None:
    v2 = {**ORDER, "fields": [*ORDER["fields"], {"name": "channel", "type": "string", "default": "web"}]}
    v3 = {**ORDER, "fields": [f for f in ORDER["fields"] if f["name"] != "tags"]}
    registry = Registry(
        {1: AVRO_1, 2: RegisteredSchema("AVRO", json.dumps(v2)), 3: RegisteredSchema("AVRO", json.dumps(v3))}
    )
    decode, _ = decoder(registry)
    first = decode.decode(avro(1, ORDER, order()), "avro")
    second = decode.decode(avro(2, v2, order(channel="app")), "avro")
    third = decode.decode(avro(3, v3, {k: v for k, v in order().items() if k != "tags"}), "avro")
    assert "channel" not in first and second["channel"] == "app"
    assert "tags" not in third and third["id"] == 7
    assert registry.calls == [1, 2, 3]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "tombstone (null value)"),
        (b"", "empty value"),
        (b'{"id": 1}', "no Schema Registry framing: the value starts with byte 0x7b, not the magic byte 0"),
        (b"\x00\x00\x01", "no Schema Registry framing: 3 bytes, shorter than the 5-byte header"),
    ],
)
def test_values_without_the_framing_are_data_errors(value: bytes | None, reason: str) -> None:
    registry = Registry({1: AVRO_1})
    decode, _ = decoder(registry)
    with pytest.raises(DataError) as caught:
        decode.decode(value, "avro")
    assert caught.value.reason == reason
    assert registry.calls == []


def test_an_unknown_schema_id_is_a_data_error_asked_once() -> None:
    registry = Registry({})
    decode, _ = decoder(registry)
    for _ in range(3):
        with pytest.raises(DataError, match=r"the schema registry has no schema id 9 \(40403"):
            decode.decode(framed(9, b"\x02"), "avro")
    assert registry.calls == [9]


def test_a_body_that_does_not_match_its_schema_is_a_data_error() -> None:
    decode, _ = decoder(Registry({1: AVRO_1}))
    good = avro(1, ORDER, order())
    with pytest.raises(DataError, match="value does not match Avro schema 1: EOFError"):
        decode.decode(good[:20], "avro")
    with pytest.raises(DataError, match="value does not match Avro schema 1: 2 bytes after the record"):
        decode.decode(good + b"\x00\x00", "avro")


def test_a_schema_of_another_kind_is_a_data_error() -> None:
    decode, _ = decoder(Registry({1: AVRO_1}))
    with pytest.raises(DataError, match="schema 1 is AVRO, but the mapping's format is protobuf"):
        decode.decode(avro(1, ORDER, order()), "protobuf")


def test_an_outage_is_waited_out_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry({1: AVRO_1})
    registry.failures = [RetriableError(f"cannot reach the registry ({i})") for i in range(5)]
    decode, slept = decoder(registry)
    with caplog.at_level(logging.WARNING, logger="connector.registry_decoding"):
        assert decode.decode(avro(1, ORDER, order()), "avro")["id"] == 7
    assert registry.calls == [1] * 6
    assert slept, "the decoder backed off between attempts"
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "schema registry: cannot reach the registry (0); retrying until it answers (nothing is committed meanwhile)",
        "schema registry answers again",
    ]


def test_stopping_during_an_outage_gives_up_the_value() -> None:
    registry = Registry({1: AVRO_1})
    registry.failures = [RetriableError("down")] * 1000
    stopping = [False]
    decode, slept = decoder(registry, stopping)

    def stop_after_a_few(seconds: float) -> None:
        if len(slept) >= 3:
            stopping[0] = True

    decode._sleep = lambda s: (slept.append(s), stop_after_a_few(s))  # type: ignore[assignment,func-returns-value]
    with pytest.raises(RetriableError, match="stopping while the schema registry is unreachable: down"):
        decode.decode(avro(1, ORDER, order()), "avro")


# -- Protobuf -----------------------------------------------------------------------


def proto_file() -> descriptor_pb2.FileDescriptorProto:
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="shop_test.proto",
        package="shop.test",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"],
    )
    holder = file.message_type.add(name="Holder")
    holder.field.add(name="x", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    inner = holder.nested_type.add(name="Inner")
    inner.field.add(name="n", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    msg = file.message_type.add(name="Order")
    msg.field.add(name="id", number=1, type=field.TYPE_INT64, label=field.LABEL_OPTIONAL)
    msg.field.add(name="created", number=2, type=field.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp",
                  label=field.LABEL_OPTIONAL)  # fmt: skip
    msg.field.add(name="note", number=3, type=field.TYPE_MESSAGE, type_name=".google.protobuf.StringValue",
                  label=field.LABEL_OPTIONAL)  # fmt: skip
    msg.field.add(name="qty", number=4, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    return file


def proto_classes() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(proto_file())
    names = ("shop.test.Holder", "shop.test.Holder.Inner", "shop.test.Order")
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name)) for name in names}


PROTO_2 = RegisteredSchema("PROTOBUF", base64.b64encode(proto_file().SerializeToString()).decode())


def test_protobuf_messages_decode_with_their_index_and_well_known_types() -> None:
    classes = proto_classes()
    decode, _ = decoder(Registry({2: PROTO_2}))
    msg = classes["shop.test.Order"](id=2**62)
    msg.created.FromDatetime(datetime(2024, 1, 2, 3, 4, 5, 678901))
    msg.note.value = "hi"
    # index [1] (the second message of the file): count 1, then 1, zigzag-encoded.
    got = decode.decode(framed(2, b"\x02\x02" + msg.SerializeToString()), "protobuf")
    assert got == {"id": str(2**62), "created": "2024-01-02T03:04:05.678901Z", "note": "hi", "qty": 0}
    assert column_type("datetime64(6)").convert(got["created"]) == "2024-01-02 03:04:05.678901Z"
    assert column_type("int64").convert(got["id"]) == 2**62
    # A message without its wrapper field: absent, so the column's default/null rules apply.
    sparse = decode.decode(framed(2, b"\x02\x02" + classes["shop.test.Order"](id=1).SerializeToString()), "protobuf")
    assert sparse == {"id": "1", "qty": 0}
    # index [0] is written as the single byte 0; [0, 0] names the nested Inner.
    holder = decode.decode(framed(2, b"\x00" + classes["shop.test.Holder"](x="h").SerializeToString()), "protobuf")
    assert holder == {"x": "h"}
    inner = decode.decode(framed(2, b"\x04\x00\x00" + classes["shop.test.Holder.Inner"](n=5).SerializeToString()),
                          "protobuf")  # fmt: skip
    assert inner == {"n": 5}


def test_bad_protobuf_values_are_data_errors() -> None:
    decode, _ = decoder(Registry({2: PROTO_2}))
    with pytest.raises(DataError, match=r"message index \[5\] names no message of Protobuf schema 2"):
        decode.decode(framed(2, b"\x02\x0a"), "protobuf")
    with pytest.raises(DataError, match="value does not match Protobuf schema 2"):
        decode.decode(framed(2, b"\x02\x02\x0a\xff"), "protobuf")
    with pytest.raises(DataError, match="value ends inside the Protobuf message index"):
        decode.decode(framed(2, b"\x02"), "protobuf")


def test_protobuf_schema_as_proto_text_is_a_data_error_that_says_why() -> None:
    text = 'syntax = "proto3"; message A { string x = 1; }'
    decode, _ = decoder(Registry({3: RegisteredSchema("PROTOBUF", text)}))
    with pytest.raises(DataError, match=r"schema 3: the registry returned schema-3.proto as .proto text"):
        decode.decode(framed(3, b"\x00"), "protobuf")


# -- JSON Schema ---------------------------------------------------------------------

JSON_4 = RegisteredSchema(
    "JSON",
    json.dumps({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}),
)


def test_json_schema_values_are_validated() -> None:
    decode, _ = decoder(Registry({4: JSON_4}))
    assert decode.decode(framed(4, b'{"id": 5, "x": [1]}'), "json_schema") == {"id": 5, "x": [1]}
    with pytest.raises(DataError, match="value does not match JSON Schema 4: data must contain \\['id'\\] properties"):
        decode.decode(framed(4, b'{"x": 1}'), "json_schema")
    with pytest.raises(DataError, match="value is not valid JSON"):
        decode.decode(framed(4, b'{"id": '), "json_schema")


# -- In the pipeline ---------------------------------------------------------------------


def test_stopping_during_an_outage_ends_the_run_cleanly_and_commits_only_before_it() -> None:
    simple = {"type": "record", "name": "S", "fields": [{"name": "id", "type": "long"}]}
    registry = Registry({1: RegisteredSchema("AVRO", json.dumps(simple))})
    values = [avro(1 if i < 20 else 2, simple, {"id": i}) for i in range(30)]
    source = FakeSource({("t", 0): [Record("t", 0, i, v) for i, v in enumerate(values)]})
    config = parse_config(
        textwrap.dedent(
            """
            kafka: {bootstrap.servers: 'unused:9092'}
            timeplus: {url: 'http://unused:3218'}
            schema_registry: {url: 'http://unused:8081', retry_backoff_s: 0.001, retry_backoff_max_s: 0.002}
            batch: {max_rows: 5, linger_ms: 0}
            mappings: [{topic: t, stream: s, format: avro, columns: {id: {from: value.id, type: int64}}}]
            """
        ),
        env={},
    )
    sink = FakeSink()
    pipeline = build_pipeline(
        config, source, sink, schemas=registry, tuning=Tuning(poll_messages=7, poll_timeout_s=0.0)
    )
    unreachable = RetriableError("cannot reach the registry")

    def schema(schema_id: int) -> RegisteredSchema:
        registry.calls.append(schema_id)
        if schema_id == 2:
            if registry.calls.count(2) == 5:
                pipeline.stop()  # SIGTERM in the middle of the outage
            raise unreachable
        return registry.schemas[schema_id]

    registry.schema = schema  # type: ignore[method-assign]
    stats = pipeline.run()  # no exception: a stop during an outage is a clean stop
    delivered = sorted(row[0] for row in sink.rows["s"])
    # Polls of 7: offsets 0-13 are mapped; the poll 14-20 holds the first message of schema 2.
    assert delivered == list(range(14))
    assert source.broker_committed == {("t", 0): 14}
    assert stats.messages == 14


def test_the_cached_error_of_an_unknown_id_does_not_grow() -> None:
    decode, _ = decoder(Registry({}))
    errors = []
    for _ in range(3):
        with pytest.raises(DataError) as caught:
            decode.decode(framed(9, b"\x02"), "avro")
        errors.append(caught.value)
    assert errors[0] is not errors[2]
    assert errors[0].reason == errors[2].reason
