"""Property tests of the type layer (issue 10): decode + convert, checked by the emulator.

For every column type, Hypothesis generates JSON literals — integers of any size,
decimal literals with huge exponents, NaN-like and other text, ISO-8601 timestamps of
every fractional length in every time zone, leap days and daylight-saving edges, uuids,
addresses, nested values — and puts each into a message ``{"x": <literal>}``. The raw
bytes are decoded as the pipeline decodes them and built into a row by a real Mapper,
on each of the three float policies (orjson first and an exact decode on demand; every
message checked first, as with a decimal column; every literal exact, as with an untyped
column), and column ``x`` must be either a ``DataError`` or a value that

* both paths agree on,
* the payload encoder writes and the emulator's own type model accepts, and
* reads back as the same number / instant / string as the literal (an oracle computed
  here from the literal, independently of the connector's code).

``EXAMPLES`` examples run per column type (and per time zone group for datetimes).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from functools import cache
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.errors import DataError
from connector.exact_json import Floats, encode_exact
from connector.mapping import Mapper
from connector.types import column_type, parse_type
from connector.types.scalars import UUID_CANONICAL
from sandbox.timeplus_emulator.datetimes import DateTimeType
from sandbox.timeplus_emulator.types import parse_type as emulator_type
from sandbox.timeplus_emulator.values import ValueRejected
from tests.unit.test_mapping import mapper, message, row

#: Examples per column type (and per parameter set); TYPE_EXAMPLES=N runs more.
EXAMPLES = int(os.environ.get("TYPE_EXAMPLES", "300"))
# The oracles below compute with exact decimals of any exponent.
WIDE = Context(prec=4000, Emax=MAX_EMAX, Emin=MIN_EMIN)
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------
# The path a message takes: the pipeline's decoding and a real Mapper


@cache
def mappers(type_name: str, unit: str | None) -> tuple[Mapper, ...]:
    """Mappers with column ``x`` of this type, one per way a mapping treats floats.

    Alone, the column gets its own policy; next to a decimal column every message is
    checked first; next to an untyped column every literal is decoded exactly.
    """
    unit_text = f", unit: {unit}" if unit else ""
    column = f"x: {{from: value.x, type: {json.dumps(type_name)}{unit_text}}}"
    return (
        mapper(column),
        mapper(column + "\nd: {from: value.d, type: 'decimal(10, 2)', default: 0}"),
        mapper(column + "\nu: {from: value.u, default: 0}"),
    )


def outcome(type_name: str, literal: str, unit: str | None = None) -> Any:
    """Column x of the row each mapper builds; they must agree. DataError is returned, not raised."""
    msg = message(raw=b'{"x": ' + literal.encode() + b"}")
    results = []
    for m in mappers(type_name, unit):
        try:
            results.append(row(m, msg)[0])
        except DataError as exc:
            assert exc.column == "x" and exc.reason, exc
            results.append(exc)
    first = results[0]
    for other in results[1:]:
        if isinstance(first, DataError) or isinstance(other, DataError):
            assert type(first) is type(other), (literal, results)
        else:
            assert first == other and type(first) is type(other), (literal, results)
    return first


def stored(type_name: str, value: Any) -> Any:
    """What the emulator stores for ``value`` after the payload encoder and its JSON decoder."""
    body = encode_exact([value])
    [back] = json.loads(body)  # the emulator reads wide integers exactly
    try:
        return emulator_type(type_name).convert(back)
    except ValueRejected as exc:
        raise AssertionError(f"the emulator refuses {value!r} for {type_name}: {exc}") from None


# ---------------------------------------------------------------------------
# Literals

_DIGITS = st.text("0123456789", min_size=1, max_size=40)
#: Number text a number column reads (after stripping white space): a JSON number, also
#: with a leading ``+``, a leading or trailing point, or zeros in front.
NUMBER_TEXT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


@st.composite
def number_literals(draw: st.DrawFn) -> str:
    """JSON number literals: any size, any number of digits, exponents up to 999999."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(_DIGITS).lstrip("0") or "0"
    text = sign + whole
    if draw(st.booleans()):
        text += "." + draw(_DIGITS)
    if draw(st.integers(0, 3)) == 0:
        exponent = draw(st.one_of(st.integers(-30, 30), st.integers(-999_999, 999_999)))
        text += (
            draw(st.sampled_from(["e", "E"]))
            + draw(st.sampled_from(["", "+"]) if exponent >= 0 else st.just(""))
            + str(exponent)
        )
    return text


def int_literals() -> st.SearchStrategy[str]:
    edges = [(1 << b) + d for b in (7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256) for d in (-1, 0, 1)]
    ints = st.one_of(
        st.integers(-(1 << 300), 1 << 300), st.sampled_from(edges + [-e for e in edges]), st.integers(-1000, 1000)
    )
    return ints.map(str)


ODD_TEXT = st.sampled_from(
    [
        '"NaN"',
        '"nan"',
        '"Infinity"',
        '"-inf"',
        '"inf"',
        '"1e999999"',
        '"-1e999999"',
        '"0x10"',
        '""',
        '" 12 "',
        '"\\uff11\\uff12"',  # fullwidth digits
        '"1_000"',
    ]
)
OTHER_JSON = st.sampled_from(["true", "false", "null", "[]", "[1, 2]", "{}", '{"a": 1}', '"text"'])


def text_literal(text: str) -> str:
    return json.dumps(text)


# ---------------------------------------------------------------------------
# Integers

INT_TYPES = [f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64, 128, 256)]


def int_bounds(name: str) -> tuple[int, int]:
    bits = int(name.lstrip("uint"))
    return (0, (1 << bits) - 1) if name.startswith("u") else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


@pytest.mark.parametrize("type_name", INT_TYPES)
@PROPERTY
@given(literal=st.one_of(int_literals(), number_literals(), ODD_TEXT, OTHER_JSON, int_literals().map(text_literal)))
def test_integers_are_exact_or_refused(type_name: str, literal: str) -> None:
    result = outcome(type_name, literal)
    parsed = json.loads(literal, parse_float=Decimal)
    if isinstance(parsed, str):
        parsed = int(parsed.strip()) if re.fullmatch(r"[+-]?[0-9]+", parsed.strip()) else None
    exact: int | None = None
    whole = (
        isinstance(parsed, Decimal)
        and (parsed.is_zero() or parsed.adjusted() < 80)
        and parsed == parsed.to_integral_value(context=WIDE)
    )
    if type(parsed) is int or whole:
        exact = int(parsed)
    low, high = int_bounds(type_name)
    if exact is None or not low <= exact <= high:
        assert isinstance(result, DataError), (literal, result)
        return
    assert not isinstance(result, DataError), (literal, result)
    assert stored(type_name, result) == exact


# ---------------------------------------------------------------------------
# Decimals and floats

DECIMAL_TYPES = [
    "decimal(10, 2)",
    "decimal(18, 0)",
    "decimal(38, 20)",
    "decimal(76, 38)",
    "decimal(9, 9)",
    "decimal128(4)",
]


@pytest.mark.parametrize("type_name", DECIMAL_TYPES)
@PROPERTY
@given(literal=st.one_of(number_literals(), number_literals().map(text_literal), ODD_TEXT, OTHER_JSON))
def test_decimals_keep_every_digit_or_are_refused(type_name: str, literal: str) -> None:
    result = outcome(type_name, literal)
    t = parse_type(type_name)
    precision, scale = t.precision or 0, t.scale or 0
    parsed = json.loads(literal, parse_float=Decimal)
    number: Decimal | None = None
    if type(parsed) is int:
        number = Decimal(parsed)
    elif isinstance(parsed, Decimal):
        number = parsed
    elif isinstance(parsed, str) and re.fullmatch(NUMBER_TEXT, parsed.strip()):
        number = Decimal(parsed.strip())
    fits = (
        number is not None
        and (number.is_zero() or number.adjusted() < precision - scale)
        and number == number.quantize(Decimal(1).scaleb(-scale), context=WIDE)
    )
    if not fits:
        assert isinstance(result, DataError), (literal, result)
        return
    assert not isinstance(result, DataError), (literal, result)
    assert number is not None
    assert Decimal(result) == number
    assert Decimal(stored(type_name, result)) == number


def unless_refused(convert: Any, value: Any) -> Any:
    """What ``convert`` returns, or None if it refuses ``value`` (for whatever reason)."""
    try:
        return convert(value)
    except ValueError:
        return None


# Number text and near misses: signs, spaces, leading zeros, points at either end,
# exponents, NUL, Arabic-Indic and full-width digits.
_NEAR_DIGITS = st.one_of(st.text("0123456789", max_size=20), st.text("0123456789\u0661\uff11", max_size=4))


@st.composite
def number_texts(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(["", "-", "+", " ", "--"])) + draw(_NEAR_DIGITS)
    if draw(st.booleans()):
        text += "." + draw(_NEAR_DIGITS)
    if draw(st.integers(0, 4)) == 0:
        text += draw(st.sampled_from(["e", "E", "e-", "e+"])) + draw(st.text("0123456789", min_size=1, max_size=3))
    return text + draw(st.sampled_from(["", "", "", " ", "\n", "\x00"]))


@pytest.mark.parametrize("type_name", [*DECIMAL_TYPES, "decimal(15, 4)"])
@PROPERTY
@given(text=st.one_of(number_texts(), number_literals()))
def test_decimal_text_converts_as_its_decimal_does(type_name: str, text: str) -> None:
    """The fast path for number text agrees with the slow path, fed the Decimal the text spells."""
    convert = column_type(type_name).convert
    stripped = text.strip()
    expected = unless_refused(convert, Decimal(stripped)) if re.fullmatch(NUMBER_TEXT, stripped) else None
    assert unless_refused(convert, text) == expected, (text, expected)


@st.composite
def floats_near_decimals(draw: st.DrawFn) -> float:
    """Floats of decimals with 0 to 17 fraction digits, and the floats either side of them."""
    digits = draw(st.integers(0, 17))
    number = float(Decimal(draw(st.integers(-(10**17), 10**17))).scaleb(-digits))
    return math.nextafter(number, draw(st.sampled_from([number, math.inf, -math.inf])))


@pytest.mark.parametrize("type_name", [*DECIMAL_TYPES, "decimal(15, 4)"])
@PROPERTY
@given(value=st.one_of(floats_near_decimals(), st.floats(allow_nan=False, allow_infinity=False)))
def test_decimal_floats_convert_as_their_literals_do(type_name: str, value: float) -> None:
    """The fast path for a float agrees with the slow path, fed the Decimal of its literal."""
    convert = column_type(type_name).convert
    assert unless_refused(convert, value) == unless_refused(convert, Decimal(repr(value))), value


@pytest.mark.parametrize("type_name", ["float64", "float32"])
@PROPERTY
@given(literal=st.one_of(number_literals(), number_literals().map(text_literal), ODD_TEXT, OTHER_JSON))
def test_floats_are_the_nearest_float_or_refused(type_name: str, literal: str) -> None:
    result = outcome(type_name, literal)
    parsed = json.loads(literal, parse_float=Decimal)
    if isinstance(parsed, str):
        text = parsed.strip()
        if re.fullmatch(r"[+-]?(?:inf|infinity|nan)", text, re.IGNORECASE):  # sent as the text Proton reads
            special = float(text)
            assert result == ("nan" if special != special else str(special)), (literal, result)
            return
        parsed = Decimal(text) if re.fullmatch(NUMBER_TEXT, text) else None
    limit = Decimal("3.4028234663852886e38") if type_name == "float32" else Decimal("1.7976931348623157e308")
    if type(parsed) not in (int, Decimal) or Decimal(parsed).copy_abs() >= limit or abs(float(parsed)) >= float(limit):
        assert isinstance(result, DataError), (literal, result)
        return
    assert not isinstance(result, DataError), (literal, result)
    expected = float(parsed)
    assert result == expected
    assert stored(type_name, result) == stored(type_name, expected)


# ---------------------------------------------------------------------------
# Strings, uuid, addresses


@pytest.mark.parametrize("type_name", ["string", "fixed_string(12)"])
@PROPERTY
@given(text=st.text(max_size=20))
def test_text_is_kept_as_written(type_name: str, text: str) -> None:
    literal = json.dumps(text)
    result = outcome(type_name, literal)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text) or (type_name != "string" and len(text.encode()) > 12):
        assert isinstance(result, DataError)
        return
    assert result == text
    assert stored(type_name, result).rstrip("\x00") == text.rstrip("\x00") or type_name == "string"


@pytest.mark.parametrize("type_name", ["string"])
@PROPERTY
@given(literal=st.one_of(number_literals(), int_literals()))
def test_numbers_in_text_columns_keep_their_digits(type_name: str, literal: str) -> None:
    result = outcome(type_name, literal)
    if isinstance(result, DataError):
        return
    assert Decimal(result) == Decimal(literal)


@PROPERTY
@given(
    value=st.uuids(),
    shape=st.sampled_from(["canonical", "upper", "hex", "braces"]),
)
def test_uuids(value: uuid.UUID, shape: str) -> None:
    text = {"canonical": str(value), "upper": str(value).upper(), "hex": value.hex, "braces": "{" + str(value) + "}"}[
        shape
    ]
    result = outcome("uuid", json.dumps(text))
    if shape == "braces":
        assert isinstance(result, DataError)
        return
    assert uuid.UUID(stored("uuid", result)) == value


# What a uuid's characters are replaced by: dashes, hex digits, upper-case and other non-hex
# letters, whitespace, NUL, Arabic-Indic and full-width digits, a full-width letter, a
# lone surrogate.
_UUID_EDITS = "-0fFAg \n\x00\u0661\uff11\uff41\ud800"


@PROPERTY
@given(
    value=st.uuids(),
    edits=st.lists(st.tuples(st.integers(0, 37), st.sampled_from(["", *_UUID_EDITS]), st.booleans()), max_size=4),
)
def test_the_canonical_uuid_pattern_is_the_plain_one(value: uuid.UUID, edits: list[tuple[int, str, bool]]) -> None:
    """UUID_CANONICAL (spelt for speed) matches exactly what the plain pattern matches.

    On the uuid, on every text one edit away (a character deleted, or one of
    ``_UUID_EDITS`` put in its place or inserted: 35, 36 and 37 characters), and on the
    uuid with a few edits anywhere.
    """
    text = str(value)
    texts = [text[:at] + char + text[at + cut :] for at in range(37) for char in ["", *_UUID_EDITS] for cut in (0, 1)]
    for at, char, insert in edits:
        text = text[:at] + char + text[at + (0 if insert else 1) :]
    for candidate in [*texts, text]:
        plain = re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", candidate)
        assert (UUID_CANONICAL.fullmatch(candidate) is None) == (plain is None), candidate


@pytest.mark.parametrize("type_name", ["ipv4", "ipv6"])
@PROPERTY
@given(
    address=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
    spelling=st.sampled_from(["compressed", "exploded", "leading-zero", "upper"]),
)
def test_addresses(type_name: str, address: Any, spelling: str) -> None:
    text = {"compressed": address.compressed, "exploded": address.exploded, "upper": address.compressed.upper()}.get(
        spelling
    )
    if text is None:
        text = address.compressed.replace(".", ".0", 1) if address.version == 4 else "0" + address.exploded
    result = outcome(type_name, json.dumps(text))
    try:
        expected: Any = ipaddress.ip_address(text)
    except ValueError:
        expected = None
    if expected is not None and type_name == "ipv6" and expected.version == 4:
        expected = ipaddress.IPv6Address(f"::ffff:{expected}")
    if expected is None or (type_name == "ipv4" and expected.version == 6):
        assert isinstance(result, DataError), (text, result)
        return
    assert not isinstance(result, DataError), (text, result)
    assert ipaddress.ip_address(stored(type_name, result)) == expected


# Parts of dotted quads: octets, then leading zeros, signs, spaces, hex, NUL, a lone
# surrogate, Arabic-Indic and full-width digits, numbers past 255.
_OCTETS = st.one_of(
    st.integers(0, 255).map(str),
    st.integers(0, 99).map(lambda n: f"0{n}"),
    st.sampled_from(["", "+1", "-1", " 1", "1 ", "0x1", "1\x00", "\ud800", "\u0661", "\uff11", "256", "4294967296"]),
)


@pytest.mark.parametrize("type_name", ["ipv4", "ipv6"])
@PROPERTY
@given(
    text=st.one_of(
        st.lists(_OCTETS, min_size=1, max_size=6).map(".".join),
        st.ip_addresses(v=6).map(str),
        st.text(st.sampled_from("0123456789abcdefABCDEF:.% \n\x00\u0661\uff11\ud800"), max_size=45),
    )
)
def test_address_text_converts_as_ipaddress_reads_it(type_name: str, text: str) -> None:
    """The converter's fast path (inet_pton) agrees with ipaddress, the slow path's parser.

    Stripped text that ipaddress reads is the same address (ipv4: the same text); any other
    is refused with the converter's own reason, which names the value.
    """
    convert = column_type(type_name).convert
    stripped = text.strip()
    expected: Any
    try:
        expected = ipaddress.IPv4Address(stripped) if type_name == "ipv4" else ipaddress.IPv6Address(stripped)
    except ValueError:
        expected = None
    if expected is None and type_name == "ipv6":
        with contextlib.suppress(ValueError):
            expected = ipaddress.IPv6Address(f"::ffff:{ipaddress.IPv4Address(stripped)}")
    if expected is None or "%" in text:
        with pytest.raises(ValueError, match=f"is not a valid {type_name}$"):
            convert(text)
        return
    result = convert(text)
    assert ipaddress.ip_address(result) == expected, (text, result)
    if type_name == "ipv4":
        assert result == str(expected)


# ---------------------------------------------------------------------------
# Dates and times

ZONES = sorted(zoneinfo.available_timezones())
DST_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Tehran",
    "Europe/Dublin",
]
NANOS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def range_of(type_name: str) -> tuple[int, int]:
    """Inclusive range in ns, from the Timeplus/ClickHouse docs (not from the connector)."""
    first = int((datetime(1900, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * NANOS
    if type_name.startswith("datetime64(9"):
        return first, (1 << 63) - 1
    if type_name.startswith("datetime64"):
        return first, int((datetime(2300, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * NANOS - 1
    return 0, ((1 << 32) - 1) * NANOS


@st.composite
def iso_instants(draw: st.DrawFn, zones: list[str]) -> tuple[str, str | None, int | None]:
    """(literal, column zone, instant in ns or None when the text names no single instant)."""
    zone_name = draw(st.sampled_from(zones))
    zone = zoneinfo.ZoneInfo(zone_name)
    year = draw(st.integers(1850, 2350))
    month = draw(st.integers(1, 12))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    day = draw(st.integers(1, days))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(st.text("0123456789", max_size=12))
    form = draw(st.sampled_from(["Z", "offset", "naive"]))
    sep = draw(st.sampled_from(["T", " "]))
    text = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}" + (
        f".{fraction}" if fraction else ""
    )
    wall = datetime(year, month, day, hour, minute, second)
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0
    if form == "Z":
        moment: datetime | None = wall.replace(tzinfo=UTC)
        text += "Z"
    elif form == "offset":
        minutes = draw(st.integers(-14 * 60, 14 * 60))
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        moment = wall.replace(tzinfo=UTC) - timedelta(minutes=minutes)
    else:
        first, second_ = wall.replace(tzinfo=zone), wall.replace(tzinfo=zone, fold=1)
        exists = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
        moment = first if exists and first.utcoffset() == second_.utcoffset() else None
    if moment is None:
        return text, zone_name, None
    seconds = (moment - EPOCH) // timedelta(seconds=1)
    return text, zone_name, seconds * NANOS + nanos


@st.composite
def dst_edges(draw: st.DrawFn) -> tuple[str, str | None, int | None]:
    """Naive wall times within two hours of a daylight-saving change, and instants around it."""
    zone_name = draw(st.sampled_from(DST_ZONES))
    zone = zoneinfo.ZoneInfo(zone_name)
    year = draw(st.integers(1970, 2037))
    start = datetime(year, 1, 1, tzinfo=UTC)
    # Find the transitions of that year by stepping a day at a time.
    changes = []
    previous = start.astimezone(zone).utcoffset()
    for d in range(1, 366):
        moment = start + timedelta(days=d)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            changes.append(moment - timedelta(days=1))
            previous = offset
    if not changes:
        return (
            "2024-01-01T00:00:00Z",
            zone_name,
            int((datetime(2024, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * NANOS,
        )
    day_start = draw(st.sampled_from(changes))
    moment = day_start + timedelta(minutes=draw(st.integers(0, 48 * 60)), seconds=draw(st.integers(0, 59)))
    if draw(st.booleans()):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), zone_name, (moment - EPOCH) // timedelta(seconds=1) * NANOS
    wall = moment.astimezone(zone).replace(tzinfo=None, fold=0)
    first, second = wall.replace(tzinfo=zone), wall.replace(tzinfo=zone, fold=1)
    exists = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
    unique = exists and first.utcoffset() == second.utcoffset()
    instant = (first.astimezone(UTC) - EPOCH) // timedelta(seconds=1) * NANOS if unique else None
    return wall.strftime("%Y-%m-%d %H:%M:%S"), zone_name, instant


_OUTPUT = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z")


def instant_of_output(text: str) -> int:
    """The instant of the connector's ``YYYY-MM-DD hh:mm:ss[.f]Z``, parsed here."""
    match = _OUTPUT.fullmatch(text)
    assert match is not None, text
    y, mo, d, h, mi, s, fraction = match.groups()
    moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    return (moment - EPOCH) // timedelta(seconds=1) * NANOS + int((fraction or "").ljust(9, "0"))


def check_instant(type_name: str, literal: str, expected: int | None, precision: int) -> None:
    result = outcome(type_name, json.dumps(literal))
    if expected is None:
        assert isinstance(result, DataError), (literal, result)
        return
    step = 10 ** (9 - precision)
    cut = expected - expected % step
    low, high = range_of(type_name)
    if not low <= cut <= high:
        assert isinstance(result, DataError), (literal, result)
        return
    assert not isinstance(result, DataError), (literal, type_name, result)
    assert instant_of_output(result) == cut, (literal, result)
    emulator = emulator_type(type_name)
    assert isinstance(emulator, DateTimeType)
    assert emulator.convert(result) == emulator.format(cut // NANOS, f"{cut % NANOS:09d}"), (literal, result)


@pytest.mark.parametrize("precision", [0, 3, 6, 9])
@pytest.mark.parametrize("zones", ["utc", "all"])
@PROPERTY
@given(data=st.data())
def test_datetime64_instants(precision: int, zones: str, data: st.DataObject) -> None:
    literal, zone, expected = data.draw(iso_instants(["UTC"] if zones == "utc" else ZONES))
    type_name = f"datetime64({precision}, '{zone}')" if zones == "all" else f"datetime64({precision})"
    check_instant(type_name, literal, expected, precision)


def converted(convert: Any, value: str) -> str:
    """The converter's text for ``value``, or its reason prefixed with ``refused: ``."""
    try:
        result: str = convert(value)
    except ValueError as exc:
        return f"refused: {exc}"
    return result


@pytest.mark.parametrize("precision", [0, 3, 6, 9])
@PROPERTY
@given(data=st.data())
def test_datetimes_after_others_convert_as_on_their_own(precision: int, data: st.DataObject) -> None:
    """What a converter remembers (whole seconds, tails) gives each value the text it gets first.

    Values sharing a whole second or the text after it (fraction and zone) with values
    converted before take the cached path; every mix of two literals' parts must convert
    as it does in a fresh converter.
    """
    zone = data.draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]))
    type_name = f"datetime64({precision}, '{zone}')"
    a, _, _ = data.draw(iso_instants([zone]))
    b, _, _ = data.draw(iso_instants([zone]))
    values = [a, b, a[:19] + b[19:], b[:19] + a[19:], a, b]
    warm = column_type(type_name).converters[Floats.UNCHECKED]
    # The mapper's generated code reads the converter's cache inline.
    warm_mapper = mapper(f"x: {{from: value.x, type: {json.dumps(type_name)}}}")
    for value in values:
        alone = converted(column_type(type_name).converters[Floats.UNCHECKED], value)
        assert converted(warm, value) == alone, (value, values)
        try:
            in_row = row(warm_mapper, message(raw=orjson.dumps({"x": value})))[0]
        except DataError as exc:
            in_row = f"refused: {exc.reason}"
        assert in_row == alone, (value, values)


@PROPERTY
@given(case=dst_edges(), precision=st.sampled_from([0, 3]))
def test_daylight_saving_edges(case: tuple[str, str | None, int | None], precision: int) -> None:
    literal, zone, expected = case
    check_instant(f"datetime64({precision}, '{zone}')", literal, expected, precision)


@PROPERTY
@given(data=st.data())
def test_datetime_instants(data: st.DataObject) -> None:
    literal, zone, expected = data.draw(iso_instants(ZONES))
    check_instant(f"datetime('{zone}')", literal, expected, 0)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("precision", [0, 3, 9])
@PROPERTY
@given(literal=st.one_of(number_literals(), int_literals(), number_literals().map(text_literal), ODD_TEXT, OTHER_JSON))
def test_epoch_numbers(unit: str, precision: int, literal: str) -> None:
    type_name = f"datetime64({precision})"
    result = outcome(type_name, literal, unit)
    parsed = json.loads(literal, parse_float=Decimal)
    if isinstance(parsed, str) and re.fullmatch(NUMBER_TEXT, parsed.strip()):
        parsed = Decimal(parsed.strip())
    huge = isinstance(parsed, Decimal) and not parsed.is_zero() and parsed.adjusted() >= 30
    if type(parsed) not in (int, Decimal) or huge:
        assert isinstance(result, DataError), (literal, result)
        return
    per_second = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[unit]
    if type(parsed) is int:
        exact_ns = parsed * (NANOS // per_second)
    else:
        nanos = WIDE.divide(WIDE.multiply(Decimal(parsed), NANOS), per_second)
        exact_ns = int(nanos.to_integral_value(rounding="ROUND_FLOOR", context=WIDE))
    step = 10 ** (9 - precision)
    cut = exact_ns - exact_ns % step
    low, high = range_of(type_name)
    if not low <= cut <= high:
        assert isinstance(result, DataError), (literal, result)
        return
    assert not isinstance(result, DataError), (literal, result)
    assert instant_of_output(result) == cut


@pytest.mark.parametrize("type_name", ["date", "date32"])
@PROPERTY
@given(year=st.integers(1850, 2350), month=st.integers(1, 12), day=st.integers(1, 31))
def test_dates(type_name: str, year: int, month: int, day: int) -> None:
    literal = f"{year:04d}-{month:02d}-{day:02d}"
    result = outcome(type_name, json.dumps(literal))
    try:
        value = datetime(year, month, day)
    except ValueError:
        assert isinstance(result, DataError)
        return
    first, last = (
        (datetime(1970, 1, 1), datetime(2149, 6, 6))
        if type_name == "date"
        else (datetime(1900, 1, 1), datetime(2299, 12, 31))
    )
    if not first <= value <= last:
        assert isinstance(result, DataError), (literal, result)
        return
    assert result == literal
    assert stored(type_name, result) == literal


# ---------------------------------------------------------------------------
# Containers and json


@PROPERTY
@given(items=st.lists(st.one_of(int_literals(), number_literals(), st.just("null")), max_size=5))
def test_arrays_of_wide_integers(items: list[str]) -> None:
    literal = "[" + ", ".join(items) + "]"
    result = outcome("array(nullable(int128))", literal)
    values = [json.loads(i, parse_float=Decimal) for i in items]
    low, high = int_bounds("int128")
    good = all(
        v is None
        or (type(v) is int and low <= v <= high)
        or (
            isinstance(v, Decimal)
            and (v.is_zero() or v.adjusted() < 80)
            and v == v.to_integral_value(context=WIDE)
            and low <= int(v) <= high
        )
        for v in values
    )
    if not good:
        assert isinstance(result, DataError), (literal, result)
        return
    assert stored("array(nullable(int128))", result) == [None if v is None else int(v) for v in values]


@PROPERTY
@given(
    literal=st.one_of(
        OTHER_JSON, st.builds(lambda a, b: f'{{"a": {a}, "b": [{b}]}}', int_literals(), number_literals())
    )
)
def test_json_columns_take_objects_only(literal: str) -> None:
    result = outcome("json", literal)
    parsed = json.loads(literal, parse_float=Decimal)
    if type(parsed) is not dict:
        assert isinstance(result, DataError), (literal, result)
        return
    assert json.loads(encode_exact(result), parse_float=Decimal) == parsed
