"""Column types derived from registered schemas, checked against what the decoder actually sends.

Each derived type is held to the values: a body written by fastavro / protobuf (or JSON
text) is decoded by ``RegistryDecoder``, encoded as the pipeline encodes untyped values,
and read by the Timeplus emulator's type model (which is no kinder than Timeplus): the
value must be accepted and stored exactly, and a null must stay null.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, struct_pb2, timestamp_pb2, wrappers_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from connector import preflight
from connector.config import parse_config
from connector.errors import DataError, RetriableError
from connector.exact_json import encode_exact
from connector.findings import Level
from connector.ports import RegisteredSchema
from connector.registry_types import Derived, NoType, SubjectVersion, derive, schema_type
from connector.stream_schema import implied_streams
from connector.types import column_type
from sandbox.timeplus_emulator.types import parse_type as emulator_type
from sandbox.timeplus_emulator.values import ValueRejected
from tests.unit.test_operate import Streams, Topics, by_subject, schema
from tests.unit.test_registry_decoding import ORDER, Registry, avro, decoder, framed, order


def landed(type_name: str, value: Any) -> Any:
    """What Timeplus stores when an untyped column sends ``value`` into a column of ``type_name``."""
    sent = orjson.loads(encode_exact([value]))[0]
    column = emulator_type(type_name)
    if sent is None:
        assert column.nullable, f"{type_name} would store null as its default"
    return column.convert(sent)


def decoded(schema: RegisteredSchema, body: bytes) -> Any:
    fmt = {"AVRO": "avro", "PROTOBUF": "protobuf", "JSON": "json_schema"}[schema.schema_type]
    return decoder(Registry({1: schema}))[0].decode(framed(1, body), fmt)


def value_at(value: Any, path: tuple[str, ...]) -> Any:
    for segment in path:
        value = value[int(segment)] if isinstance(value, list) else value[segment]
    return value


# -- Avro -----------------------------------------------------------------------------------

AVRO = RegisteredSchema("AVRO", json.dumps(ORDER))


@pytest.mark.parametrize(
    ("path", "type_name", "stored"),
    [
        (("id",), "int64", 7),
        (("ts",), "datetime64(3, 'UTC')", "2024-05-06 07:08:09.123"),
        (("tsu",), "datetime64(6, 'UTC')", "2024-05-06 07:08:09.123456"),
        (("day",), "date32", "2024-02-29"),
        (("at",), "string", "23:59:58.999"),
        (("atu",), "string", "00:00:01.000005"),
        (("amount",), "decimal(20, 4)", "1234567890123456.0001"),
        (("fx",), "decimal(20, 2)", "-0.01"),
        (("uid",), "uuid", "00000000-0000-0000-0000-000000000007"),
        (("kind",), "string", "WHOLESALE"),
        (("customer",), "json", {"name": "Ada"}),
        (("customer", "name"), "string", "Ada"),
        (("tags",), "array(string)", ["a", "b"]),
        (("tags", "1"), "string", "b"),
        (("blob",), "string", base64.b64encode(b"\x00\xff").decode()),
        (("note",), "nullable(string)", None),
    ],
)
def test_avro_types_store_the_decoded_values_exactly(path: tuple[str, ...], type_name: str, stored: Any) -> None:
    assert schema_type("avro", AVRO, path) == type_name
    assert landed(type_name, value_at(decoded(AVRO, avro(1, ORDER, order())[5:]), path)) == stored


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (("nope",), "the record shop.Order has no field nope (it has id, ts, tsu,"),
        (("customer", "zip"), "the record shop.Customer has no field zip (it has name)"),
        (("tags", "first"), "value.tags is an array: first is no index"),
        (("id", "x"), "value.id is long, which has no x"),
    ],
)
def test_an_avro_path_the_schema_does_not_have_says_where(path: tuple[str, ...], reason: str) -> None:
    with pytest.raises(NoType, match=reason.replace("(", r"\(").replace(")", r"\)")):
        schema_type("avro", AVRO, path)


def avro_record(*fields: tuple[str, Any]) -> RegisteredSchema:
    record = {"type": "record", "name": "R", "namespace": "t", "fields": [{"name": n, "type": t} for n, t in fields]}
    return RegisteredSchema("AVRO", json.dumps(record))


def test_avro_constructs_without_a_faithful_type_are_refused_with_the_reason() -> None:
    schema = avro_record(
        ("either", ["null", "long", "string"]),
        ("lines", {"type": "array", "items": {"type": "record", "name": "Line", "fields": []}}),
        ("maybe_list", ["null", {"type": "array", "items": "long"}]),
        ("nothing", "null"),
        ("huge", {"type": "bytes", "logicalType": "decimal", "precision": 80, "scale": 2}),
    )
    reasons = {
        "either": "value.either is a union of long, string: no one Timeplus type holds them all",
        "lines": "value.lines is an array of records, which has no faithful Timeplus type",
        "maybe_list": "value.maybe_list may be null, and Timeplus has no nullable array(int64)",
        "nothing": "value.nothing is always null",
        "huge": "value.huge is decimal(80, 2): Timeplus holds 76 digits",
    }
    for name, reason in reasons.items():
        with pytest.raises(NoType) as refused:
            schema_type("avro", schema, (name,))
        assert refused.value.reason.startswith(reason), refused.value.reason
    # ... while an index into the array of records reaches a typed field.
    assert schema_type("avro", avro_record(("lines", {"type": "array", "items": ORDER})), ("lines", "0", "ts")) == (
        "datetime64(3, 'UTC')"
    )


def test_avro_logical_types_fastavro_does_not_read_are_their_underlying_type() -> None:
    schema = avro_record(
        ("nanos", {"type": "long", "logicalType": "timestamp-nanos"}),
        ("when", {"type": "int", "logicalType": "timestamp-millis"}),  # on the wrong base type: ignored
        ("uid", {"type": "fixed", "name": "U", "size": 16, "logicalType": "uuid"}),
    )
    record = {"nanos": 1_700_000_000_123_456_789, "when": 5, "uid": b"\x01" * 16}
    body = avro(1, json.loads(schema.text), record)[5:]
    for name in record:
        type_name = schema_type("avro", schema, (name,))
        assert type_name == {"nanos": "int64", "when": "int32", "uid": "string"}[name]
        landed(type_name, decoded(schema, body)[name])


def test_avro_named_types_of_references_resolve() -> None:
    amount = {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}
    money_record = {"type": "record", "name": "shop.Money", "fields": [{"name": "amount", "type": amount}]}
    money = RegisteredSchema("AVRO", json.dumps(money_record))
    total = {"type": "record", "name": "shop.Total", "fields": [{"name": "total", "type": "shop.Money"}]}
    schema = RegisteredSchema("AVRO", json.dumps(total), (("shop.Money", money),))
    assert schema_type("avro", schema, ("total", "amount")) == "decimal(12, 2)"
    assert schema_type("avro", schema, ("total",)) == "json"


@dataclass(frozen=True)
class Kind:
    """An Avro type, values of it, and how Timeplus stores each (given the Python value written)."""

    schema: Any
    values: st.SearchStrategy[Any]
    stored: Callable[[Any], Any]


@dataclass(frozen=True)
class TimeText:
    """Equal to the text of one time of day, with any number of sub-second digits."""

    time: time

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and time.fromisoformat(other) == self.time


def _same(v: Any) -> Any:
    return v


INSTANTS = st.datetimes(datetime(1900, 1, 1), datetime(2299, 12, 31), timezones=st.just(UTC))


#: datetime64(9) counts nanoseconds in 64 bits: it ends in 2262.
NANOSECOND_INSTANTS = st.datetimes(datetime(1900, 1, 1), datetime(2262, 4, 11), timezones=st.just(UTC))


def _millis(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


LEAVES = [
    Kind("boolean", st.booleans(), _same),
    Kind("int", st.integers(-(2**31), 2**31 - 1), _same),
    Kind("long", st.integers(-(2**63), 2**63 - 1), _same),
    Kind("float", st.floats(width=32, allow_nan=False, allow_infinity=False), _same),
    Kind("double", st.floats(allow_nan=False, allow_infinity=False), _same),
    Kind("string", st.text(), _same),
    Kind("bytes", st.binary(), lambda b: base64.b64encode(b).decode()),
    Kind({"type": "enum", "name": "E", "symbols": ["A", "B_2"]}, st.sampled_from(["A", "B_2"]), _same),
    Kind({"type": "fixed", "name": "F", "size": 3}, st.binary(min_size=3, max_size=3),
         lambda b: base64.b64encode(b).decode()),
    Kind({"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 5},
         st.decimals(places=5, min_value=-(10**25) + 1, max_value=10**25 - 1, allow_nan=False),
         lambda d: format(d, "f")),
    Kind({"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 0},
         st.decimals(places=0, min_value=-(10**18) + 1, max_value=10**18 - 1, allow_nan=False),
         lambda d: format(d, "f")),
    Kind({"type": "string", "logicalType": "uuid"}, st.uuids().map(str), _same),
    Kind({"type": "long", "logicalType": "timestamp-millis"}, INSTANTS.map(_millis),
         lambda dt: dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]),
    Kind({"type": "long", "logicalType": "timestamp-micros"}, INSTANTS,
         lambda dt: dt.strftime("%Y-%m-%d %H:%M:%S.%f")),
    Kind({"type": "long", "logicalType": "local-timestamp-micros"}, INSTANTS.map(lambda dt: dt.replace(tzinfo=None)),
         lambda dt: dt.strftime("%Y-%m-%d %H:%M:%S.%f")),
    Kind({"type": "int", "logicalType": "date"}, st.dates(date(1900, 1, 1), date(2299, 12, 31)),
         lambda d: d.isoformat()),
    Kind({"type": "long", "logicalType": "time-micros"}, st.times(), lambda t: TimeText(t)),
]  # fmt: skip


def _nullable(kind: Kind) -> Kind:
    return Kind(["null", kind.schema], st.none() | kind.values, lambda v: None if v is None else kind.stored(v))


def _array(kind: Kind) -> Kind:
    return Kind({"type": "array", "items": kind.schema}, st.lists(kind.values, max_size=3),
                lambda vs: [kind.stored(v) for v in vs])  # fmt: skip


def _map(kind: Kind) -> Kind:
    return Kind({"type": "map", "values": kind.schema}, st.dictionaries(st.text(max_size=3), kind.values, max_size=3),
                lambda vs: {k: kind.stored(v) for k, v in vs.items()})  # fmt: skip


SCALARS = st.sampled_from(LEAVES)
KINDS = st.one_of(SCALARS, SCALARS.map(_nullable), SCALARS.map(_nullable).map(_array), SCALARS.map(_map),
                  SCALARS.map(_array).map(_array))  # fmt: skip


def _named_once(schema: Any, seen: set[str]) -> Any:
    """``schema`` with each named type defined once (later uses name it), as Avro requires."""
    if isinstance(schema, list):
        return [_named_once(s, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "name" in schema:
        if schema["name"] in seen:
            return schema["name"]
        seen.add(schema["name"])
    return {k: _named_once(v, seen) if k in ("items", "values") else v for k, v in schema.items()}


@st.composite
def records(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[tuple[str, ...], Any]]:
    """A record schema (fields f0.., and a nested record n), a record of it, and the stored value per column path."""
    seen: set[str] = set()
    kinds = draw(st.lists(KINDS, min_size=1, max_size=5))
    nested_kinds = draw(st.lists(KINDS, min_size=1, max_size=3))
    values = [draw(k.values) for k in kinds]
    nested_values = [draw(k.values) for k in nested_kinds]
    fields = [{"name": f"f{i}", "type": _named_once(k.schema, seen)} for i, k in enumerate(kinds)]
    nested = {"type": "record", "name": "N", "fields": [
        {"name": f"g{i}", "type": _named_once(k.schema, seen)} for i, k in enumerate(nested_kinds)]}  # fmt: skip
    schema: dict[str, Any] = {"type": "record", "name": "R", "namespace": "gen"}
    schema["fields"] = [*fields, {"name": "n", "type": nested}]
    record = {f"f{i}": v for i, v in enumerate(values)} | {"n": {f"g{i}": v for i, v in enumerate(nested_values)}}
    stored: dict[tuple[str, ...], Any] = {
        (f"f{i}",): k.stored(v) for i, (k, v) in enumerate(zip(kinds, values, strict=True))
    }
    stored |= {("n", f"g{i}"): k.stored(v) for i, (k, v) in enumerate(zip(nested_kinds, nested_values, strict=True))}
    return schema, record, stored


@settings(max_examples=150, deadline=None)
@given(records())
def test_derived_avro_types_store_every_decoded_record_exactly(
    generated: tuple[dict[str, Any], dict[str, Any], dict[tuple[str, ...], Any]],
) -> None:
    schema, record, stored = generated
    registered = RegisteredSchema("AVRO", json.dumps(schema))
    value = decoded(registered, avro(1, schema, record)[5:])
    for path, expected in stored.items():
        type_name = schema_type("avro", registered, path)
        assert landed(type_name, value_at(value, path)) == expected, (path, type_name)


# -- Protobuf -------------------------------------------------------------------------------

_F = descriptor_pb2.FieldDescriptorProto


def proto_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="kinds.proto", package="kinds", syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto",
                    "google/protobuf/struct.proto"],
    )  # fmt: skip
    event = file.message_type.add(name="Event")
    scalars = [
        ("d", _F.TYPE_DOUBLE), ("f", _F.TYPE_FLOAT), ("i64", _F.TYPE_INT64), ("s64", _F.TYPE_SINT64),
        ("u64", _F.TYPE_UINT64), ("x64", _F.TYPE_FIXED64), ("i32", _F.TYPE_INT32), ("u32", _F.TYPE_UINT32),
        ("ok", _F.TYPE_BOOL), ("s", _F.TYPE_STRING), ("b", _F.TYPE_BYTES),
    ]  # fmt: skip
    for number, (name, kind) in enumerate(scalars, 1):
        event.field.add(name=name, number=number, type=kind, label=_F.LABEL_OPTIONAL)
    color = event.enum_type.add(name="Color")
    color.value.add(name="RED", number=0)
    color.value.add(name="BLUE", number=1)
    messages = [
        ("color", _F.TYPE_ENUM, ".kinds.Event.Color"), ("at", _F.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
        ("qty", _F.TYPE_MESSAGE, ".google.protobuf.Int64Value"),
        ("label", _F.TYPE_MESSAGE, ".google.protobuf.StringValue"),
        ("meta", _F.TYPE_MESSAGE, ".google.protobuf.Struct"), ("anything", _F.TYPE_MESSAGE, ".google.protobuf.Value"),
        ("customer", _F.TYPE_MESSAGE, ".kinds.Customer"),
    ]  # fmt: skip
    for number, (name, kind, type_name) in enumerate(messages, 20):
        event.field.add(name=name, number=number, type=kind, type_name=type_name, label=_F.LABEL_OPTIONAL)
    event.field.add(name="ids", number=40, type=_F.TYPE_INT64, label=_F.LABEL_REPEATED)
    event.field.add(name="lines", number=41, type=_F.TYPE_MESSAGE, type_name=".kinds.Customer", label=_F.LABEL_REPEATED)
    for number, (name, key_kind, entry) in enumerate([("counts", _F.TYPE_STRING, "CountsEntry"),
                                                       ("names", _F.TYPE_INT32, "NamesEntry"),
                                                       ("flags", _F.TYPE_BOOL, "FlagsEntry")], 42):  # fmt: skip
        nested = event.nested_type.add(name=entry)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, type=key_kind, label=_F.LABEL_OPTIONAL)
        value_kind = _F.TYPE_INT64 if name == "counts" else _F.TYPE_STRING
        nested.field.add(name="value", number=2, type=value_kind, label=_F.LABEL_OPTIONAL)
        event.field.add(name=name, number=number, type=_F.TYPE_MESSAGE, type_name=f".kinds.Event.{entry}",
                        label=_F.LABEL_REPEATED)  # fmt: skip
    customer = file.message_type.add(name="Customer")
    customer.field.add(name="name", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    customer.field.add(name="since", number=2, type=_F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp",
                       label=_F.LABEL_OPTIONAL)  # fmt: skip
    return file


def event_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    for module in (timestamp_pb2, wrappers_pb2, struct_pb2):
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    pool.Add(proto_file())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("kinds.Event"))


EVENT_CLASS = event_class()


def proto_event() -> bytes:
    event: Any = EVENT_CLASS()
    event.d, event.f, event.i64, event.s64 = 0.1, 0.25, -(2**63), -5
    event.u64, event.x64, event.i32, event.u32 = 2**64 - 1, 7, -(2**31), 2**32 - 1
    event.ok, event.s, event.b, event.color = True, "ü", b"\x00\xff", 1
    event.at.FromDatetime(datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    event.at.nanos += 789
    event.qty.value, event.label.value = 2**62, "x"
    event.meta.update({"a": 1})
    event.customer.name = "Ada"
    event.customer.since.FromDatetime(datetime(2020, 1, 1, tzinfo=UTC))
    event.ids.extend([1, 2**63 - 1])
    event.lines.add(name="first")
    event.counts["k"] = 3
    event.names[-4] = "minus four"
    event.flags[True] = "yes"
    body: bytes = event.SerializeToString()
    return b"\x00" + body  # the message index: the file's first message


PROTOBUF = RegisteredSchema("PROTOBUF", base64.b64encode(proto_file().SerializeToString()).decode())


@pytest.mark.parametrize(
    ("path", "type_name", "stored"),
    [
        (("d",), "float64", 0.1), (("f",), "float32", 0.25), (("i64",), "int64", -(2**63)), (("s64",), "int64", -5),
        (("u64",), "uint64", 2**64 - 1), (("x64",), "uint64", 7), (("i32",), "int32", -(2**31)),
        (("u32",), "uint32", 2**32 - 1), (("ok",), "bool", True), (("s",), "string", "ü"),
        (("b",), "string", "AP8="), (("color",), "string", "BLUE"),
        (("at",), "datetime64(9, 'UTC')", "2024-05-06 07:08:09.123456789"),
        (("qty",), "int64", 2**62), (("label",), "string", "x"), (("meta",), "json", {"a": 1}),
        (("customer", "name"), "string", "Ada"),
        (("customer", "since"), "datetime64(9, 'UTC')", "2020-01-01 00:00:00.000000000"),
        (("customer",), "json", {"name": "Ada", "since": "2020-01-01T00:00:00Z"}),
        (("ids",), "array(int64)", [1, 2**63 - 1]), (("ids", "1"), "int64", 2**63 - 1),
        (("lines", "0", "name"), "string", "first"),
        (("counts",), "map(string, int64)", {"k": 3}), (("counts", "k"), "int64", 3),
        (("names",), "map(int32, string)", {-4: "minus four"}), (("flags",), "map(string, string)", {"true": "yes"}),
        ((), "json", None),
    ],
)  # fmt: skip
def test_protobuf_types_store_the_decoded_values_exactly(path: tuple[str, ...], type_name: str, stored: Any) -> None:
    assert schema_type("protobuf", PROTOBUF, path) == type_name
    value = value_at(decoded(PROTOBUF, proto_event()), path)
    assert landed(type_name, value) == (value if stored is None else stored)


PROTOBUF_SCALARS = {
    "d": st.floats(), "f": st.floats(width=32), "i64": st.integers(-(2**63), 2**63 - 1),
    "s64": st.integers(-(2**63), 2**63 - 1), "u64": st.integers(0, 2**64 - 1), "x64": st.integers(0, 2**64 - 1),
    "i32": st.integers(-(2**31), 2**31 - 1), "u32": st.integers(0, 2**32 - 1), "ok": st.booleans(), "s": st.text(),
    "b": st.binary(),
}  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries(PROTOBUF_SCALARS), st.datetimes(datetime(1900, 1, 1), datetime(2262, 4, 11)))
def test_derived_protobuf_scalar_types_store_every_value_exactly(values: dict[str, Any], at: datetime) -> None:
    event = EVENT_CLASS(**values)
    event.at.FromDatetime(at)
    body: bytes = event.SerializeToString()
    message = decoded(PROTOBUF, b"\x00" + body)
    for name, value in values.items():
        stored = landed(schema_type("protobuf", PROTOBUF, (name,)), message[name])
        if name == "b":
            assert base64.b64decode(stored) == value
        elif isinstance(value, float) and value != value:
            assert stored != stored  # NaN
        else:
            assert stored == value, name
    assert landed(schema_type("protobuf", PROTOBUF, ("at",)), message["at"]) == at.strftime("%Y-%m-%d %H:%M:%S.%f000")


@given(st.integers(-(2**31), 2**31 - 1))
def test_a_protobuf_enum_number_the_schema_does_not_name_lands_as_its_number(number: int) -> None:
    message = decoded(PROTOBUF, b"\x00" + EVENT_CLASS(color=number).SerializeToString())
    stored = landed(schema_type("protobuf", PROTOBUF, ("color",)), message["color"])
    assert stored == {0: "RED", 1: "BLUE"}.get(number, str(number))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (("anything",), "value.anything is a google.protobuf.Value, which may hold any JSON value"),
        (("lines",), "value.lines holds messages, and a collection of them has no faithful Timeplus type"),
        (("lines", "first"), "value.lines is a repeated field: first is no index"),
        (("at", "seconds"), "value.at is a google.protobuf.Timestamp, written as one value: it has no fields"),
        (("customer", "zip"), "the message Customer has no field zip (it has name, since)"),
        (("s", "x"), "value.s is a scalar, which has no fields"),
    ],
)
def test_a_protobuf_path_without_a_faithful_type_says_why(path: tuple[str, ...], reason: str) -> None:
    with pytest.raises(NoType) as refused:
        schema_type("protobuf", PROTOBUF, path)
    assert refused.value.reason == reason


def test_a_protobuf_schema_held_as_proto_text_is_refused_with_the_reason() -> None:
    text = 'syntax = "proto3";\nmessage Event { string s = 1; }\n'
    with pytest.raises(NoType, match=r"the registry holds the schema as \.proto text, which the connector cannot read"):
        schema_type("protobuf", RegisteredSchema("PROTOBUF", text), ("s",))


def test_protobuf_messages_of_referenced_files_resolve() -> None:
    common = descriptor_pb2.FileDescriptorProto(name="common.proto", package="common", syntax="proto3")
    money = common.message_type.add(name="Money")
    money.field.add(name="cents", number=1, type=_F.TYPE_SINT64, label=_F.LABEL_OPTIONAL)
    main = descriptor_pb2.FileDescriptorProto(name="order.proto", package="shop", syntax="proto3",
                                              dependency=["common.proto"])  # fmt: skip
    main.message_type.add(name="Order").field.add(
        name="total", number=1, type=_F.TYPE_MESSAGE, type_name=".common.Money", label=_F.LABEL_OPTIONAL
    )
    encoded = [base64.b64encode(f.SerializeToString()).decode() for f in (common, main)]
    schema = RegisteredSchema("PROTOBUF", encoded[1], (("common.proto", RegisteredSchema("PROTOBUF", encoded[0])),))
    assert schema_type("protobuf", schema, ("total", "cents")) == "int64"
    with pytest.raises(NoType, match=r"the schema names common\.Money, which neither it nor its references define"):
        schema_type("protobuf", RegisteredSchema("PROTOBUF", encoded[1]), ("total", "cents"))


# -- JSON Schema ------------------------------------------------------------------------------

CUSTOMER = {
    "type": "object",
    "properties": {"name": {"$ref": "#/definitions/Name"}, "since": {"type": "string", "format": "date"}},
    "definitions": {"Name": {"type": "string"}},
}
EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "price": {"type": "number"},
        "ok": {"type": "boolean"},
        "at": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "uid": {"type": "string", "format": "uuid"},
        "ip": {"type": "string", "format": "ipv4"},
        "ip6": {"type": "string", "format": "ipv6"},
        "note": {"type": ["string", "null"]},
        "size": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Size"}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "customer": {"$ref": "customer.json"},
        "extra": {"type": "object", "properties": {"deep": {"type": "integer"}}},
        "anything": {},
        "mixed": {"type": ["string", "integer"]},
        "records": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["id"],
    "$defs": {"Size": {"type": "integer", "minimum": 0}},
}
CUSTOMER_REFERENCE = ("customer.json", RegisteredSchema("JSON", json.dumps(CUSTOMER)))
JSON_SCHEMA = RegisteredSchema("JSON", json.dumps(EVENT), (CUSTOMER_REFERENCE,))
JSON_EVENT = {
    "id": 2**63 - 1, "price": 0.1, "ok": False, "at": "2024-05-06T07:08:09.123456789+02:00", "day": "2024-02-29",
    "uid": str(UUID(int=5)), "ip": "10.0.0.1", "ip6": "::1", "note": None, "size": None, "tags": ["a"],
    "counts": {"x": 1}, "customer": {"name": "Ada", "since": "2020-01-31"}, "extra": {"deep": 3},
    "anything": [1], "mixed": 1, "records": [{}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "type_name", "stored"),
    [
        (("id",), "int64", 2**63 - 1), (("price",), "float64", 0.1), (("ok",), "bool", False),
        (("at",), "datetime64(9, 'UTC')", "2024-05-06 05:08:09.123456789"), (("day",), "date32", "2024-02-29"),
        (("uid",), "uuid", str(UUID(int=5))), (("ip",), "ipv4", "10.0.0.1"), (("ip6",), "ipv6", "::1"),
        (("note",), "nullable(string)", None), (("size",), "nullable(int64)", None),
        (("tags",), "array(string)", ["a"]), (("counts",), "map(string, int64)", {"x": 1}),
        (("customer", "name"), "string", "Ada"), (("customer", "since"), "date32", "2020-01-31"),
        (("extra",), "json", {"deep": 3}), (("extra", "deep"), "int64", 3), (("tags", "0"), "string", "a"),
    ],
)  # fmt: skip
def test_json_schema_types_store_the_decoded_values_exactly(path: tuple[str, ...], type_name: str, stored: Any) -> None:
    assert schema_type("json_schema", JSON_SCHEMA, path) == type_name
    assert landed(type_name, value_at(decoded(JSON_SCHEMA, orjson.dumps(JSON_EVENT)), path)) == stored


JSON_LEAVES = [
    Kind({"type": "integer"}, st.integers(-(2**63), 2**63 - 1), _same),
    # 2.0 is an integer to JSON Schema: sent as 2, which an int64 column reads (literals a float holds).
    Kind({"type": "integer"}, st.integers(-(10**15) + 1, 10**15 - 1).map(float), int),
    Kind({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False), _same),
    Kind({"type": "boolean"}, st.booleans(), _same),
    Kind({"type": "string"}, st.text(), _same),
    Kind({"type": "string", "format": "date-time"}, NANOSECOND_INSTANTS.map(lambda dt: dt.isoformat()),
         lambda text: datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S.%f000")),
    Kind({"type": "string", "format": "date"}, st.dates(date(1900, 1, 1), date(2299, 12, 31)).map(date.isoformat),
         _same),
    Kind({"type": "string", "format": "uuid"}, st.uuids().map(str), _same),
    Kind({"type": "string", "format": "ipv4"}, st.ip_addresses(v=4).map(str), _same),
    Kind({"enum": ["a", "b"]}, st.sampled_from(["a", "b"]), _same),
]  # fmt: skip
JSON_SCALARS = st.sampled_from(JSON_LEAVES)
JSON_KINDS = st.one_of(
    JSON_SCALARS,
    JSON_SCALARS.map(lambda k: Kind({"anyOf": [k.schema, {"type": "null"}]}, st.none() | k.values,
                                    lambda v: None if v is None else k.stored(v))),
    JSON_SCALARS.map(lambda k: Kind({"type": "array", "items": k.schema}, st.lists(k.values, max_size=3),
                                    lambda vs: [k.stored(v) for v in vs])),
    JSON_SCALARS.map(lambda k: Kind({"type": "object", "additionalProperties": k.schema},
                                    st.dictionaries(st.text(max_size=3), k.values, max_size=3),
                                    lambda vs: {key: k.stored(v) for key, v in vs.items()})),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(JSON_KINDS, min_size=1, max_size=6).flatmap(
    lambda kinds: st.tuples(st.just(kinds), st.tuples(*(k.values for k in kinds)))))  # fmt: skip
def test_derived_json_schema_types_store_every_valid_document_exactly(
    generated: tuple[list[Kind], tuple[Any, ...]],
) -> None:
    kinds, values = generated
    properties = {f"p{i}": k.schema for i, k in enumerate(kinds)}
    schema = RegisteredSchema("JSON", json.dumps({"type": "object", "properties": {"inner": {
        "type": "object", "properties": properties}}, "$defs": {"unused": {}}}))  # fmt: skip
    document = decoded(schema, orjson.dumps({"inner": {f"p{i}": v for i, v in enumerate(values)}}))
    for i, (kind, value) in enumerate(zip(kinds, values, strict=True)):
        path = ("inner", f"p{i}")
        assert landed(schema_type("json_schema", schema, path), value_at(document, path)) == kind.stored(value)


@pytest.mark.parametrize("text", ["2024-01-02t03:04:05Z", "2024-01-02T03:04:05z"])
def test_date_time_text_timeplus_does_not_read_is_refused_there_and_read_by_a_typed_column(text: str) -> None:
    schema = RegisteredSchema(
        "JSON", json.dumps({"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}})
    )
    at = decoded(schema, orjson.dumps({"at": text}))["at"]
    type_name = schema_type("json_schema", schema, ("at",))
    with pytest.raises(ValueRejected):  # untyped: Timeplus refuses the row, which is dead-lettered with the reason
        landed(type_name, at)
    assert landed(type_name, column_type(type_name).convert(at)) == "2024-01-02 03:04:05.000000000"


@pytest.mark.parametrize(
    ("literal", "sent"),
    [(b"2.0", 2), (b"-3e2", -300), (b"9007199254740993.0", 9007199254740993), (b"1.0e19", 10**19),
     (b"2.00000000000000001", Decimal("2.00000000000000001")), (b"1e-400", Decimal("1e-400"))],
)  # fmt: skip
def test_a_json_schema_number_is_an_integer_exactly_when_its_literal_is(literal: bytes, sent: Any) -> None:
    schema = RegisteredSchema("JSON", json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}}))
    document = decoded(schema, b'{"n": ' + literal + b"}")
    assert document == {"n": sent} and type(document["n"]) is type(sent)
    if isinstance(sent, int) and sent < 2**63:
        assert landed("int64", document["n"]) == sent
    else:  # out of range, or not an integer (fastjsonschema reads the float the literal rounds to)
        with pytest.raises(ValueRejected):  # Timeplus refuses it: the row is dead-lettered with the reason
            landed("int64", document["n"])


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (("anything",), "value.anything may be any JSON value"),
        (("mixed",), "value.mixed may be one of 2 kinds of value: no one Timeplus type holds them all"),
        (("records",), "value.records holds objects, and a collection of them has no faithful Timeplus type"),
        (("missing",), "value declares no property missing (it has id, price,"),
        (("customer", "zip"), "value.customer declares no property zip (it has name, since)"),
        (("tags", "first"), "value.tags is an array: first is no index"),
        (("id", "x"), "value.id is integer, which has no x"),
    ],
)
def test_a_json_schema_path_without_a_faithful_type_says_why(path: tuple[str, ...], reason: str) -> None:
    with pytest.raises(NoType) as refused:
        schema_type("json_schema", JSON_SCHEMA, path)
    assert refused.value.reason.startswith(reason), refused.value.reason


def test_a_json_schema_ref_to_a_missing_reference_is_refused() -> None:
    alone = RegisteredSchema("JSON", JSON_SCHEMA.text)
    with pytest.raises(NoType, match=r"\$ref customer.json names no reference of the schema \(its references: none\)"):
        schema_type("json_schema", alone, ("customer", "name"))
    looping = RegisteredSchema("JSON", json.dumps({"$ref": "#/a", "a": {"$ref": "#"}}))
    with pytest.raises(NoType, match=r"\$ref leads on more than 64 times"):
        schema_type("json_schema", looping, ())


# -- Mappings and subjects --------------------------------------------------------------------


class Subjects:
    """A registry's subjects in memory: subject → its latest version."""

    def __init__(self, latest: dict[str, RegisteredSchema]) -> None:
        self.versions = {s: SubjectVersion(s, 3, 10 + i, schema) for i, (s, schema) in enumerate(latest.items())}
        self.asked: list[str] = []

    def subjects(self) -> list[str]:
        return [*self.versions, "unrelated"]

    def latest(self, subject: str) -> SubjectVersion | None:
        self.asked.append(subject)
        if subject == "broken-value":
            raise DataError("the schema registry has no subject money version 1 (40402: Version not found)")
        return self.versions.get(subject)


def mappings(text: str) -> Any:
    head = "kafka: {bootstrap.servers: 'k:9092', group.id: g}\ntimeplus: {url: 'http://tp:3218'}\n"
    return parse_config(head + "schema_registry: {url: 'http://sr:8081'}\nmappings:\n" + text, env={}).mappings


def test_derive_types_untyped_columns_and_names_each_column_it_cannot() -> None:
    config = mappings("""
  - topic: orders
    stream: orders
    format: avro
    columns:
      id: value.id
      ts: value.ts
      note: value.note
      day: {from: value.day, default: null}
      kind: {from: value.kind, default: 'RETAIL'}
      qty: {from: value.id, type: int32}
      k: key
      zip: value.customer.zip
      bad_default: {from: value.id, default: none}
  - topic_pattern: '^clicks-.*'
    stream: clicks
    format: json_schema
    columns:
      uid: value.uid
  - topic: nowhere
    stream: other
    format: protobuf
    columns:
      s: value.s
""")
    registry = Subjects({"orders-value": AVRO, "clicks-a-value": JSON_SCHEMA, "clicks-b-value": JSON_SCHEMA})
    derived = derive(config, registry)
    assert derived.types == (
        {"id": "int64", "ts": "datetime64(3, 'UTC')", "note": "nullable(string)", "day": "nullable(date32)",
         "kind": "string"},
        {"uid": "uuid"},
        {},
    )  # fmt: skip
    assert [where for where, _ in derived.problems] == [
        "mappings[0].columns.zip (value.customer.zip, stream orders)",
        "mappings[0].columns.bad_default (value.id, stream orders)",
        "mappings[2] (stream other)",
    ]
    reasons = [why for _, why in derived.problems]
    assert reasons[0] == (
        "subject orders-value version 3 (schema id 10): the record shop.Customer has no field zip (it has name); "
        "give the column a type"
    )
    assert reasons[1].startswith("subject orders-value version 3 (schema id 10): its default does not fit int64:")
    assert reasons[2] == "subject nowhere-value has no registered schema"
    assert [v.subject for v in derived.sources] == ["orders-value", "clicks-a-value", "clicks-b-value"]
    assert registry.asked == ["orders-value", "clicks-a-value", "clicks-b-value", "nowhere-value"]
    # The derived types make the CREATE STREAM statement; explicit types and sources keep theirs.
    (orders, *_) = implied_streams(config, derived.types)
    assert orders.columns[:8] == (
        ("id", "int64"), ("ts", "datetime64(3, 'UTC')"), ("note", "nullable(string)"), ("day", "nullable(date32)"),
        ("kind", "string"), ("qty", "int32"), ("k", "string"), ("zip", None),
    )  # fmt: skip


def test_subjects_that_disagree_or_cannot_be_read_are_problems() -> None:
    config = mappings("""
  - topics: [a, b, broken]
    stream: s
    format: avro
    columns:
      x: value.x
""")
    long_x, string_x = avro_record(("x", "long")), avro_record(("x", "string"))
    derived = derive(config, Subjects({"a-value": long_x, "b-value": string_x}))
    assert derived.types == ({},)
    assert derived.problems == (
        ("mappings[0] (stream s)",
         "subject broken-value: the schema registry has no subject money version 1 (40402: Version not found)"),
        ("mappings[0].columns.x (value.x, stream s)",
         "the subjects disagree (a-value v3: int64, b-value v3: string); give the column a type"),
    )  # fmt: skip
    other_kind = derive(config[:1], Subjects({"a-value": JSON_SCHEMA, "b-value": long_x}))
    assert ("mappings[0] (stream s)", "subject a-value version 3 (schema id 10) is JSON, not avro") in (
        other_kind.problems
    )


def test_nothing_is_asked_of_the_registry_when_every_column_is_typed() -> None:
    config = mappings(
        "  - topic: t\n    stream: s\n    format: avro\n    columns:\n      x: {from: value.x, type: int8}"
    )
    registry = Subjects({})
    assert derive(config, registry) == Derived(({},))
    assert registry.asked == []


def test_check_compares_streams_with_the_types_the_schemas_give() -> None:
    config = parse_config(
        "kafka: {bootstrap.servers: 'k:9092', group.id: g}\ntimeplus: {url: 'http://tp:3218'}\n"
        "schema_registry: {url: 'http://sr:8081'}\nmappings:\n"
        "  - topic: orders\n    stream: orders\n    format: avro\n"
        "    columns: {id: value.id, ts: value.ts, zip: value.customer.zip}\n",
        env={},
    )
    orders = schema("orders", id="int32", ts="datetime64(3, 'UTC')", zip="string")
    found = by_subject(preflight.check(config, Topics({"orders": 1}), Streams({"orders": orders}),
                                       registry=Subjects({"orders-value": AVRO})))  # fmt: skip
    assert found["schema orders-value"] == (Level.OK, "latest: version 3")
    assert found["column orders.id"] == (
        Level.PROBLEM,
        "stream has int32, the mapping sends int64 (by the registry schema): some values would not fit",
    )
    assert found["column orders.ts"] == (Level.OK, "datetime64(3, 'UTC')")
    assert found["column orders.zip"] == (Level.OK, "string; untyped: values go as they come")
    level, detail = found["schema mappings[0].columns.zip (value.customer.zip, stream orders)"]
    assert level is Level.WARNING and "has no field zip" in detail
    unreachable = preflight.check(config, Topics({"orders": 1}), Streams({"orders": orders}),
                                  registry=Unreachable())  # fmt: skip
    assert by_subject(unreachable)["schema registry http://sr:8081"] == (
        Level.PROBLEM,
        "unreachable: cannot reach http://sr:8081 for subject orders-value: ConnectionError",
    )


class Unreachable:
    def subjects(self) -> list[str]:
        raise RetriableError("cannot reach http://sr:8081 for the subject list: ConnectionError")

    def latest(self, subject: str) -> SubjectVersion | None:
        raise RetriableError(f"cannot reach http://sr:8081 for subject {subject}: ConnectionError")


def test_a_protobuf_mapping_reads_the_first_message_of_the_file_that_has_its_paths() -> None:
    # The file defines Event, then Customer: a topic of Customers names index [1] in each value.
    customers = mappings(
        "  - topic: c\n    stream: c\n    format: protobuf\n    columns: {n: value.name, t: value.since}"
    )
    assert derive(customers, Subjects({"c-value": PROTOBUF})).types == ({"n": "string", "t": "datetime64(9, 'UTC')"},)
    events = mappings("  - topic: e\n    stream: e\n    format: protobuf\n    columns: {s: value.s, z: value.zip}")
    derived = derive(events, Subjects({"e-value": PROTOBUF}))
    assert derived.types == ({"s": "string"},)  # no message has both: the first one's fields, and a problem
    assert "the message Event has no field zip" in derived.problems[0][1]


def test_json_schema_all_of_a_single_part_is_that_part_and_loops_are_refused() -> None:
    one = RegisteredSchema("JSON", json.dumps({"properties": {"n": {"allOf": [{"$ref": "#/$defs/N"}]}},
                                               "$defs": {"N": {"type": "integer"}}}))  # fmt: skip
    assert schema_type("json_schema", one, ("n",)) == "int64"
    looping = RegisteredSchema("JSON", json.dumps({"allOf": [{"$ref": "#"}]}))
    with pytest.raises(NoType, match="value: allOf leads on more than 64 times"):
        schema_type("json_schema", looping, ())
    two = RegisteredSchema("JSON", json.dumps({"allOf": [{"type": "object"}, {"required": ["a"]}]}))
    with pytest.raises(NoType, match=r"value combines 2 schemas \(allOf\)"):
        schema_type("json_schema", two, ())


SCHEMA_KEYS = ["type", "properties", "items", "additionalProperties", "$ref", "oneOf", "anyOf", "allOf", "format",
               "enum", "fields", "name", "symbols", "values", "logicalType", "precision", "scale", "size", "a",
               "x"]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["string", "integer", "null", "object", "array",
    "record", "long", "#", "#/a", "x.json", "decimal", "date-time", "items", "fields", "type", "properties"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(SCHEMA_KEYS), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["avro", "json_schema"]),
    JSON_VALUES,
    st.lists(st.sampled_from(["a", "x", "0", "1", "items"]), max_size=3),
)
def test_any_schema_text_gives_a_type_timeplus_knows_or_a_reason(fmt: str, schema: Any, path: list[str]) -> None:
    registered = RegisteredSchema(SCHEMA_KINDS[fmt], json.dumps(schema), (("x.json", RegisteredSchema("JSON", "{}")),))
    try:
        type_name = schema_type(fmt, registered, path)
    except NoType as exc:
        assert exc.reason
    else:
        emulator_type(type_name)  # a type Timeplus (the emulator) knows


SCHEMA_KINDS = {"avro": "AVRO", "json_schema": "JSON"}
