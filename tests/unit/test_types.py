"""Timeplus type names and the converters compiled from them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from connector.types import TimeplusType, column_type, is_nullable, parse_type
from connector.types.column import AsIs


def convert(type_name: str, value: Any, unit: str | None = None) -> Any:
    return column_type(type_name, unit).convert(value)


def reason(type_name: str, value: Any, unit: str | None = None) -> str:
    with pytest.raises(ValueError) as caught:
        convert(type_name, value, unit)
    return str(caught.value)


# ---------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("int8", "int8"),
        ("uint256", "uint256"),
        ("float32", "float32"),
        ("bool", "bool"),
        ("string", "string"),
        ("fixed_string( 16 )", "fixed_string(16)"),
        ("decimal(10,2)", "decimal(10, 2)"),
        ("decimal(5)", "decimal(5, 0)"),
        ("decimal64(4)", "decimal64(4)"),
        ("date", "date"),
        ("date32", "date32"),
        ("datetime", "datetime"),
        ("datetime('Europe/Berlin')", "datetime('Europe/Berlin')"),
        ("datetime64(3)", "datetime64(3)"),
        ('datetime64( 6 , "UTC" )', "datetime64(6, 'UTC')"),
        ("uuid", "uuid"),
        ("ipv4", "ipv4"),
        ("ipv6", "ipv6"),
        ("json", "json"),
        ("enum8('a' = 1, 'b' = -2)", "enum8('a' = 1, 'b' = -2)"),
        ("enum16('x', 'y')", "enum16('x' = 1, 'y' = 2)"),
        ("enum8('it\\'s' = 1)", "enum8('it\\'s' = 1)"),
        ("array(nullable(int64))", "array(nullable(int64))"),
        ("map(string, array(float64))", "map(string, array(float64))"),
        ("tuple(int32, string)", "tuple(int32, string)"),
        ("tuple(a int32, b array(string))", "tuple(a int32, b array(string))"),
        ("low_cardinality(nullable(string))", "low_cardinality(nullable(string))"),
        # ClickHouse spellings are read and written back the Timeplus way.
        ("LowCardinality(Nullable(String))", "low_cardinality(nullable(string))"),
        ("DateTime64(3, 'UTC')", "datetime64(3, 'UTC')"),
        ("FixedString(4)", "fixed_string(4)"),
        ("  Array( UInt8 )  ", "array(uint8)"),
    ],
)
def test_parse_gives_the_canonical_spelling(text: str, canonical: str) -> None:
    parsed = parse_type(text)
    assert str(parsed) == canonical
    assert parse_type(canonical) == parsed


def test_parsed_type_is_an_immutable_tree() -> None:
    t = parse_type("map(string, datetime64(3, 'Asia/Tokyo'))")
    assert t == TimeplusType(
        "map", args=(TimeplusType("string"), TimeplusType("datetime64", precision=3, tz="Asia/Tokyo"))
    )
    assert parse_type("decimal(10, 2)").scale == 2
    assert parse_type("tuple(a int8, b string)").fields == ("a", "b")
    assert parse_type("enum8('a' = 1)").members == (("a", 1),)
    with pytest.raises(AttributeError):
        t.name = "other"  # type: ignore[misc]
    assert hash(t) == hash(parse_type("map(string, datetime64(3, 'Asia/Tokyo'))"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flaot64", "unknown type 'flaot64' (did you mean float64?)"),
        ("strin", "unknown type 'strin' (did you mean string?)"),
        ("varchar", "unknown type 'varchar'"),
        ("", "empty type name"),
        ("datetime64(12)", "datetime64 precision must be 0..9, got 12"),
        ("datetime64(3, 'Mars/Base')", "unknown time zone 'Mars/Base'"),
        ("datetime('Mars/Base')", "unknown time zone 'Mars/Base'"),
        ("datetime64(3, UTC)", "datetime64 time zone must be quoted, e.g. 'UTC', got 'UTC'"),
        ("datetime64", "datetime64 needs parameters, e.g. datetime64(3) or datetime64(3, 'UTC')"),
        ("array", "array needs parameters, e.g. array(int32)"),
        ("int64(3)", "int64 takes no parameters"),
        ("array(int32", "unexpected end of type 'array(int32'"),
        ("array(int32))", "unexpected ')' at position 12 in 'array(int32))'"),
        ("int64 x", "unexpected 'x' at position 6 in 'int64 x'"),
        ("array()", "expected a type name at position 6 in 'array()'"),
        ("int64!", "unexpected '!' at position 5 in 'int64!'"),
        ("decimal(80, 2)", "decimal precision must be 1..76, got 80"),
        ("decimal(4, 5)", "decimal scale must be 0..4, got 5"),
        ("decimal32(10)", "decimal32 scale must be 0..9, got 10"),
        ("fixed_string(0)", "fixed_string length must be 1..1073741824, got 0"),
        ("fixed_string(n)", "fixed_string length must be a number, got 'n'"),
        ("enum8('a' = 200)", "enum8 value of 'a' must be -128..127, got 200"),
        ("enum8('a' = 1, 'a' = 2)", "enum8 has a duplicate name or value: 'a' = 2"),
        ("nullable(array(int8))", "nullable(array(int8)) is not allowed: array cannot be inside nullable"),
        ("nullable(nullable(int8))", "nullable(nullable(int8)) is not allowed: nullable cannot be inside nullable"),
        ("low_cardinality(array(int8))", "low_cardinality(array(int8)) is not allowed"),
        ("map(float64, int8)", "map keys cannot be float64"),
        ("map(nullable(string), int8)", "map keys cannot be nullable(string)"),
        ("tuple(a int8, string)", "tuple elements must be all named or all unnamed"),
        ("tuple(int8, b string)", "tuple elements must be all named or all unnamed"),
        ("tuple(a int8, a string)", "tuple has duplicate field names: a, a"),
    ],
)
def test_parse_errors_read_well_after_a_yaml_path(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_type(text)
    assert str(caught.value) == message


def test_is_nullable_sees_through_low_cardinality() -> None:
    assert is_nullable(parse_type("nullable(int8)"))
    assert is_nullable(parse_type("low_cardinality(nullable(string))"))
    assert not is_nullable(parse_type("low_cardinality(string)"))
    assert not is_nullable(parse_type("array(nullable(int8))"))


def test_values_passed_on_as_they_are() -> None:
    assert column_type("low_cardinality(nullable(string))").as_is == AsIs(str)
    assert column_type("bool").as_is == AsIs(bool)
    assert column_type("int64").as_is == AsIs(int, -(1 << 63) - 1, 1 << 63)
    assert column_type("uint256").as_is == AsIs(int, -1, 1 << 64)
    assert column_type("decimal(10, 2)").as_is is None


def test_column_type_is_everything_mapping_needs_in_one_call() -> None:
    ct = column_type("low_cardinality(nullable(string))")
    assert ct.parsed == parse_type("low_cardinality(nullable(string))")
    assert str(ct) == "low_cardinality(nullable(string))"
    assert ct.nullable and ct.convert(None) is None and ct.convert(5) == "5"
    strict = column_type("datetime64(3)", unit="ms")
    assert not strict.nullable and strict.unit == "ms"
    assert strict.null_reason == "null for non-nullable column of type datetime64(3)"
    assert strict.convert(1_700_000_000_123) == "2023-11-14 22:13:20.123Z"
    assert strict == column_type("datetime64(3)", "ms"), "equal by type and unit, not by converter"
    # What the mapper needs to keep numbers exact: a converter per Floats level, and the policy.
    assert len(strict.converters) == 3 and not strict.wants_digits and not strict.passes_numbers_on
    assert column_type("array(decimal(10, 2))").wants_digits
    assert column_type("map(string, json)").passes_numbers_on
    with pytest.raises(ValueError, match="unknown type 'flaot64'"):
        column_type("flaot64")
    with pytest.raises(ValueError, match="unknown unit 'minutes'"):
        column_type("date", unit="minutes")


# ---------------------------------------------------------------------------
# Integers and floats


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("int64", 42, 42),
        ("int64", -42, -42),
        ("int64", 1.0, 1),
        ("int64", "42", 42),
        ("int64", " -7 ", -7),
        ("int64", b"12", 12),
        ("int8", -128, -128),
        ("uint8", 255, 255),
        ("uint64", 2**64 - 1, 2**64 - 1),
        ("int64", -(2**63), -(2**63)),
        # Beyond orjson's 64-bit range: quoted, which Timeplus reads as a number.
        ("int128", 2**100, str(2**100)),
        ("uint256", str(2**255), str(2**255)),
        ("int256", -(2**255), str(-(2**255))),
        ("int128", 5, 5),
    ],
)
def test_integers(type_name: str, value: Any, expected: Any) -> None:
    assert convert(type_name, value) == expected
    assert type(convert(type_name, value)) is type(expected)


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("uint8", 300, "300 is out of range for uint8"),
        ("uint8", -1, "-1 is out of range for uint8"),
        ("int8", 128, "128 is out of range for int8"),
        ("int64", 2**63, f"{2**63} is out of range for int64"),
        ("uint64", 2**64, f"{2**64} is out of range for uint64"),
        ("int128", 2**127, f"{2**127} is out of range for int128"),
        ("int64", "abc", "'abc' is not a valid int64"),
        ("int64", "1_000", "'1_000' is not a valid int64"),
        ("int64", "4.5", "'4.5' is not a valid int64"),
        ("int64", 1.5, "1.5 is not a valid int64"),
        ("int64", float("nan"), "nan is not a valid int64"),
        ("int64", float("inf"), "inf is not a valid int64"),
        ("int64", True, "true is not a valid int64"),
        ("int64", {"a": 1}, "an object is not a valid int64"),
        ("int64", [1], "a list is not a valid int64"),
        ("int64", None, "null for non-nullable column of type int64"),
        ("int32", b"\xff", "not valid UTF-8 (byte 0xff at position 0: invalid start byte)"),
    ],
)
def test_integer_rejections(type_name: str, value: Any, message: str) -> None:
    assert reason(type_name, value) == message


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("float64", 1.5, 1.5),
        ("float64", 3, 3.0),
        ("float64", "1.5e3", 1500.0),
        ("float64", "-.5", -0.5),
        ("float32", 3.4e38, 3.4e38),
        ("float64", 10**300, 1e300),
    ],
)
def test_floats(type_name: str, value: Any, expected: float) -> None:
    assert convert(type_name, value) == expected


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("float64", "1e999", "'1e999' is out of range for float64"),
        ("float64", 10**400, f"{str(10**400)[:57]}... is out of range for float64"),
        ("float32", 1e39, "1e+39 is out of range for float32"),
        ("float64", True, "true is not a valid float64"),
        ("float64", "1,5", "'1,5' is not a valid float64"),
        ("float64", None, "null for non-nullable column of type float64"),
    ],
)
def test_float_rejections(type_name: str, value: Any, message: str) -> None:
    assert reason(type_name, value) == message


# ---------------------------------------------------------------------------
# Decimal, bool, strings


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("decimal(10, 2)", 1.5, "1.50"),
        ("decimal(10, 2)", "12345678.9", "12345678.90"),
        ("decimal(10, 2)", 7, "7.00"),
        ("decimal(10, 2)", "-0.10", "-0.10"),
        ("decimal(10, 2)", "1.500", "1.50"),
        ("decimal(10, 2)", "-0.00", "0.00"),
        ("decimal(2, 2)", 0, "0.00"),
        ("decimal(10, 0)", "1e3", "1000"),
        ("decimal32(4)", 0.1, "0.1000"),
        ("decimal256(2)", "9" * 74, "9" * 74 + ".00"),
    ],
)
def test_decimals_are_exact_strings(type_name: str, value: Any, expected: str) -> None:
    assert convert(type_name, value) == expected


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("decimal(10, 2)", "1.234", "'1.234' has more than 2 digits after the decimal point for decimal(10, 2)"),
        (
            "decimal(10, 2)",
            123456789,
            "123456789 is out of range for decimal(10, 2): more than 8 digits before the decimal point",
        ),
        ("decimal(10, 2)", "abc", "'abc' is not a valid decimal(10, 2)"),
        ("decimal(10, 2)", float("nan"), "nan is not a valid decimal(10, 2)"),
        ("decimal(10, 2)", True, "true is not a valid decimal(10, 2)"),
        ("decimal(10, 2)", None, "null for non-nullable column of type decimal(10, 2)"),
    ],
)
def test_decimal_rejections(type_name: str, value: Any, message: str) -> None:
    assert reason(type_name, value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("true", True), ("FALSE", False), ("1", True), (b"0", False)],
)
def test_bool(value: Any, expected: bool) -> None:
    assert convert("bool", value) is expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2, "2 is not a valid bool (expected true, false, 1 or 0)"),
        ("yes", "'yes' is not a valid bool (expected true, false, 1 or 0)"),
        (1.0, "1.0 is not a valid bool (expected true, false, 1 or 0)"),
        (None, "null for non-nullable column of type bool"),
    ],
)
def test_bool_rejections(value: Any, message: str) -> None:
    assert reason("bool", value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("héllo", "héllo"),
        (42, "42"),
        (10**30, "1" + "0" * 30),
        (1.5, "1.5"),
        (True, "true"),
        ({"a": [1, 2], "b": None}, '{"a":[1,2],"b":null}'),
        ([1, "x"], '[1,"x"]'),
        (b"caf\xc3\xa9", "café"),
    ],
)
def test_string(value: Any, expected: str) -> None:
    assert convert("string", value) == expected


def test_string_rejections() -> None:
    assert reason("string", b"ab\xffc") == "not valid UTF-8 (byte 0xff at position 2: invalid start byte)"
    assert reason("string", float("nan")) == "nan is not a valid string"
    assert reason("string", None) == "null for non-nullable column of type string"


def test_fixed_string_counts_utf8_bytes() -> None:
    assert convert("fixed_string(4)", "abcd") == "abcd"
    assert convert("fixed_string(4)", "éé") == "éé"
    assert reason("fixed_string(4)", "abcde") == "'abcde' is too long for fixed_string(4): 5 bytes"
    assert reason("fixed_string(4)", "ééé") == "'ééé' is too long for fixed_string(4): 6 bytes"


# ---------------------------------------------------------------------------
# Dates and times


@pytest.mark.parametrize(
    ("type_name", "value", "unit", "expected"),
    [
        ("date", "2024-02-29", None, "2024-02-29"),
        ("date", "2024-01-31T23:30:00-05:00", None, "2024-02-01"),  # the date in UTC
        ("date", "2024-01-31 23:30:00", None, "2024-01-31"),
        ("date", 1_700_000_000_000, "ms", "2023-11-14"),
        ("date", 1_700_000_000, "s", "2023-11-14"),
        ("date", "1700000000", "s", "2023-11-14"),
        ("date", dt.date(2024, 5, 6), None, "2024-05-06"),
        ("date", "1970-01-01", None, "1970-01-01"),
        ("date", "2149-06-06", None, "2149-06-06"),
        ("date32", "1900-01-01", None, "1900-01-01"),
        ("date32", "2299-12-31", None, "2299-12-31"),
        ("date32", -1, "s", "1969-12-31"),
    ],
)
def test_dates(type_name: str, value: Any, unit: str | None, expected: str) -> None:
    assert convert(type_name, value, unit) == expected


@pytest.mark.parametrize(
    ("type_name", "value", "unit", "message"),
    [
        ("date", "2024-13-01", None, "'2024-13-01' is not a valid date"),
        ("date", "2023-02-29", None, "'2023-02-29' is not a valid date"),
        ("date", "01/02/2024", None, "expected an ISO-8601 date or datetime, got '01/02/2024'"),
        ("date", "2150-01-01", None, "'2150-01-01' is out of range for date (1970-01-01 .. 2149-06-06)"),
        ("date", "1969-12-31", None, "'1969-12-31' is out of range for date (1970-01-01 .. 2149-06-06)"),
        ("date32", "1899-12-31", None, "'1899-12-31' is out of range for date32 (1900-01-01 .. 2299-12-31)"),
        (
            "date",
            19700,
            None,
            "19700 looks like an epoch number but date needs to know its unit: "
            "set unit to s, ms, us or ns on this column",
        ),
        ("date", True, "s", "expected an ISO-8601 date or datetime or an epoch number, got true"),
        ("date", None, None, "null for non-nullable column of type date"),
    ],
)
def test_date_rejections(type_name: str, value: Any, unit: str | None, message: str) -> None:
    assert reason(type_name, value, unit) == message


@pytest.mark.parametrize(
    ("type_name", "value", "unit", "expected"),
    [
        # Epoch numbers in every unit.
        ("datetime64(3)", 1_700_000_000_123, "ms", "2023-11-14 22:13:20.123Z"),
        ("datetime64(3)", 1_700_000_000, "s", "2023-11-14 22:13:20.000Z"),
        ("datetime64(6)", 1_700_000_000_123_456, "us", "2023-11-14 22:13:20.123456Z"),
        ("datetime64(9)", 1_700_000_000_123_456_789, "ns", "2023-11-14 22:13:20.123456789Z"),
        ("datetime64(3)", 1_700_000_000_123_999_999, "ns", "2023-11-14 22:13:20.123Z"),  # truncated
        ("datetime64(0)", 1_700_000_000_999, "ms", "2023-11-14 22:13:20Z"),
        ("datetime", 1_700_000_000_999, "ms", "2023-11-14 22:13:20Z"),
        ("datetime64(6)", 1_700_000_000.123, "s", "2023-11-14 22:13:20.123000Z"),  # float digits kept
        ("datetime64(3)", "1700000000123", "ms", "2023-11-14 22:13:20.123Z"),
        ("datetime64(3)", -1, "ms", "1969-12-31 23:59:59.999Z"),
        # ISO-8601 text.
        ("datetime64(3)", "2024-01-02T03:04:05Z", None, "2024-01-02 03:04:05.000Z"),
        ("datetime64(3)", "2024-01-02 03:04:05.5", None, "2024-01-02 03:04:05.500Z"),
        ("datetime64(9)", "2024-01-02T03:04:05.123456789Z", None, "2024-01-02 03:04:05.123456789Z"),
        ("datetime64(3)", "2024-01-02T03:04:05.123456789Z", None, "2024-01-02 03:04:05.123Z"),
        ("datetime64(3)", "2024-01-02T03:04:05+01:00", None, "2024-01-02 02:04:05.000Z"),
        ("datetime64(3)", "2024-01-02T03:04:05-0130", None, "2024-01-02 04:34:05.000Z"),
        ("datetime64(3)", "2024-01-02T03:04", None, "2024-01-02 03:04:00.000Z"),
        ("datetime64(3)", "2024-01-02", None, "2024-01-02 00:00:00.000Z"),
        ("datetime", "2024-01-02 03:04:05", None, "2024-01-02 03:04:05Z"),
        ("datetime64(3)", dt.datetime(2024, 1, 2, 3, 4, 5, 678000), None, "2024-01-02 03:04:05.678Z"),
        # A column time zone: naive text is wall time there; every instant goes as UTC with Z.
        ("datetime64(3, 'Asia/Tokyo')", "2024-01-02 03:04:05", None, "2024-01-01 18:04:05.000Z"),
        ("datetime64(3, 'Asia/Tokyo')", "2024-01-02T03:04:05Z", None, "2024-01-02 03:04:05.000Z"),
        ("datetime64(3, 'Asia/Tokyo')", 1_700_000_000_123, "ms", "2023-11-14 22:13:20.123Z"),
        ("datetime('America/New_York')", "2024-07-01T12:00:00Z", None, "2024-07-01 12:00:00Z"),
        ("datetime64(3, 'UTC')", 1_700_000_000_123, "ms", "2023-11-14 22:13:20.123Z"),
    ],
)
def test_datetimes(type_name: str, value: Any, unit: str | None, expected: str) -> None:
    assert convert(type_name, value, unit) == expected


def test_datetime_keeps_nanoseconds_of_large_epochs_exactly() -> None:
    # 2**62 ns would lose its last digits through a float.
    value = 4_611_686_018_427_387_903
    assert convert("datetime64(9)", value, "ns") == "2116-02-20 23:53:38.427387903Z"


@pytest.mark.parametrize(
    ("type_name", "value", "unit", "message"),
    [
        (
            "datetime64(3)",
            1_700_000_000_123,
            None,
            "1700000000123 looks like an epoch number but datetime64(3) needs to know its unit: "
            "set unit to s, ms, us or ns on this column",
        ),
        ("datetime64(3)", "2024-13-01", None, "'2024-13-01' is not a valid date"),
        ("datetime64(3)", "2024-01-01T25:00:00", None, "'2024-01-01T25:00:00' is not a valid time of day"),
        ("datetime64(3)", "yesterday", None, "expected an ISO-8601 date or datetime, got 'yesterday'"),
        (
            "datetime",
            "1969-12-31 23:59:59",
            None,
            "'1969-12-31 23:59:59' is out of range for datetime (1970-01-01 00:00:00 .. 2106-02-07 06:28:15)",
        ),
        (
            "datetime64(3)",
            "2300-01-01",
            None,
            "'2300-01-01' is out of range for datetime64(3) (1900-01-01 00:00:00.000 .. 2299-12-31 23:59:59.999)",
        ),
        ("datetime64(3)", float("nan"), "ms", "nan is not a valid datetime64(3)"),
        ("datetime64(3)", [1], "ms", "expected an ISO-8601 date or datetime or an epoch number, got a list"),
        ("datetime64(3)", None, "ms", "null for non-nullable column of type datetime64(3)"),
    ],
)
def test_datetime_rejections(type_name: str, value: Any, unit: str | None, message: str) -> None:
    assert reason(type_name, value, unit) == message


# ---------------------------------------------------------------------------
# uuid, ip, enum, json


def test_uuid() -> None:
    canonical = "123e4567-e89b-12d3-a456-426614174000"
    assert convert("uuid", "123E4567-E89B-12D3-A456-426614174000") == canonical
    assert convert("uuid", "123e4567e89b12d3a456426614174000") == canonical
    assert reason("uuid", "123e4567-e89b-12d3-a456") == "'123e4567-e89b-12d3-a456' is not a valid uuid"
    assert reason("uuid", "{123e4567-e89b-12d3-a456-426614174000}").endswith("is not a valid uuid")
    assert reason("uuid", 5) == "5 is not a valid uuid"


def test_ip_addresses() -> None:
    assert convert("ipv4", " 192.168.1.1 ") == "192.168.1.1"
    assert convert("ipv4", 3232235777) == "192.168.1.1"
    assert convert("ipv6", "2001:DB8:0:0::1") == "2001:db8::1"
    assert convert("ipv6", "1.2.3.4") == "::ffff:102:304"  # IPv4-mapped
    assert reason("ipv4", "1.2.3") == "'1.2.3' is not a valid ipv4"
    assert reason("ipv4", "::1") == "'::1' is not a valid ipv4"
    assert reason("ipv6", "fe80::1%eth0") == "'fe80::1%eth0' is not a valid ipv6"
    assert reason("ipv6", None) == "null for non-nullable column of type ipv6"


def test_enum() -> None:
    t = "enum8('a' = 1, 'b' = 2)"
    assert convert(t, "b") == "b"
    assert convert(t, 1) == "a"
    assert reason(t, "c") == "'c' is not a value of enum8('a' = 1, 'b' = 2)"
    assert reason(t, 3) == "3 is not a value of enum8('a' = 1, 'b' = 2)"
    assert reason(t, True) == "true is not a value of enum8('a' = 1, 'b' = 2)"


def test_json() -> None:
    assert convert("json", {"a": 1}) == {"a": 1}
    assert reason("json", [1, 2]) == "expected a JSON object for json, got a list"  # Proton refuses arrays
    assert convert("json", '{"a": [1]}') == {"a": [1]}
    assert convert("json", b'{"a": 1}') == {"a": 1}
    assert reason("json", "[1]") == "expected a JSON object for json, got '[1]'"
    assert reason("json", "nope") == "expected a JSON object for json, got 'nope'"
    assert reason("json", 5) == "expected a JSON object for json, got 5"


# ---------------------------------------------------------------------------
# Composite types


def test_array() -> None:
    assert convert("array(int32)", [1, "2", 3.0]) == [1, 2, 3]
    assert convert("array(nullable(int32))", [1, None]) == [1, None]
    assert convert("array(datetime64(3))", [0], "ms") == ["1970-01-01 00:00:00.000Z"]
    assert reason("array(int32)", [1, 2, 3, "x"]) == "[3]: 'x' is not a valid int32"
    assert reason("array(array(int8))", [[1], [2, 300]]) == "[1][1]: 300 is out of range for int8"
    assert reason("array(int32)", [1, None]) == "[1]: null in a non-nullable element of type int32"
    assert reason("array(int32)", "1,2") == "expected a list for array(int32), got '1,2'"
    assert reason("array(int32)", None) == "null for non-nullable column of type array(int32)"


def test_map() -> None:
    assert convert("map(string, int64)", {"a": 1, "b": "2"}) == {"a": 1, "b": 2}
    assert convert("map(int32, string)", {"1": "x", "-2": 3}) == {"1": "x", "-2": "3"}
    assert convert("map(uuid, bool)", {"123E4567E89B12D3A456426614174000": 1}) == {
        "123e4567-e89b-12d3-a456-426614174000": True
    }
    assert reason("map(int32, string)", {"x": "a"}) == "key 'x': 'x' is not a valid int32"
    assert reason("map(string, int8)", {"a": 1000}) == "['a']: 1000 is out of range for int8"
    assert reason("map(string, array(int8))", {"a": [1, "z"]}) == "['a'][1]: 'z' is not a valid int8"
    assert reason("map(string, int8)", [1]) == "expected an object for map(string, int8), got a list"


def test_tuple() -> None:
    assert convert("tuple(int32, string)", [1, 2]) == [1, "2"]
    assert convert("tuple(a int32, b string)", {"b": "x", "a": "5"}) == [5, "x"]
    assert convert("tuple(a int32, b string)", [5, "x"]) == [5, "x"]
    assert reason("tuple(int32, string)", [1]) == "expected 2 elements for tuple(int32, string), got 1"
    assert reason("tuple(a int32, b string)", {"a": 1}) == "missing field 'b' for tuple(a int32, b string)"
    assert reason("tuple(a int32, b string)", {"a": "z", "b": ""}) == "['a']: 'z' is not a valid int32"
    assert reason("tuple(int32, string)", [1, None]) == "[1]: null in a non-nullable element of type string"
    assert reason("tuple(int32, string)", {"a": 1}) == "expected a list for tuple(int32, string), got an object"


def test_nullable_and_low_cardinality() -> None:
    assert convert("nullable(int8)", None) is None
    assert convert("nullable(int8)", "5") == 5
    assert convert("low_cardinality(string)", 5) == "5"
    assert convert("low_cardinality(nullable(string))", None) is None
    assert reason("nullable(int8)", 500) == "500 is out of range for int8"
    assert reason("low_cardinality(string)", None) == "null for non-nullable column of type low_cardinality(string)"


def test_every_converted_value_is_json_ready() -> None:
    samples = [
        ("int256", 2**200),
        ("decimal(20, 4)", 1.25),
        ("datetime64(9, 'Europe/Paris')", "2024-03-31T01:30:00Z"),
        ("map(date, array(nullable(float32)))", {"2024-01-01": [1, None]}),
        ("tuple(a ipv6, b enum16('x' = 1000))", {"a": "::1", "b": 1000}),
        ("json", '{"k": {"n": [1, 2]}}'),
    ]
    for type_name, value in samples:
        orjson.dumps(convert(type_name, value))
