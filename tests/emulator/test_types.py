"""Value checking per column type, without HTTP: what is accepted, stored, and refused with which code."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.timeplus_emulator import ProtonError, ValueRejected, parse_type

ACCEPTED: list[tuple[str, Any, Any]] = [
    ("int8", -128, -128),
    ("int8", 127, 127),
    ("uint8", 255, 255),
    ("int64", "42", 42),  # quoted numbers are read
    ("int64", "-7", -7),
    ("uint64", 18446744073709551615, 18446744073709551615),
    ("int128", 2**100, 2**100),
    ("int256", -(2**200), -(2**200)),
    ("int32", None, 0),  # null -> default
    ("float64", 1.5, 1.5),
    ("float64", 3, 3.0),
    ("float64", "2.5e3", 2500.0),
    ("float64", "-inf", float("-inf")),
    ("float32", 0.1, 0.10000000149011612),  # rounded to float32 as stored
    ("decimal(10, 2)", 12.3, "12.30"),
    ("decimal(10, 2)", "12.349", "12.34"),  # extra digits cut, not rounded
    ("decimal(10, 2)", -5, "-5.00"),
    ("decimal64(3)", "0.5", "0.500"),
    ("decimal(5, 0)", None, "0"),
    ("bool", True, True),
    ("bool", 0, False),
    ("bool", 1, True),
    ("boolean", False, False),
    ("string", "héllo", "héllo"),
    ("string", None, ""),
    ("fixed_string(4)", "ab", "ab\x00\x00"),
    ("date", "2024-02-29", "2024-02-29"),
    ("date32", "1950-01-01", "1950-01-01"),
    ("date", None, "1970-01-01"),
    ("datetime", "2024-01-01 10:00:00", "2024-01-01 10:00:00"),
    ("datetime", "2024-01-01T10:00:00Z", "2024-01-01 10:00:00"),
    ("datetime", 1704103200, "2024-01-01 10:00:00"),
    ("datetime('Asia/Shanghai')", "2024-01-01 10:00:00", "2024-01-01 10:00:00"),
    ("datetime('Asia/Shanghai')", "2024-01-01T10:00:00+00:00", "2024-01-01 18:00:00"),
    ("datetime64(3)", "2024-01-01 10:00:00.5", "2024-01-01 10:00:00.500"),
    ("datetime64(3)", "2024-01-01T10:00:00.123456", "2024-01-01 10:00:00.123"),  # the SDK's isoformat()
    ("datetime64(3)", "2024-01-01T10:00:00.123+02:00", "2024-01-01 08:00:00.123"),
    ("datetime64(3)", "2024-01-01 10:00", "2024-01-01 10:00:00.000"),
    ("datetime64(3)", "2024-01-01", "2024-01-01 00:00:00.000"),
    ("datetime64(3)", 1704103200, "2024-01-01 10:00:00.000"),  # 10 digits: seconds
    ("datetime64(3)", 1704103200123, "2024-01-01 10:00:00.123"),  # 13 digits: ms
    ("datetime64(6)", 1704103200123456, "2024-01-01 10:00:00.123456"),  # 16 digits: us
    ("datetime64(9)", 1704103200123456789, "2024-01-01 10:00:00.123456789"),  # 19 digits: ns
    ("datetime64(3)", 1704103200.25, "2024-01-01 10:00:00.250"),
    ("datetime64(0)", "2024-01-01 10:00:00.9", "2024-01-01 10:00:00"),
    ("datetime64(3, 'Asia/Shanghai')", "2024-01-01T00:00:00Z", "2024-01-01 08:00:00.000"),
    ("datetime64(3, 'Asia/Shanghai')", None, "1970-01-01 08:00:00.000"),
    ("uuid", "0E984725-C51C-4BF4-9960-E1C80E27ABA0", "0e984725-c51c-4bf4-9960-e1c80e27aba0"),
    ("ipv4", "10.0.0.1", "10.0.0.1"),
    ("ipv6", "2001:DB8::1", "2001:db8::1"),
    ("ipv6", "1.2.3.4", "::ffff:1.2.3.4"),
    ("enum8('a' = 1, 'b' = 2)", "b", "b"),
    ("enum8('a' = 1, 'b' = 2)", 1, "a"),
    ("enum16('x' = -5, 'y' = 300)", None, "x"),  # default: the smallest value
    ("array(int32)", [1, 2, 3], [1, 2, 3]),
    ("array(nullable(string))", ["a", None], ["a", None]),
    ("array(string)", None, []),
    ("map(string, int64)", {"a": 1}, {"a": 1}),
    ("map(int32, string)", {"7": "seven"}, {7: "seven"}),
    ("tuple(int64, string)", [1, "a"], [1, "a"]),
    ("tuple(a int64, b string)", {"a": 1}, {"a": 1, "b": ""}),
    ("tuple(a int64, b string)", [1, "x"], {"a": 1, "b": "x"}),
    ("nullable(int64)", None, None),
    ("nullable(int64)", 5, 5),
    ("low_cardinality(string)", "x", "x"),
    ("LowCardinality(Nullable(String))", None, None),
    ("json", {"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}),
]


@pytest.mark.parametrize(("type_name", "value", "stored"), ACCEPTED)
def test_accepted_values_are_stored_normalised(type_name: str, value: Any, stored: Any) -> None:
    assert parse_type(type_name).convert(value) == stored


REJECTED: list[tuple[str, Any, int]] = [
    ("int64", 1.5, 27),  # a fraction: readIntText stops at '.'
    ("int64", 2.0, 27),  # even a whole float is not an integer literal
    ("int64", "1.5", 27),
    ("int64", "abc", 27),
    ("int64", "", 27),
    ("int64", True, 27),
    ("int64", [1], 27),
    ("int8", 128, 72),  # out of range: refused, never wrapped
    ("uint8", -1, 72),
    ("uint64", 2**64, 72),
    ("int32", "99999999999", 72),
    ("float64", "abc", 72),
    ("float64", True, 27),
    ("float64", {"a": 1}, 27),
    ("decimal(5, 2)", 1234.5, 69),  # too many integer digits
    ("decimal(5, 2)", "abc", 27),
    ("decimal(5, 2)", [1], 27),
    ("bool", "true", 467),
    ("bool", 2, 467),
    ("bool", "yes", 467),
    ("string", 123, 27),  # a number is not stringified
    ("string", {"a": 1}, 27),
    ("string", ["a"], 27),
    ("fixed_string(2)", "abc", 131),
    ("date", "2024/01/01", 38),
    ("date", "01-02-2024", 38),
    ("date", "2024-02-30", 38),
    ("date", 19000, 38),
    ("date", "2024-01-0", 32),  # truncated: Proton reads past the end
    ("date", "2150-01-01", 38),
    ("datetime", "yesterday", 41),
    ("datetime", "2024-13-01 00:00:00", 41),
    ("datetime", "2024-01-01 25:00:00", 41),
    ("datetime", "1960-01-01 00:00:00", 41),  # before datetime's range
    # datetime64(9) counts nanoseconds in 64 bits: it ends at 2262-04-11 23:47:16.854775807.
    ("datetime64(9)", "2262-04-11 23:47:16.854775808Z", 41),
    ("datetime64(9)", "2299-12-31 23:59:59", 41),
    ("datetime", 1.5, 41),
    ("datetime", True, 41),
    ("datetime64(3)", "2024-01-01 10", 32),
    ("datetime64(3)", "2024-01-01 10:00:0", 32),
    ("datetime64(3)", "1700000000", 41),  # an epoch must be a JSON number
    ("datetime64(3)", "2024-01-01 10:00:00 +0200", 41),
    ("datetime64(3)", 10**20, 41),
    ("datetime64(3)", "1800-01-01 00:00:00", 41),
    ("uuid", "not-a-uuid", 376),
    ("uuid", "0e984725c51c4bf49960e1c80e27aba0", 376),
    ("uuid", 5, 27),
    ("ipv4", "300.1.1.1", 441),
    ("ipv4", "::1", 441),
    ("ipv4", 1, 27),
    ("ipv6", "nope", 441),
    ("enum8('a' = 1)", "z", 36),
    ("enum8('a' = 1)", 9, 36),
    ("array(int64)", "[1]", 27),
    ("array(int64)", [1, "x"], 27),
    ("map(string, int64)", [["a", 1]], 27),
    ("map(int32, string)", {"x": "y"}, 27),
    ("tuple(int64, string)", [1], 27),
    ("tuple(int64, string)", {"a": 1}, 27),
    ("tuple(a int64)", {"b": 1}, 27),
    ("json", "{}", 27),
    ("json", [1], 27),
]


@pytest.mark.parametrize(("type_name", "value", "code"), REJECTED)
def test_rejected_values_carry_the_proton_code(type_name: str, value: Any, code: int) -> None:
    with pytest.raises(ValueRejected) as caught:
        parse_type(type_name).convert(value)
    assert caught.value.code == code, caught.value.reason


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Int64", "int64"),
        ("UInt8", "uint8"),
        ("int", "int32"),
        ("Float", "float32"),
        ("double", "float64"),
        ("String", "string"),
        ("Nullable(String)", "nullable(string)"),
        ("LowCardinality(String)", "low_cardinality(string)"),
        ("FixedString(3)", "fixed_string(3)"),
        ("DateTime64(3, 'UTC')", "datetime64(3, 'UTC')"),
        ("datetime64(3)", "datetime64(3)"),
        ("datetime('Europe/Berlin')", "datetime('Europe/Berlin')"),
        ("Decimal(10,2)", "decimal(10, 2)"),
        ("decimal32(4)", "decimal(9, 4)"),
        ("array(map(string, array(nullable(int64))))", "array(map(string, array(nullable(int64))))"),
        ("tuple(a int64, b string)", "tuple(a int64, b string)"),
        ("enum('x' = 1, 'y''s' = 2)", "enum8('x' = 1, 'y\\'s' = 2)"),
        ("enum('x' = 1, 'y' = 2)", "enum8('x' = 1, 'y' = 2)"),
        ("enum('x' = 1, 'y' = 1000)", "enum16('x' = 1, 'y' = 1000)"),
        ("json", "json"),
    ],
)
def test_type_names_parse_to_canonical_form(text: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(ProtonError):
            parse_type(text)
    else:
        assert parse_type(text).name == canonical


@pytest.mark.parametrize(
    "text",
    ["", "int63", "strin", "array(", "array()", "map(string)", "decimal(100, 2)", "datetime64(12)",
     "nullable(array(int64))", "datetime64(3, 'Mars/Base')", "tuple(a int64, string)", "int64 garbage"],
)  # fmt: skip
def test_unknown_or_malformed_type_names_are_refused(text: str) -> None:
    with pytest.raises(ProtonError) as caught:
        parse_type(text)
    assert caught.value.code in (36, 43, 50, 69)


def test_unknown_type_is_code_50() -> None:
    with pytest.raises(ProtonError) as caught:
        parse_type("varchar")
    assert caught.value.code == 50


def test_column_fast_paths_agree_with_value_by_value_conversion() -> None:
    cases: list[tuple[str, list[Any]]] = [
        ("int64", [1, 2, 3]),
        ("int64", [1, "2", None]),
        ("float32", [0.1, 2, 3.5]),
        ("float64", [1, 2.5]),
        ("string", ["a", "b"]),
        ("bool", [True, False]),
        ("nullable(int64)", [1, None]),
        ("datetime64(3)", ["2024-01-01 10:00:00.123", "2024-01-01 10:00:00.456+01:00", "2024-01-01 10:00:00"]),
        ("datetime64(3)", ["2024-01-01 10:00:00.123", "2024-01-01T10:00:01.456", "2024-01-01 10:00:00.789"]),
        ("datetime64(3, 'Asia/Shanghai')", ["2024-01-01 10:00:00.123", "2024-06-01T10:00:01.456"]),
        ("datetime64(0)", ["2024-01-01 10:00:00", "2024-01-01T23:59:59"]),
        ("datetime", ["2024-01-01 10:00:00", "2024-01-01T23:59:59"]),
        # UTC text with Z, as the connector sends it, into columns with and without a zone.
        ("datetime64(3)", ["2024-01-01 10:00:00.123Z", "2024-01-01 10:00:01.456Z"]),
        ("datetime64(3, 'America/New_York')", ["2024-11-03 05:30:00.000Z", "2024-11-03 06:30:00.000Z"]),
        ("datetime", ["2024-01-01 10:00:00Z", "2024-01-01 23:59:59Z"]),
        ("datetime64(9)", ["2262-04-11 23:47:16.854775807Z", "2024-01-01 10:00:00.000000001Z"]),
    ]
    for type_name, values in cases:
        column_type = parse_type(type_name)
        assert list(column_type.convert_column(values)) == [column_type.convert(v) for v in values], type_name


@pytest.mark.parametrize(
    ("type_name", "values", "code"),
    [
        ("int8", [1, 2, 300], 72),
        ("datetime64(3)", ["2024-01-01 10:00:00.123", "2024-02-30 10:00:00.123"], 41),
        ("datetime64(3)", ["2024-01-01 10:00:00.123", "2024-01-01 10:00:00.1x3"], 41),
        ("datetime64(3)", ["2024-01-01 10:00:00.123", "2024-01-01 10:00:00,123"], 41),
        ("datetime64(3)", ["2024-01-01 10:00:00.123", "1800-01-01 10:00:00.123"], 41),
        ("datetime", ["2024-01-01 10:00:00", "2024-01-01 1:00:000"], 41),
        ("datetime64(3)", ["2024-01-01 10:00:00.123Z", "2024-01-01 10:00:00.1x3Z"], 41),
        ("datetime64(9)", ["2024-01-01 10:00:00.000000000Z", "2262-04-11 23:47:16.854775808Z"], 41),
    ],
)
def test_column_fast_paths_still_check_every_value(type_name: str, values: list[Any], code: int) -> None:
    with pytest.raises(ValueRejected) as caught:
        parse_type(type_name).convert_column(values)
    assert caught.value.code == code


def test_mutable_defaults_are_fresh_each_time() -> None:
    column_type = parse_type("array(int64)")
    first = column_type.convert(None)
    first.append(1)
    assert column_type.convert(None) == []
