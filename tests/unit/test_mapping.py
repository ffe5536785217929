"""Decoding message values and building rows from mappings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from connector.config import ColumnConfig, MappingConfig, SourceKind, parse_config
from connector.errors import ConfigError, DataError
from connector.mapping import Mapper, decode_value
from connector.records import TIMESTAMP_NOT_AVAILABLE, Headers, Record
from connector.types import column_type


def mapper(columns: str, fmt: str = "json") -> Mapper:
    """A Mapper for stream ``s`` from the YAML of a ``columns:`` block."""
    indented = "\n".join("      " + line for line in columns.strip().splitlines())
    text = f"""
kafka: {{bootstrap.servers: localhost:9092}}
timeplus: {{url: http://localhost:3218}}
mappings:
  - topic: t
    stream: s
    format: {fmt}
    columns:
{indented}
"""
    return Mapper(parse_config(text, env={}).mappings[0])


def message(
    value: Any = None,
    *,
    raw: bytes | None = None,
    key: bytes | None = None,
    headers: Headers | None = None,
    timestamp_ms: int | None = 1_700_000_000_123,
) -> Record:
    body = raw if raw is not None else orjson.dumps(value)
    return Record("t", 2, 41, body, key, headers, timestamp_ms)


def row(m: Mapper, msg: Record) -> list[Any]:
    """Decode ``msg`` and build its row as the pipeline does (``build_value``).

    The general path (decode, then ``build``) must give the same row, or the same error:
    a mapping with a ``Shape`` decodes its fields another way, and every test that builds
    rows through here holds the two to one outcome.
    """
    fused = _outcome(lambda: m.build_value(msg, msg.value()))
    general = _outcome(lambda: m.build(msg, decode_value(msg.value(), m.format)))
    assert _same(fused, general), (msg.value(), fused, general)
    if isinstance(fused, DataError):
        raise fused
    return fused


def _outcome(build: Callable[[], list[Any]]) -> list[Any] | DataError:
    try:
        return build()
    except DataError as exc:
        return exc


def _same(one: list[Any] | DataError, other: list[Any] | DataError) -> bool:
    """The same row (each value of the same type), or errors that say the same of the same place."""
    if isinstance(one, DataError) or isinstance(other, DataError):
        return type(one) is type(other) and str(one) == str(other)
    return repr(one) == repr(other)


def data_error(m: Mapper, msg: Record) -> DataError:
    with pytest.raises(DataError) as caught:
        row(m, msg)
    return caught.value


def config_problems(columns: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        mapper(columns)
    return caught.value.problems


# ---------------------------------------------------------------------------
# decode_value


def test_decode_json() -> None:
    assert decode_value(b'{"a": [1, 2.5, null]}', "json") == {"a": [1, 2.5, None]}
    assert decode_value(b"42", "json") == 42


@pytest.mark.parametrize(
    ("value", "fmt", "message"),
    [
        (None, "json", "tombstone (null value)"),
        (None, "string", "tombstone (null value)"),
        (None, "bytes", "tombstone (null value)"),
        (b"", "json", "empty value"),
        (b"ab\xfe", "string", "value is not valid UTF-8 (byte 0xfe at position 2: invalid start byte)"),
    ],
)
def test_decode_errors(value: bytes | None, fmt: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        decode_value(value, fmt)
    assert caught.value.reason == message


@pytest.mark.parametrize("value", [b"not json", b'{"a": 1', b'{"a": "\xff"}', b"[1, 2] x"])
def test_bad_json_reason_carries_the_parser_message(value: bytes) -> None:
    with pytest.raises(DataError) as caught:
        decode_value(value, "json")
    prefix = "value is not valid JSON: "
    assert caught.value.reason.startswith(prefix)
    assert len(caught.value.reason) > len(prefix)


def test_decode_string_and_bytes() -> None:
    assert decode_value("café".encode(), "string") == "café"
    assert decode_value(b"", "string") == ""
    assert decode_value(b"\x00\xff", "bytes") == b"\x00\xff"
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        decode_value(b"<a/>", "xml")


# ---------------------------------------------------------------------------
# Sources


def test_value_paths_and_column_order() -> None:
    m = mapper(
        """
name: {from: value.customer.name, type: string}
id: {from: value.id, type: int64}
whole: value
first_tag: value.tags.0
second_item_price: {from: value.items.1.price, type: float64}
digit_key: value.by_id.7
"""
    )
    assert m.stream == "s"
    assert m.columns == ("name", "id", "whole", "first_tag", "second_item_price", "digit_key")
    assert m.format == "json"
    value = {
        "id": "17",
        "customer": {"name": "Ada"},
        "tags": ["x", "y"],
        "items": [{"price": 1}, {"price": "2.5"}],
        "by_id": {"7": "seven"},
    }
    assert row(m, message(value)) == ["Ada", 17, value, "x", 2.5, "seven"]


def test_message_sources() -> None:
    m = mapper(
        """
k: key
region: headers.region
topic: topic
partition: partition
offset: offset
ts: timestamp
ts_text: {from: timestamp, type: datetime64(3)}
key_number: {from: key, type: int64}
"""
    )
    msg = message({}, key=b"123", headers=[("region", b"eu"), ("other", b"x"), ("region", b"us")])
    assert row(m, msg) == ["123", "us", "t", 2, 41, 1_700_000_000_123, "2023-11-14 22:13:20.123Z", 123]


def test_a_hand_built_mapping_takes_a_column_type() -> None:
    col = ColumnConfig("ts", SourceKind.TIMESTAMP, type=column_type("datetime64(3)", unit="ms"))
    m = Mapper(MappingConfig("s", (col,), topics=("t",)))
    assert row(m, message({})) == ["2023-11-14 22:13:20.123Z"]


def test_constants_are_converted_once() -> None:
    m = mapper(
        """
env: {value: prod}
version: {value: "7", type: int32}
since: {value: 2024-01-02, type: date}
nothing: {value: null, type: nullable(string)}
"""
    )
    assert row(m, message({})) == ["prod", 7, "2024-01-02", None]


def test_bad_constant_is_a_config_error_naming_the_column() -> None:
    assert config_problems("version: {value: seven, type: int32}") == [
        "mappings[0].columns.version.value: 'seven' is not a valid int32"
    ]


def test_bytes_format() -> None:
    m = mapper(
        """
raw: value
text: {from: value, type: string}
n: {from: value, type: int64}
""",
        fmt="bytes",
    )
    assert row(m, message(raw=b"42")) == ["42", "42", 42]
    error = data_error(m, message(raw=b"4\xff"))
    assert error.column == "raw"
    assert error.reason == "not valid UTF-8 (byte 0xff at position 1: invalid start byte)"


def test_string_format() -> None:
    m = mapper("line: value\nsize: {from: value, type: fixed_string(3)}", fmt="string")
    assert row(m, message(raw=b"abc")) == ["abc", "abc"]
    assert data_error(m, message(raw=b"abcd")).reason == "'abcd' is too long for fixed_string(3): 4 bytes"


# ---------------------------------------------------------------------------
# Absence, null and defaults


def test_absent_values() -> None:
    m = mapper(
        """
with_default: {from: value.missing, type: int32, default: 5}
nullable: {from: value.missing, type: nullable(int32)}
nullable_default: {from: value.missing, type: nullable(int32), default: 9}
untyped_default: {from: value.missing, default: none}
header_default: {from: headers.absent, default: eu}
key_nullable: {from: key, type: nullable(string)}
"""
    )
    assert row(m, message({})) == [5, None, 9, "none", "eu", None]


@pytest.mark.parametrize(
    ("columns", "msg", "reason"),
    [
        (
            "name: {from: value.customer.name, type: string}",
            message({"customer": {}}),
            "missing field value.customer.name",
        ),
        ("name: value.customer.name", message({"customer": "Ada"}), "missing field value.customer.name"),
        (
            "name: value.customer.name",
            message(["not", "an", "object"]),
            "value is a JSON array, but the mapping reads fields of a JSON object",
        ),
        ("name: value.n", message(42), "value is a JSON int, but the mapping reads fields of a JSON object"),
        ("tag: value.tags.2", message({"tags": ["a", "b"]}), "missing field value.tags.2"),
        ("tag: value.tags.0", message({"tags": "abc"}), "missing field value.tags.0"),
        ("k: key", message({}), "missing key"),
        ("r: {from: headers.region, type: string}", message({}, headers=[("x", b"1")]), "missing header region"),
        ("ts: timestamp", message({}, timestamp_ms=None), "missing timestamp"),
    ],
)
def test_absent_without_default_is_a_data_error(columns: str, msg: Record, reason: str) -> None:
    assert data_error(mapper(columns), msg).reason == reason


def test_json_null() -> None:
    m = mapper(
        """
untyped: value.a
nullable: {from: value.a, type: nullable(float64)}
defaulted: {from: value.a, type: float64, default: 1.5}
"""
    )
    assert row(m, message({"a": None})) == [None, None, 1.5]
    strict = mapper("x: {from: value.a, type: int64}")
    assert data_error(strict, message({"a": None})).reason == "null for non-nullable column of type int64"


def test_null_header_value_is_null() -> None:
    m = mapper("r: {from: headers.region, type: nullable(string)}")
    assert row(m, message({}, headers=[("region", None)])) == [None]


def test_bad_defaults_are_config_errors_all_reported() -> None:
    assert config_problems(
        "x: {from: value.x, type: uint8, default: 300}\ny: {from: value.y, type: uint8, default: null}"
    ) == [
        "mappings[0].columns.x.default: 300 is out of range for uint8",
        "mappings[0].columns.y.default: null for non-nullable column of type uint8",
    ]


def test_untyped_columns_pass_values_through() -> None:
    m = mapper("a: value.a\nb: value.b.c")
    nested = {"deep": [1, {"x": None}]}
    built = row(m, message({"a": nested, "b": {"c": 1.5}}))
    assert built == [nested, 1.5]


# ---------------------------------------------------------------------------
# Errors name where they happened


def test_conversion_error_names_topic_partition_offset_stream_and_column() -> None:
    m = mapper(
        """
id: {from: value.id, type: int64}
amount: {from: value.amount, type: uint8}
"""
    )
    error = data_error(m, message({"id": 1, "amount": 300}))
    assert (error.topic, error.partition, error.offset) == ("t", 2, 41)
    assert error.stream == "s"
    assert error.column == "amount"
    assert error.reason == "300 is out of range for uint8"
    assert str(error) == "t[2]@41, stream s, column amount: 300 is out of range for uint8"


@pytest.mark.parametrize(
    ("columns", "msg", "column", "reason"),
    [
        (
            "k: key",
            message({}, key=b"\xc3"),
            "k",
            "key is not valid UTF-8 (byte 0xc3 at position 0: unexpected end of data)",
        ),
        (
            "r: headers.region",
            message({}, headers=[("region", b"a\x80")]),
            "r",
            "header region is not valid UTF-8 (byte 0x80 at position 1: invalid start byte)",
        ),
        ("n: {from: value.n, type: int64}", message({"n": "x"}), "n", "'x' is not a valid int64"),
        ("n: {from: value.a.n, type: int64}", message({"a": {"n": 1.5}}), "n", "1.5 is not a valid int64"),
        ("n: {from: value.a.0, type: int64}", message({"a": [True]}), "n", "true is not a valid int64"),
        ("p: {from: partition, type: int8}", Record("t", 200, 41, b"{}"), "p", "200 is out of range for int8"),
        (
            "ts: {from: value.ts, type: datetime64(3)}",
            message({"ts": "2024-13-01"}),
            "ts",
            "'2024-13-01' is not a valid date",
        ),
        ("xs: {from: value.xs, type: array(int32)}", message({"xs": [1, "x"]}), "xs", "[1]: 'x' is not a valid int32"),
    ],
)
def test_every_source_kind_reports_its_column(columns: str, msg: Record, column: str, reason: str) -> None:
    error = data_error(mapper(columns), msg)
    assert (error.column, error.reason) == (column, reason)
    assert (error.topic, error.partition, error.offset, error.stream) == (msg.topic(), msg.partition(), 41, "s")


def test_build_does_not_need_a_timestamp_or_key_unless_mapped() -> None:
    m = mapper("id: {from: value.id, type: int64}")
    msg = Record("t", 0, 1, b'{"id": 3}', _ts_type=TIMESTAMP_NOT_AVAILABLE)
    assert row(m, msg) == [3]


# ---------------------------------------------------------------------------
# Fan-out


def test_two_mappers_share_one_decoded_value() -> None:
    orders = mapper(
        """
id: {from: value.id, type: int64}
total: {from: value.total, type: "decimal(10, 2)"}
at: {from: value.at, type: datetime64(3), unit: ms}
"""
    )
    audit = mapper(
        """
order: {from: value.id, type: string}
payload: {from: value, type: json}
topic: topic
"""
    )
    msg = message({"id": 9, "total": 12.5, "at": 1_700_000_000_000})
    decoded = decode_value(msg.value(), "json")
    snapshot = orjson.dumps(decoded)
    assert orders.build(msg, decoded) == [9, "12.50", "2023-11-14 22:13:20.000Z"]
    assert audit.build(msg, decoded) == ["9", {"id": 9, "total": 12.5, "at": 1_700_000_000_000}, "t"]
    assert orjson.dumps(decoded) == snapshot, "building a row must not change the decoded value"
    # A bad value for one mapper does not concern the other.
    bad = message({"id": "x", "total": 1, "at": 0})
    bad_decoded = decode_value(bad.value(), "json")
    assert data_error(orders, bad).column == "id"
    assert audit.build(bad, bad_decoded)[0] == "x"


def test_rows_are_json_ready() -> None:
    m = mapper(
        """
id: {from: value.id, type: uint64}
tags: {from: value.tags, type: "array(low_cardinality(string))"}
attrs: {from: value.attrs, type: "map(string, nullable(int32))"}
ip: {from: value.ip, type: ipv6}
"""
    )
    built = row(m, message({"id": 2**64 - 1, "tags": ["a", 1], "attrs": {"x": None, "y": "2"}, "ip": "10.0.0.1"}))
    assert orjson.loads(orjson.dumps(built)) == [2**64 - 1, ["a", "1"], {"x": None, "y": 2}, "::ffff:a00:1"]


def test_duplicate_keys_are_refused_only_when_asked() -> None:
    relaxed = mapper("id: value.id")
    assert row(relaxed, Record("t", 0, 0, b'{"id": 1, "id": 2}')) == [2]  # orjson: the last one wins
    strict = Mapper(
        parse_config(
            """
kafka: {bootstrap.servers: 'k:9092'}
timeplus: {url: 'http://tp:3218'}
mappings: [{topic: t, stream: s, reject_duplicate_keys: true, columns: {id: value.id}}]
""",
            env={},
        ).mappings[0]
    )
    assert row(strict, Record("t", 0, 0, b'{"id": 1, "x": {"a": 1}}')) == [1]
    with pytest.raises(DataError, match="the key 'a' more than once"):
        row(strict, Record("t", 0, 0, b'{"id": 1, "x": {"a": 1, "a": 2}}'))
