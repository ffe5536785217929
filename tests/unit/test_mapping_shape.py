"""``Mapper.build_value``'s Struct path (``Shape``) against the general path, message by message.

A JSON mapping whose value columns read plain paths decodes only those fields, with
msgspec, into a Struct made for it. The general path (orjson, the check for long
literals, ``Mapper.build``) is the reference: for every message the two give the same
row or the same error (``tests.unit.test_mapping.row`` holds them to that). Here the
messages are generated whole, as JSON text written literal by literal, so they hold what
real producers send and what they should not: integers past 64 bits, literals longer
than a double, exponents, strings where numbers belong, null or scalar parents, fields
the mapping does not read, repeated keys, invalid UTF-8 and text that is not JSON.
"""

from __future__ import annotations

import json
import os
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.config import parse_config
from connector.errors import DataError
from connector.mapping import Mapper
from connector.types import column_type
from tests.unit.test_mapping import mapper, message, row

EXAMPLES = int(os.environ.get("SHAPE_EXAMPLES", "400"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Columns of every kind of type a Shape serves, at the top level and one object down.
COLUMNS = """\
id: {from: value.id, type: int64}
big: {from: value.big, type: int128, default: 0}
u64: {from: value.u64, type: uint64, default: 0}
amount: {from: value.amount, type: 'decimal(10, 2)'}
wide: {from: value.wide, type: 'nullable(decimal(38, 10))'}
score: {from: value.score, type: float64, default: 0}
ts: {from: value.ts, type: 'datetime64(3)', unit: ms, default: 0}
event_id: {from: value.event_id, type: 'nullable(uuid)'}
ok: {from: value.ok, type: bool, default: false}
tags: {from: value.tags, type: 'array(string)', default: []}
user_id: {from: value.user.id, type: 'nullable(int64)'}
country: {from: value.user.country, type: 'low_cardinality(string)', default: ''}
deep: {from: value.user.address.zip, type: string, default: ''}
key: {from: key, type: string, default: ''}
"""
FIELDS = ("id", "big", "u64", "amount", "wide", "score", "ts", "event_id", "ok", "tags", "user", "extra")

digits = st.text("0123456789", min_size=1, max_size=45)
integers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "-0", str(2**63 - 1), str(-(2**63)), str(2**63), str(2**64 - 1), str(2**64), str(2**127)]),
    digits.map(lambda d: d.lstrip("0") or "0"),
)
fractions = st.builds(lambda whole, part: f"{whole}.{part}", integers, digits)
exponents = st.builds(lambda mantissa, e: f"{mantissa}e{e}", st.one_of(integers, fractions), st.integers(-420, 420))
numbers = st.one_of(integers, fractions, exponents, st.floats(allow_nan=False, allow_infinity=False).map(repr))
texts = st.one_of(
    st.text(max_size=12),
    numbers,
    st.sampled_from(["2026-01-01T00:00:00.123Z", "2026-03-29 02:30:00", "0cd58cc6-f137-4dc5-b41f-cb28e1eca229"]),
    st.sampled_from(["NaN", "Infinity", " 12.50 ", "1,5", "١٢", "true", "\ud83d\ude00"]),
).map(json.dumps)
scalars = st.one_of(numbers, texts, st.sampled_from(["null", "true", "false"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.lists(st.tuples(st.sampled_from(("id", "country", "address", "zip", "x")), inner), max_size=4).map(
            lambda pairs: "{" + ", ".join(f'"{k}": {v}' for k, v in pairs) + "}"
        ),
    ),
    max_leaves=6,
)
# Literals of the columns' own kinds, most of them fit to be stored, so that most messages build.
money = st.builds(lambda i, f: f"{i}.{f}", st.integers(-99_999_999, 99_999_999), st.text("0123456789", max_size=3))
long_money = st.builds(lambda i, f: f"{i}.{f}", st.integers(-(10**20), 10**20), st.text("0123456789", max_size=14))
cents = st.builds(
    lambda i, f: f"{i}.{f}", st.integers(-99_999_999, 99_999_999), st.text("0123456789", min_size=1, max_size=2)
)


def within(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


FITTING = {
    "id": within(-(2**63), 2**63 - 1),
    "big": within(-(2**127), 2**127 - 1),
    "u64": within(0, 2**64 - 1),
    "amount": st.one_of(cents, cents, money.map(lambda m: m.rstrip("."))),
    "wide": st.one_of(long_money.map(lambda m: m.rstrip(".")), exponents, st.just("null")),
    "score": numbers,
    "ts": st.one_of(integers, st.sampled_from(['"2026-01-01T00:00:00.123Z"', '"2026-01-01 00:00:00.5+05:30"'])),
    "event_id": st.sampled_from(
        ['"0cd58cc6-f137-4dc5-b41f-cb28e1eca229"', '"0CD58CC6F1374DC5B41FCB28E1ECA229"', "null"]
    ),
    "ok": st.sampled_from(["true", "false", "1", '"yes"']),
    "tags": st.lists(texts, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
    "user": st.fixed_dictionaries(
        {},
        optional={
            "id": integers,
            "country": texts,
            "address": st.one_of(st.just("null"), texts.map(lambda t: '{"zip": ' + t + "}")),
        },
    ).map(lambda fields: "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"),
}
# A field takes a literal of its column's kind three times in four, so that many messages build.
fields = st.sampled_from(FIELDS).flatmap(
    lambda name: st.tuples(st.just(name), st.one_of(*[FITTING[name]] * 3, values) if name in FITTING else values)
)
# Every message starts with the two fields no column may lack; the others follow in any
# number and order, repeated keys included (both paths must take the last).
documents = st.builds(
    lambda first, then: ("{" + ", ".join(f'"{k}": {v}' for k, v in [*first, *then]) + "}").encode(),
    st.tuples(st.tuples(st.just("id"), FITTING["id"]), st.tuples(st.just("amount"), FITTING["amount"])),
    st.lists(fields, max_size=12),
)
# Bytes that are not (all) JSON: a cut, a stray byte, invalid UTF-8 in a field no column reads.
damaged = st.one_of(
    st.tuples(documents, st.integers(0, 400)).map(lambda d: d[0][: d[1]]),
    documents.map(lambda d: d.replace(b'"extra": ', b'"extra": "\xff", "e2": ', 1)),
    documents.map(lambda d: b"[" + d + b"]"),
    st.sampled_from([b"", b"null", b"12", b'"text"', b"{", b'{"id": 1} x', b'\xef\xbb\xbf{"id": 1}']),
)


@cache
def shaped() -> Mapper:
    m = mapper(COLUMNS)
    assert m.shape is not None, "these columns must take the Struct path, or nothing is compared"
    return m


@PROPERTY
@given(raw=st.one_of(documents, damaged))
def test_the_struct_path_builds_what_the_general_path_builds(raw: bytes) -> None:
    try:
        row(shaped(), message(raw=raw, key=b"k"))
    except DataError as exc:
        assert exc.reason, exc


def test_complete_events_take_the_struct_path_and_keep_every_digit() -> None:
    m = shaped()
    raw = (
        b'{"id": 7, "big": 170141183460469231731687303715884105727, "u64": 18446744073709551615,'
        b' "amount": 276.35, "wide": 1234567890123456789012345678.0123456789, "score": 0.1,'
        b' "ts": "2026-01-01T00:00:00.123+02:00", "event_id": null, "ok": true, "tags": ["a"],'
        b' "user": {"id": 5, "country": "DE", "address": {"zip": "10115"}}, "extra": {"n": 1e999}}'
    )
    assert row(m, message(raw=raw, key=b"k")) == [
        7,
        "170141183460469231731687303715884105727",
        18446744073709551615,
        "276.35",
        "1234567890123456789012345678.0123456789",
        0.1,
        "2025-12-31 22:00:00.123Z",
        None,
        True,
        ["a"],
        5,
        "DE",
        "10115",
        "k",
    ]


def test_a_null_or_absent_parent_leaves_its_fields_absent() -> None:
    m = shaped()
    for user in (b"null", b"{}", b'{"address": null}'):
        raw = b'{"id": 1, "amount": 1, "user": ' + user + b"}"
        assert row(m, message(raw=raw))[10:13] == [None, "", ""]


def test_invalid_utf8_in_a_field_no_column_reads_is_refused_as_orjson_refuses_it() -> None:
    m = shaped()
    with pytest.raises(DataError, match="not valid JSON"):
        row(m, message(raw=b'{"id": 1, "amount": 1, "extra": "\xff"}'))


@pytest.mark.parametrize(
    "columns",
    [
        "x: {from: value.x}",  # untyped: numbers passed on as decoded
        "x: {from: value.x, type: json}",
        "x: {from: value.items.0, type: int64}",  # a list index
        "x: {from: value, type: string}",  # the whole value
        "x: {from: value.x, type: 'array(decimal(10, 2))'}",  # decimals inside a container
        "x: {from: value.u, type: string}\ny: {from: value.u.id, type: int64}",  # whole and parts
        "x: {from: value.d, type: 'decimal(10, 2)'}\ny: {from: value.d, type: string}",
    ],
)
def test_mappings_the_struct_cannot_serve_take_the_general_path(columns: str) -> None:
    assert mapper(columns).shape is None


def test_strict_json_takes_the_general_path() -> None:
    text = """
kafka: {bootstrap.servers: localhost:9092}
timeplus: {url: http://localhost:3218}
mappings:
  - topic: t
    stream: s
    reject_duplicate_keys: true
    columns:
      x: {from: value.x, type: int64}
"""
    strict = Mapper(parse_config(text, env={}).mappings[0])
    assert strict.shape is None and mapper("x: {from: value.x, type: int64}").shape is not None
    with pytest.raises(DataError, match="more than once"):
        row(strict, message(raw=b'{"x": 1, "x": 2}'))


@pytest.mark.parametrize("precision", [0, 3, 6, 9])
@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00.123Z",
        "2026-01-01T00:00:00.123+02:00",
        "2026-01-01T00:00:00.123",  # wall time in the column's zone
        "2026-01-01T00:00:00.\u0661\u0662\u0663Z",  # digits, but not ASCII ones
        "2026-01-01T00:00:00.12a+02:00",
        "2026-01-01T00:00:00.12Z",
        "2026-01-01T00:00:00.1234Z",
        "2026-01-01T00:00:00,123Z",
        "2026-01-01T00:00:00.123ZZ",
        "2026-01-01T00:00:00Z",
    ],
)
def test_a_datetime_of_a_second_met_before_converts_as_a_fresh_converter_does(precision: int, text: str) -> None:
    """The inline millisecond path reads whole seconds the converter cached; the rest of the text it checks itself."""
    m = mapper(f"x: {{from: value.x, type: \"datetime64({precision}, 'Europe/Berlin')\"}}")
    for second_met in ("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000+02:00", "2026-01-01T00:00:00.000"):
        row(m, message(raw=json.dumps({"x": second_met}).encode()))
    fresh = column_type(f"datetime64({precision}, 'Europe/Berlin')").convert
    try:
        expected: object = fresh(text)
    except ValueError:
        expected = DataError
    try:
        [built] = row(m, message(raw=json.dumps({"x": text}).encode()))
    except DataError:
        built = DataError
    assert built == expected
