"""NaN and infinities reach Timeplus as the text it reads (``nan``, ``inf``, ``-inf``), never as null.

JSON has no such numbers and orjson writes them as ``null``, which Timeplus stores as 0 in
a float column (or NULL in a nullable one): a value silently lost. Avro floats and doubles
are the way in (JSON bodies cannot spell them; Protobuf's JSON form writes ``"NaN"``).
"""

from __future__ import annotations

import base64
import json
import math
import textwrap
from typing import Any

import orjson
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st

from connector.config import parse_config
from connector.errors import DataError
from connector.exact_json import encode_exact
from connector.pipeline import build_pipeline
from connector.ports import RegisteredSchema
from connector.records import Record
from connector.timeplus import TimeplusClient
from connector.types import column_type
from sandbox.timeplus_emulator import TimeplusEmulator
from sandbox.timeplus_emulator.types import parse_type as emulator_type
from tests.unit.fakes import FakeSource
from tests.unit.test_mapping import mapper
from tests.unit.test_registry_decoding import Registry, avro, decoder, framed

NON_FINITE = [math.nan, math.inf, -math.inf]

READINGS = {
    "type": "record",
    "name": "Reading",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "d", "type": "double"},
        {"name": "f", "type": "float"},
        {"name": "maybe", "type": ["null", "double"]},
        {"name": "series", "type": {"type": "array", "items": "double"}},
    ],
}

#: Column, its type in the stream, and how the mapping reads it (typed, or sent as decoded).
COLUMNS = [
    ("id", "int64", "{from: value.id, type: int64}"),
    ("d", "float64", "{from: value.d}"),
    ("d_typed", "float64", "{from: value.d, type: float64}"),
    ("f", "float32", "{from: value.f}"),
    ("f_typed", "float32", "{from: value.f, type: float32}"),
    ("maybe", "nullable(float64)", "{from: value.maybe}"),
    ("maybe_typed", "nullable(float64)", "{from: value.maybe, type: nullable(float64)}"),
    ("series", "array(float64)", "{from: value.series}"),
    ("series_typed", "array(float64)", "{from: value.series, type: array(float64)}"),
]


def same(stored: Any, sent: Any) -> bool:
    return bool(stored != stored if sent != sent else stored == sent)


def test_avro_nan_and_infinities_land_as_themselves(emulator: TimeplusEmulator) -> None:
    emulator.create_stream("readings", [(name, type_name) for name, type_name, _ in COLUMNS])
    records: list[dict[str, Any]] = [
        {"id": i, "d": v, "f": v, "maybe": v, "series": [1.5, v]} for i, v in enumerate(NON_FINITE)
    ] + [{"id": 3, "d": 2.5, "f": 0.5, "maybe": None, "series": []}]
    registry = Registry({1: RegisteredSchema("AVRO", json.dumps(READINGS))})
    values = [avro(1, READINGS, record) for record in records]
    columns = ", ".join(f"{name}: {spec}" for name, _, spec in COLUMNS)
    config = parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: '{emulator.url}'}}
            schema_registry: {{url: 'http://unused:8081'}}
            mappings: [{{topic: t, stream: readings, format: avro, on_error: fail, columns: {{{columns}}}}}]
            """
        ),
        env={},
    )
    source = FakeSource({("t", 0): [Record("t", 0, i, v) for i, v in enumerate(values)]})
    client = TimeplusClient(config.timeplus)
    build_pipeline(config, source, client, schemas=registry, until_caught_up=True).run()

    stored = sorted(emulator.rows("readings"), key=lambda row: row["id"])
    assert [row["id"] for row in stored] == [0, 1, 2, 3]
    for row, record in zip(stored, records, strict=True):
        for name in ("d", "f", "maybe"):
            for column in (name, f"{name}_typed"):
                assert same(row[column], record[name]), (column, row[column], record)
        for column in ("series", "series_typed"):
            assert len(row[column]) == len(record["series"])
            assert all(map(same, row[column], record["series"])), (column, row[column], record)


@given(st.floats(), st.sampled_from(["float32", "float64", "nullable(float64)"]))
def test_every_float_lands_as_itself(number: float, type_name: str) -> None:
    try:
        converted = column_type(type_name).convert(number)
    except ValueError:
        assert type_name == "float32" and math.isfinite(number) and abs(number) >= 3.4028234663852886e38
        return
    sent = orjson.loads(encode_exact([converted]))[0]
    assert sent is not None
    stored = emulator_type(type_name).convert(sent)
    assert same(stored, emulator_type(type_name).convert(number)), (number, sent, stored)  # float32: rounded


@pytest.mark.parametrize(
    ("text", "sent"),
    [("nan", "nan"), ("NaN", "nan"), ("-nan", "nan"), ("inf", "inf"), ("+Infinity", "inf"), ("-inf", "-inf"),
     (" -Infinity ", "-inf")],
)  # fmt: skip
def test_non_finite_text_in_a_float_column_is_sent_as_timeplus_reads_it(text: str, sent: str) -> None:
    assert column_type("float64").convert(text) == sent
    assert column_type("float32").convert(text) == sent


@pytest.mark.parametrize("type_name", ["int32", "decimal(10, 2)", "bool", "datetime64(3)"])
@pytest.mark.parametrize("value", [math.nan, -math.inf, "nan", "-inf"])
def test_a_column_that_cannot_store_nan_or_infinity_refuses_it_naming_the_column(type_name: str, value: Any) -> None:
    m = mapper(f"x: {{from: value.x, type: '{type_name}'{', unit: ms' if 'datetime' in type_name else ''}}}")
    with pytest.raises(DataError) as caught:
        m.build(Record("t", 0, 0, b"", None, None, None), {"x": value})  # as an Avro double decodes
    assert caught.value.column == "x" and caught.value.reason


def readings_proto() -> descriptor_pb2.FileDescriptorProto:
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    file = descriptor_pb2.FileDescriptorProto(
        name="readings.proto", package="lab", syntax="proto3", dependency=["google/protobuf/wrappers.proto"]
    )
    inner = file.message_type.add(name="Inner")
    inner.field.add(name="d", number=1, type=field.TYPE_DOUBLE, label=optional)
    reading = file.message_type.add(name="Reading")
    reading.field.add(name="d", number=1, type=field.TYPE_DOUBLE, label=optional)
    reading.field.add(name="f", number=2, type=field.TYPE_FLOAT, label=optional)
    reading.field.add(name="series", number=3, type=field.TYPE_DOUBLE, label=repeated)
    reading.field.add(name="boxed", number=4, type=field.TYPE_MESSAGE, type_name=".google.protobuf.DoubleValue",
                      label=optional)  # fmt: skip
    reading.field.add(name="inner", number=5, type=field.TYPE_MESSAGE, type_name=".lab.Inner", label=optional)
    reading.field.add(name="inners", number=6, type=field.TYPE_MESSAGE, type_name=".lab.Inner", label=repeated)
    entry = reading.nested_type.add(name="ByNameEntry", options=descriptor_pb2.MessageOptions(map_entry=True))
    entry.field.add(name="key", number=1, type=field.TYPE_STRING, label=optional)
    entry.field.add(name="value", number=2, type=field.TYPE_DOUBLE, label=optional)
    reading.field.add(name="by_name", number=7, type=field.TYPE_MESSAGE, type_name=".lab.Reading.ByNameEntry",
                      label=repeated)  # fmt: skip
    reading.field.add(name="label", number=8, type=field.TYPE_STRING, label=optional)
    return file


def test_protobuf_nan_and_infinities_are_spelled_as_timeplus_reads_them_and_text_is_kept() -> None:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(readings_proto())
    reading = message_factory.GetMessageClass(pool.FindMessageTypeByName("lab.Reading"))
    schema = RegisteredSchema("PROTOBUF", base64.b64encode(readings_proto().SerializeToString()).decode())
    decode, _ = decoder(Registry({1: schema}))
    msg: Any = reading(d=math.nan, f=math.inf, series=[1.5, -math.inf], label="NaN", by_name={"a": math.nan, "b": 2.0})
    msg.boxed.value = -math.inf
    msg.inner.d = math.inf
    msg.inners.add(d=math.nan)
    got = decode.decode(framed(1, b"\x02\x02" + msg.SerializeToString()), "protobuf")  # message index [1]
    assert got == {
        "d": "nan", "f": "inf", "series": [1.5, "-inf"], "boxed": "-inf", "inner": {"d": "inf"},
        "inners": [{"d": "nan"}], "by_name": {"a": "nan", "b": 2.0}, "label": "NaN",
    }  # fmt: skip
    assert column_type("float32").convert(got["f"]) == "inf"
