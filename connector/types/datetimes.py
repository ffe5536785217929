"""Date and time columns: every accepted form to one instant, sent in a form read one way.

Instants go to Timeplus as ``YYYY-MM-DD hh:mm:ss[.fff]Z``: UTC with an explicit ``Z``,
which Proton's ingest reads with ``date_time_input_format = best_effort``
(``IngestRestRouterHandler.cpp``) as that instant whatever the column's or the server's
time zone. Wall-clock text in the column's zone would read two ways in the hour a
daylight-saving change repeats, and would depend on the server's zone when the column
names none. Dates go as ``YYYY-MM-DD``.

The common forms (``…T12:34:56.789Z``, ``…+02:00``, a plain date, an epoch integer) take
a fast path: the whole-second part is parsed once and cached, the rest is string
slicing (≤ 1 µs per value, ``bench/micro_types.py``). Everything else goes through
``instants`` (the forms accepted, the ranges per type and precision).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final, NamedTuple
from weakref import WeakKeyDictionary

from connector.exact_json import Floats
from connector.types.grammar import TimeplusType, zone_info
from connector.types.instants import (
    CACHE_LIMIT,
    DAY,
    NANOS,
    PER_SECOND,
    SECOND_TEXT,
    BadInstant,
    bounds_text,
    day_text,
    instant,
    instant_range,
    parse_iso,
    second_text,
)
from connector.types.values import Converter, show

EPOCH_UNITS: Final = tuple(PER_SECOND)
# 'YYYY-MM-DDThh:mm:ss.fff+hh:mm' is the longest text whose tail is cached (3 digits at most).
_LONGEST_CACHED: Final = 30
# Zone forms (offsets) a converter keeps whole-second texts for; past this it starts anew.
_ZONE_FORMS: Final = 64


def datetime_converter(t: TimeplusType, unit: str | None, null: str, floats: Floats) -> Converter:
    """A converter for datetime / datetime64(p[, tz]) columns: to ``YYYY-MM-DD hh:mm:ss[.f]Z``."""
    name, precision, zone, type_name = t.name, t.precision or 0, zone_info(t.tz), str(t)
    low, high = instant_range(name, precision)
    bounds = bounds_text(name, precision)
    step = 10 ** (9 - precision)
    # Seconds whose every fraction is in range: the fast paths check only these.
    first_second, last_second = -(-low // NANOS), (high - NANOS + step) // NANOS
    pad = "0" * precision
    zero_fraction = f".{pad}Z" if precision else "Z"
    width = precision + 1 if precision else -1  # '.' and the digits the column keeps
    # By zone form ('Z', '+02:00', '' for wall time): the UTC 'YYYY-MM-DD hh:mm:ss' of the
    # whole-second texts ('2026-01-01T12:34:56') already met in that form.
    zone_heads: dict[str, dict[str, str]] = {}
    # By the text after the whole seconds ('.123Z', '.123+02:00', ''), when its fraction
    # has at most 3 digits (so there are few of them): its ending in the output
    # ('.123Z') and the whole-second texts of its zone form.
    tails: dict[str, tuple[str, dict[str, str]]] = {}

    def render(seconds: int, nanos: int) -> str:
        total = seconds * NANOS + nanos
        total -= total % step
        if not low <= total <= high:
            raise BadInstant(f"out of range for {type_name} ({bounds})")
        seconds, nanos = divmod(total, NANOS)
        if not precision:
            return second_text(seconds) + "Z"
        return f"{second_text(seconds)}.{nanos // step:0{precision}d}Z"

    def slow(v: Any) -> str:
        if v is None:
            raise ValueError(null)
        try:
            seconds, nanos = instant(v, unit, zone, type_name, floats)
            return render(seconds, nanos)
        except BadInstant as exc:
            reason = str(exc)
            raise ValueError(f"{show(v)} is {reason}" if reason.startswith("out of range") else reason) from None
        except UnicodeDecodeError:
            raise ValueError(f"{show(v)} is not valid UTF-8") from None

    def whole_second(head: str, zone_text: str, heads: dict[str, str]) -> str | None:
        """The UTC text of ``YYYY-MM-DD(T| )hh:mm:ss`` + zone, kept in ``heads``; None if not one."""
        try:
            seconds, _ = parse_iso(head + zone_text, zone)
        except BadInstant:
            return None
        if not first_second <= seconds <= last_second:
            return None
        if len(heads) > CACHE_LIMIT:
            heads.clear()
        text = heads[head] = second_text(seconds)
        return text

    def ending_of(fraction: str) -> str | None:
        """A ``fraction`` of other than ``precision`` digits ('' or '.' and 1-9 digits) cut or
        padded to the precision, and 'Z'; None if it is not one."""
        if not fraction:
            return zero_fraction
        if fraction[0] == "." and len(fraction) <= 10 and fraction.isascii() and fraction[1:].isdigit():
            return (fraction + pad)[:width] + "Z" if precision else "Z"
        return None

    def convert(v: Any) -> Any:
        """'YYYY-MM-DDThh:mm:ss' (or ' ') + '.fff' + 'Z' / '+hh:mm' / '' (wall time in the zone).

        A value whose tail and whole second were met before takes two lookups; others
        are converted from these two parts, which are remembered (the tail only with a
        fraction of 3 digits at most: there are few of them). Anything else goes the
        slow way.
        """
        if type(v) is not str or len(v) < 19:
            return slow(v)
        if len(v) < _LONGEST_CACHED:
            known = tails.get(v[19:])
            if known is not None:
                head = known[1].get(v[:19])
                if head is not None:
                    return head + known[0]
        # The zone is looked for in the tail only (len(v) >= 25 for an offset).
        if v[-1] == "Z":
            zone_text, fraction = "Z", v[19:-1]
        elif v[-3] == ":" and (v[-6] == "+" or v[-6] == "-") and len(v) >= 25:
            zone_text, fraction = v[-6:], v[19:-6]
        else:
            zone_text, fraction = "", v[19:]
        if len(fraction) == width and fraction[0] == "." and fraction.isascii() and fraction[1:].isdigit():
            ending = fraction + "Z"  # as many digits as the column keeps: the usual case
        else:
            other = ending_of(fraction)
            if other is None:
                return slow(v)
            ending = other
        heads = zone_heads.get(zone_text)
        if heads is None:
            if len(zone_heads) > _ZONE_FORMS:
                zone_heads.clear()
                tails.clear()  # they hold the dicts just dropped
            heads = zone_heads[zone_text] = {}
        second = v[:19]
        head = heads.get(second) or whole_second(second, zone_text, heads)
        if head is None:
            return slow(v)
        if len(fraction) <= 4:
            if len(tails) > CACHE_LIMIT:
                tails.clear()
            tails[v[19:]] = (ending, heads)
        return head + ending

    converter = convert if unit is None else _with_fast_epoch(convert, unit, precision, first_second, last_second)
    _TAILS[converter] = tails
    # Millisecond texts, the commonest: the ending is looked up by the fraction itself.
    keep = 1 + min(precision, 3) if precision else 0
    _MILLIS[converter] = Millis(zone_heads, _millisecond_endings(keep, "0" * max(precision - 3, 0) + "Z"))
    return converter


#: The tails a datetime converter caches (``tails`` above), by converter: the mapper's
#: generated code looks them up inline, sparing a call for the usual value.
_TAILS: Final[WeakKeyDictionary[Converter, dict[str, tuple[str, dict[str, str]]]]] = WeakKeyDictionary()


class Millis(NamedTuple):
    """How the mapper's generated code converts ``YYYY-MM-DDThh:mm:ss.fff`` + a zone form met
    before, with no cache of its own: ``zones[v[23:]][v[:19]] + endings[v[19:23]]``.

    The three lookups check the whole text: the keys of ``endings`` are ``.000`` .. ``.999``,
    so a fraction of other digits (or other characters) finds no ending.
    """

    zones: dict[str, dict[str, str]]
    endings: dict[str, str]


@cache
def _millisecond_endings(keep: int, suffix: str) -> dict[str, str]:
    """``.000`` .. ``.999`` -> the output ending of each: its first ``keep`` characters + ``suffix``."""
    return {fraction: fraction[:keep] + suffix for fraction in (f".{i:03d}" for i in range(1000))}


_MILLIS: Final[WeakKeyDictionary[Converter, Millis]] = WeakKeyDictionary()


def cached_millis(convert: Converter) -> Millis | None:
    """A datetime converter's whole-second texts by zone form, for millisecond values; None for others."""
    return _MILLIS.get(convert)


def cached_tails(convert: Converter) -> dict[str, tuple[str, dict[str, str]]] | None:
    """A datetime converter's cache: text after the whole seconds -> (its output ending, UTC
    text by whole-second text). ``tails[v[19:]][1][v[:19]] + tails[v[19:]][0]`` is what
    ``convert(v)`` returns when both lookups succeed; None for other converters."""
    return _TAILS.get(convert)


def _with_fast_epoch(convert: Converter, unit: str, precision: int, first: int, last: int) -> Converter:
    """Integer epochs to UTC text with no more work than a divmod and two lookups."""
    per_second = PER_SECOND[unit]
    unit_digits = len(str(per_second)) - 1
    down = 10 ** max(unit_digits - precision, 0)
    up = 10 ** max(precision - unit_digits, 0)
    if precision <= 3 and unit_digits >= precision:
        # A table of '.000Z' .. '.999Z' (or 'Z'), indexed by the cut fraction: the hot case.
        fractions = tuple(f".{i:0{precision}d}Z" if precision else "Z" for i in range(10**precision))

        def table(v: Any) -> Any:
            if type(v) is int:
                seconds, part = divmod(v, per_second)
                if first <= seconds <= last:
                    return (SECOND_TEXT.get(seconds) or second_text(seconds)) + fractions[part // down]
            return convert(v)

        return table

    def scaled(v: Any) -> Any:
        if type(v) is int:
            seconds, part = divmod(v, per_second)
            if first <= seconds <= last:
                head = SECOND_TEXT.get(seconds) or second_text(seconds)
                return f"{head}.{part // down * up:0{precision}d}Z" if precision else head + "Z"
        return convert(v)

    return scaled


def date_converter(t: TimeplusType, unit: str | None, null: str, floats: Floats) -> Converter:
    """A converter for date / date32 columns: to ``YYYY-MM-DD``."""
    name = t.name
    low, high = instant_range(name, 0)
    low_day, high_day = low // NANOS // DAY, high // NANOS // DAY
    bounds = bounds_text(name, 0)
    valid: dict[str, str] = {}

    def slow(v: Any) -> str:
        if v is None:
            raise ValueError(null)
        try:
            seconds, _ = instant(v, unit, None, name, floats)
        except BadInstant as exc:
            raise ValueError(str(exc)) from None
        except UnicodeDecodeError:
            raise ValueError(f"{show(v)} is not valid UTF-8") from None
        days = seconds // DAY
        if not low_day <= days <= high_day:
            raise ValueError(f"{show(v)} is out of range for {name} ({bounds})")
        text = day_text(days)
        if type(v) is str and v == text:
            if len(valid) > CACHE_LIMIT:
                valid.clear()
            valid[v] = v
        return text

    def convert(v: Any) -> Any:
        if type(v) is str:
            text = valid.get(v)
            if text is not None:
                return text
        return slow(v)

    return convert
