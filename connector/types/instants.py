"""Instants: every accepted date/time form to (seconds, nanoseconds), ranges, and their text.

The converters of date and time columns (``datetimes``) are built on these.

Instants go to Timeplus as ``YYYY-MM-DD hh:mm:ss[.fff]Z``: UTC with an explicit ``Z``,
which Proton's ingest reads with ``date_time_input_format = best_effort``
(``IngestRestRouterHandler.cpp``) as that instant whatever the column's or the server's
time zone. Wall-clock text in the column's zone would read two ways in the hour a
daylight-saving change repeats, and would depend on the server's zone when the column
names none.

* Accepted: ISO-8601 ``YYYY-MM-DD[(T| )hh:mm[:ss[.f…]]][Z|±hh[:mm]]`` (naive text is
  wall time in the column's zone, UTC when it has none, and is refused when that wall
  time is repeated or skipped there), epoch numbers with the column's ``unit``,
  ``date``/``datetime`` objects (YAML constants).
* Sub-second digits beyond the precision are cut (floored), as Proton does.
* Ranges per type and precision: ``datetime`` 1970-01-01 … 2106-02-07 06:28:15;
  ``datetime64(p)`` 1900-01-01 … 2299-12-31 23:59:59.(p nines), except ``datetime64(9)``,
  whose 64-bit nanosecond count ends at 2262-04-11 23:47:16.854775807;
  ``date`` 1970-01-01 … 2149-06-06; ``date32`` 1900-01-01 … 2299-12-31.

The common forms (``…T12:34:56.789Z``, ``…+02:00``, a plain date, an epoch integer) take
a fast path: the whole-second part is parsed once and cached, the rest is string
slicing (≤ 1 µs per value, ``bench/micro_types.py``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import MAX_EMAX, MIN_EMIN, ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo

from connector.exact_json import Floats, check_literal
from connector.types.values import NUMBER_TEXT, show

NANOS: Final = 1_000_000_000
DAY: Final = 86_400
PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def days_since_epoch(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to the given day; ValueError if it is not a real day."""
    return date(y, m, d).toordinal() - _EPOCH_ORDINAL


# ---------------------------------------------------------------------------
# Ranges


def instant_range(name: str, precision: int) -> tuple[int, int]:
    """Inclusive range of a date/time type in nanoseconds since the epoch."""
    if name == "datetime":
        return 0, ((1 << 32) - 1) * NANOS
    if name == "date":
        return 0, 65_535 * DAY * NANOS
    first = days_since_epoch(1900, 1, 1) * DAY * NANOS
    if name == "date32":
        return first, days_since_epoch(2299, 12, 31) * DAY * NANOS
    if precision == 9:
        return first, (1 << 63) - 1
    step = 10 ** (9 - precision)
    return first, days_since_epoch(2300, 1, 1) * DAY * NANOS - step


# ---------------------------------------------------------------------------
# Parsing any accepted form into (seconds, nanoseconds)

_ISO: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r" ?(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?)?"
)
# Epochs with more digits than this (in any unit) are far outside every range: refuse
# them before scaling, which would compute a million digits for 1e999999.
_EPOCH_DIGITS: Final = 30
_NANO: Final = Decimal("1e-9")


class BadInstant(ValueError):
    """A value is not an instant this column accepts; the text is the reason."""


#: Wall times whose zone rules are looked up: every type's range (1900..2299) and a year
#: around it. Outside, no offset brings an instant into range, and the rules of a year-1
#: or year-9999 wall time would overflow ``datetime``; the caller's range check refuses them.
_ZONED_WALLS: Final = range(days_since_epoch(1899, 1, 1) * DAY, days_since_epoch(2301, 1, 1) * DAY)


def wall_to_utc(days: int, clock: int, zone: ZoneInfo | None, text: str) -> int:
    """Seconds since the epoch of a wall time in ``zone``; refuse a repeated or skipped one."""
    wall = days * DAY + clock
    if zone is None or wall not in _ZONED_WALLS:
        return wall
    naive = datetime(1970, 1, 1) + timedelta(seconds=wall)
    local = naive.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise BadInstant(f"{show(text)} does not exist in {zone.key} (skipped by a daylight-saving change)")
    offset = local.utcoffset()
    if offset != naive.replace(tzinfo=zone, fold=1).utcoffset():
        raise BadInstant(
            f"{show(text)} is repeated in {zone.key} (a daylight-saving change): "
            "it names two instants, add an offset such as Z or +01:00"
        )
    return wall - int(offset.total_seconds()) if offset else wall


def parse_iso(text: str, zone: ZoneInfo | None) -> tuple[int, int]:
    """Seconds and nanoseconds since the epoch of ISO-8601 text; BadInstant if it is not one."""
    match = _ISO.fullmatch(text)
    if match is None:
        raise BadInstant(f"expected an ISO-8601 date or datetime, got {show(text)}")
    year, month, day, hh, mm, ss, fraction, z, sign, oh, om = match.groups()
    hour, minute, second = int(hh or 0), int(mm or 0), int(ss or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise BadInstant(f"{show(text)} is not a valid time of day")
    try:
        days = days_since_epoch(int(year), int(month), int(day))
    except ValueError:
        raise BadInstant(f"{show(text)} is not a valid date") from None
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0  # beyond ns: cut
    clock = hour * 3600 + minute * 60 + second
    if z:
        return days * DAY + clock, nanos
    if sign:
        offset_h, offset_m = int(oh), int(om or 0)
        if offset_h > 23 or offset_m > 59:
            raise BadInstant(f"{show(text)} has an invalid offset")
        offset = offset_h * 3600 + offset_m * 60
        wall = days * DAY + clock
        return (wall - offset if sign == "+" else wall + offset), nanos
    return wall_to_utc(days, clock, zone, text), nanos


def epoch_number(v: Any, unit: str | None, type_name: str) -> tuple[int, int]:
    """An epoch (int, exact float, Decimal or numeric text) in ``unit`` as (seconds, nanoseconds)."""
    if unit is None:
        raise BadInstant(
            f"{show(v)} looks like an epoch number but {type_name} needs to know its unit: "
            "set unit to s, ms, us or ns on this column"
        )
    per_second = PER_SECOND[unit]
    if type(v) is int:
        seconds, part = divmod(v, per_second)
        return seconds, part * (NANOS // per_second)
    number = v if isinstance(v, Decimal) else Decimal(repr(v) if type(v) is float else str(v).strip())
    if not number.is_finite() or (not number.is_zero() and number.adjusted() >= _EPOCH_DIGITS):
        raise BadInstant(f"{show(v)} is out of range for {type_name}")
    # Exact: precision enough for every digit of the literal, so nothing is rounded
    # before the floor to whole nanoseconds.
    context = Context(prec=len(number.as_tuple().digits) + 40, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation])
    unit_digits = len(str(per_second)) - 1
    floored = number.scaleb(-unit_digits, context).quantize(_NANO, rounding=ROUND_FLOOR, context=context)
    return divmod(int(floored.scaleb(9, context)), NANOS)


def instant(v: Any, unit: str | None, zone: ZoneInfo | None, type_name: str, floats: Floats) -> tuple[int, int]:
    """Any accepted value of a date/time column as (seconds, nanoseconds); BadInstant if none.

    A float epoch whose literal ``floats`` cannot vouch for raises InexactFloat, so that
    the caller decodes the message exactly.
    """
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if isinstance(v, str):
        text = v.strip()
        if NUMBER_TEXT.fullmatch(text):
            return epoch_number(text, unit, type_name)
        return parse_iso(text, zone)
    kind = type(v)
    if kind is int or kind is Decimal:
        return epoch_number(v, unit, type_name)
    if kind is float:
        if v - v != 0.0:
            raise BadInstant(f"{show(v)} is not a valid {type_name}")
        check_literal(v, floats)
        return epoch_number(v, unit, type_name)
    if isinstance(v, datetime):
        if v.tzinfo is None:
            days = days_since_epoch(v.year, v.month, v.day)
            clock = v.hour * 3600 + v.minute * 60 + v.second
            return wall_to_utc(days, clock, zone, v.isoformat()), v.microsecond * 1000
        delta = v - _EPOCH
        return delta.days * DAY + delta.seconds, delta.microseconds * 1000
    if isinstance(v, date):
        return days_since_epoch(v.year, v.month, v.day) * DAY, 0
    raise BadInstant(f"expected an ISO-8601 date or datetime or an epoch number, got {show(v)}")


# ---------------------------------------------------------------------------
# Rendering

#: Text of UTC epoch seconds already met (``second_text``): the fast paths look here first.
SECOND_TEXT: dict[int, str] = {}
_DAY_TEXT: dict[int, str] = {}
CACHE_LIMIT: Final = 20_000


def second_text(seconds: int) -> str:
    """``YYYY-MM-DD hh:mm:ss`` of a UTC epoch second; cached, as a topic's rows come in order."""
    text = SECOND_TEXT.get(seconds)
    if text is None:
        if len(SECOND_TEXT) > CACHE_LIMIT:
            SECOND_TEXT.clear()
        moment = _EPOCH + timedelta(seconds=seconds)
        text = (
            f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        )
        SECOND_TEXT[seconds] = text
    return text


def day_text(days: int) -> str:
    """``YYYY-MM-DD`` of a day number; cached."""
    text = _DAY_TEXT.get(days)
    if text is None:
        if len(_DAY_TEXT) > CACHE_LIMIT:
            _DAY_TEXT.clear()
        day = date.fromordinal(days + _EPOCH_ORDINAL)
        text = _DAY_TEXT[days] = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    return text


def bounds_text(name: str, precision: int) -> str:
    """The range of a type as a reason shows it."""
    low, high = instant_range(name, precision)
    if name in ("date", "date32"):
        return f"{day_text(low // NANOS // DAY)} .. {day_text(high // NANOS // DAY)}"
    digits = precision if name == "datetime64" else 0
    high_fraction = f".{high % NANOS:09d}"[: digits + 1] if digits else ""
    low_fraction = "." + "0" * digits if digits else ""
    return f"{second_text(low // NANOS)}{low_fraction} .. {second_text(high // NANOS)}{high_fraction}"
