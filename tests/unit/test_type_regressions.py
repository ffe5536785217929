"""Issue 10, "Wrong today": one test per bullet (each failed before the fix), through the real decode path.

Every test feeds the raw bytes of a Kafka message to a Mapper built from YAML, so the
value goes through the JSON decoder and the converter as it does in the connector; none
hands a Python int straight to a converter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connector import cli
from connector.encoding import IngestRequest
from connector.errors import DataError
from connector.types import column_type
from tests.unit.test_mapping import config_problems, mapper, message
from tests.unit.test_mapping import row as build_row


def row(columns: str, raw: bytes) -> list[Any]:
    """The row a mapping with these columns builds from a message with this raw value."""
    return build_row(mapper(columns), message(raw=raw))


def row_of(m: Any, raw: bytes) -> list[Any]:
    return build_row(m, message(raw=raw))


def refused(columns: str, raw: bytes) -> DataError:
    with pytest.raises(DataError) as caught:
        row(columns, raw)
    return caught.value


# -- integers past 64 bits and long decimals --------------------------------------

INT128_MAX = (1 << 127) - 1


def test_int128_maximum_is_kept_exact() -> None:
    assert row("n: {from: value.n, type: int128}", b'{"n": %d}' % INT128_MAX) == [str(INT128_MAX)]


def test_uint256_literal_is_kept_exact() -> None:
    literal = 123456789012345678901234567890
    assert row("n: {from: value.n, type: uint256}", b'{"n": %d}' % literal) == [str(literal)]


def test_int64_one_below_minimum_is_refused() -> None:
    error = refused("n: {from: value.n, type: int64}", b'{"n": -9223372036854775809}')
    assert error.column == "n"
    assert "out of range for int64" in error.reason


def test_decimal_38_keeps_every_digit() -> None:
    value = row("d: {from: value.d, type: 'decimal(38, 2)'}", b'{"d": 123456789012345678901234567.89}')
    assert value == ["123456789012345678901234567.89"]


def test_decimal_with_long_fraction_keeps_every_digit() -> None:
    value = row("d: {from: value.d, type: 'decimal(38, 20)'}", b'{"d": 0.12345678901234567891}')
    assert value == ["0.12345678901234567891"]


def test_untyped_integer_past_64_bits_is_passed_on_exact() -> None:
    literal = 123456789012345678901234567890
    [value] = row("n: value.n", b'{"n": %d}' % literal)
    assert type(value) is int
    assert value == literal


# -- one value crashes the connector ----------------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        "t: {from: value.x, type: 'datetime64(3)', unit: ms}",
        "t: {from: value.x, type: date, unit: s}",
        "t: {from: value.x, type: date32, unit: s}",
    ],
)
@pytest.mark.parametrize("text", ["1e999999", "-1e999999"])
def test_huge_exponent_is_a_data_error(column: str, text: str) -> None:
    error = refused(column, b'{"x": "%s"}' % text.encode())
    assert error.column == "t"
    assert "out of range" in error.reason


# -- an untyped constant past 64 bits ------------------------------------------------------

BIG = 123456789012345678901234567890


def body_of(m: Any, rows: list[list[Any]]) -> bytes:
    """The compact request body the connector sends for these rows."""
    return IngestRequest.encode(m.stream, m.columns, rows).body


def test_untyped_constant_past_64_bits_passes_check_and_is_sent_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"""
kafka: {{bootstrap.servers: localhost:9092}}
timeplus: {{url: http://localhost:3218}}
mappings:
  - topic: t
    stream: s
    columns:
      id: value.id
      big: {{value: {BIG}}}
"""
    )
    assert cli.main(["validate", "-c", str(config)]) == cli.EXIT_OK
    m = mapper(f"id: value.id\nbig: {{value: {BIG}}}")
    rows = [build_row(m, message(raw=b'{"id": %d}' % i)) for i in range(3)]
    assert body_of(m, rows) == b'{"columns":["id","big"],"data":[[0,%d],[1,%d],[2,%d]]}' % (BIG, BIG, BIG)


def test_untyped_value_past_64_bits_is_sent_exact() -> None:
    m = mapper("n: value.n")
    body = body_of(m, [build_row(m, message(raw=b'{"n": %d}' % BIG))])
    assert body == b'{"columns":["n"],"data":[[%d]]}' % BIG


# -- zoned datetimes at a daylight-saving fall-back ----------------------------------------


def test_zoned_datetime_keeps_both_instants_of_a_repeated_hour() -> None:
    columns = "t: {from: value.t, type: \"datetime64(3, 'America/New_York')\"}"
    # 01:30 EDT and 01:30 EST on 2024-11-03: one hour apart.
    [first] = row(columns, b'{"t": "2024-11-03T05:30:00Z"}')
    [second] = row(columns, b'{"t": "2024-11-03T06:30:00Z"}')
    assert first != second
    # Each is sent as text that names its instant on its own, whatever zone reads it.
    assert datetime.fromisoformat(first) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    assert datetime.fromisoformat(second) == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)


# -- datetime64(9) and its 64-bit nanoseconds ---------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"t": "2262-04-11T23:47:16.854775808Z"}',
        b'{"t": "2299-12-31 23:59:59"}',
        b'{"t": 9223372036854775808}',
    ],
)
def test_datetime64_9_ends_where_its_nanoseconds_do(raw: bytes) -> None:
    error = refused("t: {from: value.t, type: 'datetime64(9)', unit: ns}", raw)
    assert "out of range for datetime64(9)" in error.reason


def test_datetime64_9_last_instant_is_accepted() -> None:
    [value] = row("t: {from: value.t, type: 'datetime64(9)'}", b'{"t": "2262-04-11T23:47:16.854775807Z"}')
    assert value.startswith("2262-04-11") and "23:47:16.854775807" in value


# -- constants and defaults are converted, exactly, when the config is read ---------------


def test_constants_keep_the_digits_yaml_wrote() -> None:
    m = mapper(
        "d: {value: 0.12345678901234567891, type: 'decimal(38, 20)'}\n"
        "f: {value: 0.12345678901234567891}\n"
        "n: {from: value.n, type: int256, default: 123456789012345678901234567890123}"
    )
    d, f, n = row_of(m, b"{}")
    assert d == "0.12345678901234567891"
    assert body_of(m, [[d, f, n]]).endswith(
        b'"0.12345678901234567891",0.12345678901234567891,"123456789012345678901234567890123"]]}'
    )


def test_untyped_constants_without_a_json_form_fail_check() -> None:
    problems = config_problems("nan: {value: .nan}\nb: {from: value.b, default: !!binary aGVsbG8=}\nok: {value: 1e400}")
    assert problems == [
        "mappings[0].columns.nan.value: nan has no JSON form (orjson would write null); give the column a type, "
        "or another value",
        "mappings[0].columns.b.default: bytes value has no JSON form (Type is not JSON serializable: bytes); "
        "give the column a type, or another value",
    ]


def test_typed_constants_out_of_range_fail_check() -> None:
    problems = config_problems(
        "n: {value: 9223372036854775808, type: int64}\nt: {value: 1e999999, type: date, unit: s}"
    )
    assert problems == [
        "mappings[0].columns.n.value: 9223372036854775808 is out of range for int64",
        "mappings[0].columns.t.value: '1e999999' is out of range for date",
    ]


# -- never another exception -------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "raw"),
    [
        # The exact decoder is as strict as orjson: a lone surrogate is refused, not passed on.
        ("d: {from: value.d, type: 'decimal(38, 2)'}\ns: value.s", b'{"d": 1.123456789012345678, "s": "\\ud800"}'),
        # Nesting deeper than Python's recursion limit, into a string column.
        ("s: {from: value.s, type: string}", b'{"s": ' + b"[" * 1000 + b"1.5" + b"]" * 1000 + b"}"),
        # A 5000-digit integer (Python's int() refuses more than 4300 digits).
        ("n: {from: value.n, type: int256}", b'{"n": ' + b"7" * 5000 + b"}"),
    ],
)
def test_hostile_values_are_data_errors(columns: str, raw: bytes) -> None:
    error = refused(columns, raw)
    assert error.reason


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize("text", ["0001-01-01T00:00:00", "0001-01-01 00:00:00.000", "9999-12-31T23:59:59.999"])
def test_wall_times_at_the_ends_of_the_calendar_are_out_of_range_not_a_crash(zone: str, text: str) -> None:
    # Their zone rules overflowed Python's datetime (OverflowError, not a DataError: a poison pill).
    error = refused(f"t: {{from: value.t, type: \"datetime64(3, '{zone}')\"}}", b'{"t": "%s"}' % text.encode())
    assert "out of range" in str(error)


@pytest.mark.parametrize(
    "value",
    [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime(1, 1, 1, tzinfo=UTC), datetime.max],
)
def test_decoded_datetimes_at_the_ends_of_the_calendar_are_out_of_range(value: datetime) -> None:
    # Registry formats hand the converter datetime objects (naive ones are wall times in the column's zone).
    with pytest.raises(ValueError, match="out of range"):
        column_type("datetime64(6, 'Asia/Tokyo')").convert(value)
