"""Number columns, whose values must stay exact: integers, floats, decimals.

Each ``*_converter`` returns a function turning a decoded JSON value into the value
Timeplus reads for the column, or raising ``ValueError`` with a reason (the mapper adds
the column and message). ``floats`` (``exact_json.Floats``) says how far floats are the
exact values of their JSON literals; a converter that needs the literal of a float it
cannot trust raises ``InexactFloat``, and the mapper decodes that message exactly and
builds its row again.

* Integers: JSON integers of any size, integer text, whole floats and decimals; out of
  range is refused, never clamped or wrapped. Values past the 64-bit JSON range go as
  quoted numbers, which Proton reads for integer columns.
* Decimals: an exact string with ``S`` fraction digits; more digits after the point
  than ``S`` or more before it than ``P - S`` are refused, never rounded.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any, Final, NamedTuple

from connector.exact_json import TINY, Floats, check_literal
from connector.types.grammar import INT_BITS, TimeplusType
from connector.types.values import INT_TEXT, NUMBER_TEXT, Converter, show, utf8

# orjson writes ints in this range; wider int128/int256 values go as quoted numbers.
JSON_INT_MIN: Final = -(1 << 63)
JSON_INT_MAX: Final = (1 << 64) - 1
_SAFE_INT: Final = float(1 << 53)  # up to here a whole float is its literal's integer
_WIDEST: Final = 80  # digits: no integer column holds more (uint256 has 78)
_CONTEXT: Final = Context(prec=200, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation])


# ---------------------------------------------------------------------------
# Integers


def int_range(name: str) -> tuple[int, int]:
    """Inclusive range of int8 … int256 / uint8 … uint256."""
    bits = INT_BITS[name]
    if name.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def whole_number(v: Any, name: str, floats: Floats) -> int:
    """The integer a JSON value spells; ValueError if it spells none, InexactFloat if unsure."""
    kind = type(v)
    if kind is int:
        return int(v)
    if kind is str or kind is bytes:
        text = (utf8(v) if kind is bytes else v).strip()
        if INT_TEXT.fullmatch(text):
            if len(text) > _WIDEST:
                raise ValueError(f"{show(v)} is out of range for {name}")
            return int(text)
        raise ValueError(f"{show(v)} is not a valid {name}")
    if kind is float:
        if v - v != 0.0 or not v.is_integer():
            raise ValueError(f"{show(v)} is not a valid {name}")
        # 5.0000000000000000001 and 1e-400 are whole floats too: only a checked literal counts.
        check_literal(v, floats)
        # The literal's value is its shortest repr (3.00001e+20), not the float's binary value.
        return int(v) if -_SAFE_INT <= v <= _SAFE_INT else int(Decimal(repr(v)))
    if kind is Decimal:
        if not v.is_zero() and v.adjusted() >= _WIDEST:
            raise ValueError(f"{show(v)} is out of range for {name}")
        if v != v.to_integral_value(context=_CONTEXT):
            raise ValueError(f"{show(v)} is not a valid {name}")
        return int(v)
    raise ValueError(f"{show(v)} is not a valid {name}")


def int_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """int8 … uint256: the integer, or its quoted text past the 64-bit JSON range."""
    name = t.name
    low, high = int_range(name)
    fast_low, fast_high = max(low, JSON_INT_MIN), min(high, JSON_INT_MAX)

    def slow(v: Any) -> Any:
        if v is None:
            raise ValueError(null)
        number = whole_number(v, name, floats)
        if not low <= number <= high:
            raise ValueError(f"{number if len(str(number)) <= 60 else show(v)} is out of range for {name}")
        return number if JSON_INT_MIN <= number <= JSON_INT_MAX else str(number)

    def convert(v: Any) -> Any:
        if type(v) is int and fast_low <= v <= fast_high:
            return v
        return slow(v)

    return convert


# ---------------------------------------------------------------------------
# Floats

FLOAT32_MAX: Final = 3.4028234663852886e38
_NON_FINITE_TEXT: Final = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)  # Proton reads these


def non_finite_text(number: float) -> str:
    """A NaN or infinity as Timeplus reads it: JSON has no such number, and orjson would write null."""
    return "nan" if number != number else "inf" if number > 0 else "-inf"


def float_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """float32 / float64: the nearest float (rounding is what the column does); NaN and infinities as text."""
    name = t.name
    limit = FLOAT32_MAX if name == "float32" else float("inf")

    def slow(v: Any) -> Any:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        number: float
        if (type(v) is float and v - v != 0.0) or (isinstance(v, str) and _NON_FINITE_TEXT.fullmatch(v.strip())):
            return non_finite_text(float(v))
        if isinstance(v, str) and NUMBER_TEXT.fullmatch(v.strip()):
            number = float(v)
        elif type(v) is int or type(v) is float or type(v) is Decimal:
            try:
                number = float(v)
            except OverflowError:
                raise ValueError(f"{show(v)} is out of range for {name}") from None
        else:
            raise ValueError(f"{show(v)} is not a valid {name}")
        if number != number:
            raise ValueError(f"{show(v)} is not a valid {name}")
        if not -limit < number < limit:
            raise ValueError(f"{show(v)} is out of range for {name}")
        return number

    def convert(v: Any) -> Any:
        # ``v - v == 0.0`` is False for NaN and infinities, and cheaper than math.isfinite.
        if type(v) is float and v - v == 0.0 and -limit < v < limit:
            return v
        return slow(v)

    return convert


# ---------------------------------------------------------------------------
# Decimals


#: Adding and taking away 1.5 * 2**52 rounds a float below 2**51 in size to a whole number:
#: the sum lies in [2**52, 2**53), where the floats are the integers.
_ROUNDER: Final = 1.5 * 2.0**52


class PlainDecimal(NamedTuple):
    """``[-]digits[.digits]``, non-zero, with 1 to ``before`` digits before the point (no
    leading zero) and up to ``scale`` after: text that needs only zeros appended.

    A match's ``lastindex`` tells how many: ``pads[match.lastindex]`` is nothing for
    ``scale`` fraction digits, one zero for one fewer, … the point and ``scale`` zeros for
    none. Possessive counts and an atomic group keep failing text linear.
    """

    text: re.Pattern[str]
    #: The same pattern for bytes-like literals (a JSON number's ``msgspec.Raw``).
    literal: re.Pattern[bytes]
    pads: dict[int | None, str]


def plain_decimal(before: int, scale: int) -> PlainDecimal:
    """The plain text of ``decimal(before + scale, scale)`` (see ``PlainDecimal``)."""
    wholes = [f"[1-9][0-9]{{0,{before - 1}}}+"] if before else []
    if scale:
        wholes.append(f"0(?=\\.0{{0,{scale - 1}}}[1-9])")  # 0.05, not 0.00: a zero's sign goes
    fractions = [f"\\.[0-9]{{{n}}}+()" for n in range(scale, 0, -1)] + ["()"]
    pattern = f"-?(?:{'|'.join(wholes)})(?>{'|'.join(fractions)})"
    point_zeros = "." + "0" * scale if scale else ""
    pads: dict[int | None, str] = dict(enumerate(["0" * n for n in range(scale)] + [point_zeros], start=1))
    return PlainDecimal(re.compile(pattern), re.compile(pattern.encode()), pads)


def decimal_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """decimal(P, S): the exact number as a string with S fraction digits."""
    type_name, precision, scale = str(t), t.precision or 0, t.scale or 0
    before = precision - scale
    step = Decimal(1).scaleb(-scale)
    point_zeros = "." + "0" * scale if scale else ""
    trusted = floats is not Floats.UNCHECKED
    plain_text = plain_decimal(before, scale)
    plain, pads = plain_text.text.fullmatch, plain_text.pads

    def slow(v: Any) -> str:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        kind = type(v)
        if kind is int:
            number = Decimal(v)
        elif kind is float and v - v == 0.0:
            check_literal(v, floats)
            number = Decimal(repr(v))
        elif kind is Decimal:
            number = v
        elif kind is str and NUMBER_TEXT.fullmatch(v.strip()):
            number = Decimal(v.strip())
        else:
            raise ValueError(f"{show(v)} is not a valid {type_name}")
        if not number.is_zero() and number.adjusted() >= before:
            raise ValueError(
                f"{show(v)} is out of range for {type_name}: more than {before} digits before the decimal point"
            )
        try:
            cut = number.quantize(step, context=_CONTEXT)
        except InvalidOperation:
            cut = None
        if cut is None or cut != number:
            raise ValueError(f"{show(v)} has more than {scale} digits after the decimal point for {type_name}")
        return format(cut.copy_abs() if cut.is_zero() else cut, "f")

    # Up to 15 digits, two decimal texts never share a float. So if ``r / 10**S`` is v
    # again, r the whole number nearest ``v * 10**S`` (below 10**15 in size, so both are
    # exact floats and the division rounds once), the decimal r * 10**-S, of at most 15
    # digits, is v's literal, and ``'%.{S}f' % v`` writes it; otherwise the slow path
    # decides. A few float operations cost a fifth of reading the text back with float().
    by_format = precision <= 15
    template = f"%.{scale}f"
    limit = 10.0**before
    factor = 10.0**scale
    int_limit = 10**before

    def convert(v: Any) -> Any:
        if type(v) is float:
            if trusted and (TINY <= v < limit or -limit < v <= -TINY):
                if by_format:
                    if (v * factor + _ROUNDER - _ROUNDER) / factor == v:
                        return template % v
                else:
                    text = repr(v)
                    if len(text) < 18 and "e" not in text:
                        if text[-2:] == ".0":
                            text = text[:-2]
                        match = plain(text)
                        if match is not None:
                            return text + pads[match.lastindex]
        elif type(v) is str:
            match = plain(v)
            if match is not None:
                return v + pads[match.lastindex]
        elif type(v) is int and -int_limit < v < int_limit and v:
            return str(v) + point_zeros
        return slow(v)

    return convert
