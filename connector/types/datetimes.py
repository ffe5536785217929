"""Converters of date and time types: date, date32, datetime and datetime64.

Values are ISO-8601 texts, ``date``/``datetime`` objects, or epoch numbers in the
column's ``unit``; each becomes the ``YYYY-MM-DD[ hh:mm:ss[.fff]]`` text Timeplus reads.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from connector.types.grammar import TimeplusType, zone_info
from connector.types.values import NUMBER_TEXT, Converter, show, utf8

_PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
#: Units of epoch numbers a date/time column can read.
EPOCH_UNITS: Final = tuple(_PER_SECOND)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE: Final = date(1970, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH_DATE.toordinal()
_DAY: Final = 86_400


def _days(y: int, m: int, d: int) -> int:
    return date(y, m, d).toordinal() - _EPOCH_ORDINAL


# Inclusive ranges, in seconds (datetimes) and days (dates) since the epoch.
_SECOND_RANGES: Final = {
    "datetime": (0, (1 << 32) - 1),
    "datetime64": (_days(1900, 1, 1) * _DAY, _days(2300, 1, 1) * _DAY - 1),
}
_DAY_RANGES: Final = {"date": (0, 65_535), "date32": (_days(1900, 1, 1), _days(2299, 12, 31))}

_ISO: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r" ?(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?)?"
)
_DATE_TEXT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_instant(text: str, zone: ZoneInfo | None) -> tuple[int, int] | None:
    """Seconds and nanoseconds since the epoch of an ISO-8601 text, or None if it is not one.

    A text without an offset is wall time in ``zone`` (UTC when None).
    """
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hh, mm, ss, fraction, z, sign, oh, om = match.groups()
    hour, minute, second = int(hh or 0), int(mm or 0), int(ss or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    try:
        days = _days(int(year), int(month), int(day))
    except ValueError:
        return None
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0  # beyond ns: truncated
    wall = days * _DAY + hour * 3600 + minute * 60 + second
    if z:
        return wall, nanos
    if sign:
        offset_h, offset_m = int(oh), int(om or 0)
        if offset_h > 23 or offset_m > 59:
            return None
        offset = offset_h * 3600 + offset_m * 60
        return (wall - offset if sign == "+" else wall + offset), nanos
    if zone is None:
        return wall, nanos
    shift = zone.utcoffset(datetime(int(year), int(month), int(day), hour, minute, second))
    return wall - (shift.days * _DAY + shift.seconds if shift else 0), nanos


def _instant_of_object(v: date, zone: ZoneInfo | None) -> tuple[int, int]:
    """A ``datetime``/``date`` (YAML parses unquoted timestamps into these) as an instant."""
    if not isinstance(v, datetime):
        return _days(v.year, v.month, v.day) * _DAY, 0
    if v.tzinfo is None:
        v = v.replace(tzinfo=zone or UTC)
    delta = v - _EPOCH
    return delta.days * _DAY + delta.seconds, delta.microseconds * 1000


def _epoch_of_number(v: Any, unit: str | None, t: TimeplusType) -> tuple[int, int]:
    """An epoch number (int, float or numeric text) in ``unit`` as (seconds, nanoseconds)."""
    if unit is None:
        raise ValueError(
            f"{show(v)} looks like an epoch number but {t} needs to know its unit: "
            "set unit to s, ms, us or ns on this column"
        )
    per_second = _PER_SECOND[unit]
    if type(v) is int:
        seconds, part = divmod(v, per_second)
        return seconds, part * (1_000_000_000 // per_second)
    # Through Decimal, so that 1700000000.123 keeps its digits exactly.
    number = Decimal(repr(v) if type(v) is float else str(v).strip())
    nanos = int((number * (1_000_000_000 // per_second)).to_integral_value(ROUND_FLOOR))
    return divmod(nanos, 1_000_000_000)


def _instant(v: Any, unit: str | None, zone: ZoneInfo | None, t: TimeplusType, null: str) -> tuple[int, int]:
    """Any accepted source value of a date/time column as (seconds, nanoseconds) since the epoch."""
    if isinstance(v, bytes):
        v = utf8(v)
    if isinstance(v, str):
        text = v.strip()
        if NUMBER_TEXT.fullmatch(text):  # without a unit: says to set one
            return _epoch_of_number(text, unit, t)
        found = _parse_instant(text, zone)
        if found is None:
            raise ValueError(f"expected an ISO-8601 date or datetime, got {show(v)}")
        return found
    if type(v) is int or (type(v) is float and v - v == 0.0):
        return _epoch_of_number(v, unit, t)
    if isinstance(v, date):
        return _instant_of_object(v, zone)
    if v is None:
        raise ValueError(null)
    raise ValueError(f"expected an ISO-8601 date or datetime or an epoch number, got {show(v)}")


_DAY_TEXT: dict[int, str] = {}
_SECOND_TEXT: dict[int, str] = {}
_CACHE_LIMIT: Final = 20_000


def _day_text(days: int) -> str:
    text = _DAY_TEXT.get(days)
    if text is None:
        if len(_DAY_TEXT) > _CACHE_LIMIT:
            _DAY_TEXT.clear()
        text = _DAY_TEXT[days] = (_EPOCH_DATE + timedelta(days=days)).isoformat()
    return text


def _second_text(seconds: int) -> str:
    """``YYYY-MM-DD hh:mm:ss`` of a UTC epoch second; cached, as a topic's rows come in order."""
    text = _SECOND_TEXT.get(seconds)
    if text is None:
        if len(_SECOND_TEXT) > _CACHE_LIMIT:
            _SECOND_TEXT.clear()
        text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")
        _SECOND_TEXT[seconds] = text
    return text


def _fraction_texts(precision: int) -> tuple[str, ...] | None:
    """``.000`` .. ``.999`` for precision 3 (and the like up to 3): a lookup beats formatting."""
    if not 0 < precision <= 3:
        return None
    return tuple(f".{i:0{precision}d}" for i in range(10**precision))


def date_converter(t: TimeplusType, unit: str | None, null: str) -> Converter:
    low, high = _DAY_RANGES[t.name]
    bounds = f"{_day_text(low)} .. {_day_text(high)}"

    def convert(v: Any) -> str:
        if type(v) is str and len(v) == 10 and _DATE_TEXT.fullmatch(v):
            try:
                days = _days(int(v[:4]), int(v[5:7]), int(v[8:]))
            except ValueError:
                raise ValueError(f"expected an ISO-8601 date or datetime, got {show(v)}") from None
            if low <= days <= high:
                return v
        else:
            seconds, _ = _instant(v, unit, None, t, null)
            days = seconds // _DAY
            if low <= days <= high:
                return _day_text(days)
        raise ValueError(f"{show(v)} is out of range for {t} ({bounds})")

    return convert


def datetime_converter(t: TimeplusType, unit: str | None, null: str) -> Converter:
    precision = t.precision or 0
    zone = zone_info(t.tz)
    low, high = _SECOND_RANGES[t.name]
    bounds = f"{_second_text(low)} .. {_second_text(high)}"
    divisor = 10 ** (9 - precision)
    fraction = f".%0{precision}d" if precision else ""

    def render(seconds: int, nanos: int) -> str:
        if zone is None:
            text = _second_text(seconds)
        else:
            text = datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M:%S")
        return text + fraction % (nanos // divisor) if precision else text

    def slow(v: Any) -> str:
        seconds, nanos = _instant(v, unit, zone, t, null)
        if not low <= seconds <= high:
            raise ValueError(f"{show(v)} is out of range for {t} ({bounds})")
        return render(seconds, nanos)

    if unit is None or zone is not None:
        return slow
    return _fast_epoch(slow, unit, precision, low, high)


def _fast_epoch(slow: Converter, unit: str, precision: int, low: int, high: int) -> Converter:
    """Integer epochs to UTC text, with no more work than a divmod and two lookups."""
    per_second = _PER_SECOND[unit]
    unit_digits = len(str(per_second)) - 1
    texts = _fraction_texts(precision)
    if texts is not None and unit_digits == precision:
        # The hot case: epoch ms into datetime64(3).
        def exact(v: Any) -> Any:
            if type(v) is int:
                seconds, part = divmod(v, per_second)
                if low <= seconds <= high:
                    return (_SECOND_TEXT.get(seconds) or _second_text(seconds)) + texts[part]
            return slow(v)

        return exact

    down = 10 ** max(unit_digits - precision, 0)
    up = 10 ** max(precision - unit_digits, 0)
    fraction = f".%0{precision}d" if precision else ""

    def tail(part: int) -> str:
        return fraction % (part // down * up) if precision else ""

    def scaled(v: Any) -> Any:
        if type(v) is int:
            seconds, part = divmod(v, per_second)
            if low <= seconds <= high:
                return (_SECOND_TEXT.get(seconds) or _second_text(seconds)) + tail(part)
        return slow(v)

    return scaled
