"""Converters of scalar types: integers, floats, decimals, bool, strings, uuid, ip addresses, enums."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any, Final

import orjson

from connector.types.grammar import DECIMAL_ALIASES, ENUMS, INT_BITS, TimeplusType
from connector.types.values import INT_TEXT, NUMBER_TEXT, Converter, show, utf8

# orjson writes ints in this range; wider int128/int256 values go as quoted numbers.
_JSON_INT_MIN: Final = -(1 << 63)
_JSON_INT_MAX: Final = (1 << 64) - 1


def int_converter(t: TimeplusType, null: str) -> Converter:
    bits = INT_BITS[t.name]
    low, high = (0, (1 << bits) - 1) if t.name[0] == "u" else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    name = t.name

    def slow(v: Any) -> Any:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        integral_float = type(v) is float and v.is_integer()
        if integral_float or (isinstance(v, str) and INT_TEXT.fullmatch(v.strip())):
            v = int(v)
        elif type(v) is not int:
            raise ValueError(f"{show(v)} is not a valid {name}")
        if not low <= v <= high:
            raise ValueError(f"{v} is out of range for {name}")
        return v if _JSON_INT_MIN <= v <= _JSON_INT_MAX else str(v)

    def convert(v: Any) -> Any:
        if type(v) is int and low <= v <= high:
            return v
        return slow(v)

    # int128 and wider: every value goes through the check for orjson's range.
    return convert if bits <= 64 else slow


_FLOAT32_MAX: Final = 3.4028234663852886e38


def _float_converter(t: TimeplusType, null: str) -> Converter:
    name = t.name
    limit = _FLOAT32_MAX if name == "float32" else float("inf")

    def slow(v: Any) -> Any:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        number: float
        if isinstance(v, str) and NUMBER_TEXT.fullmatch(v.strip()):
            number = float(v)
        elif type(v) is int or type(v) is float:
            try:
                number = float(v)
            except OverflowError:
                raise ValueError(f"{show(v)} is out of range for {name}") from None
        else:
            raise ValueError(f"{show(v)} is not a valid {name}")
        if number != number:  # NaN: orjson would write null
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


_DECIMAL_CONTEXT: Final = Context(prec=200, Emax=999_999, Emin=-999_999)


def _decimal_converter(t: TimeplusType, null: str) -> Converter:
    precision, scale = t.precision or 0, t.scale or 0
    step = Decimal(1).scaleb(-scale)

    def convert(v: Any) -> str:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        if type(v) is int:
            number = Decimal(v)
        elif type(v) is float and v - v == 0.0:
            number = Decimal(repr(v))  # the shortest repr is the number the JSON text held
        elif isinstance(v, str) and NUMBER_TEXT.fullmatch(v.strip()):
            number = Decimal(v.strip())
        else:
            raise ValueError(f"{show(v)} is not a valid {t}")
        if not number.is_zero() and number.adjusted() >= precision - scale:
            raise ValueError(
                f"{show(v)} is out of range for {t}: more than {precision - scale} digits before the decimal point"
            )
        exact = number.quantize(step, context=_DECIMAL_CONTEXT)
        if exact != number:
            raise ValueError(f"{show(v)} has more than {scale} digits after the decimal point for {t}")
        return format(exact.copy_abs() if exact.is_zero() else exact, "f")

    return convert


def _bool_converter(t: TimeplusType, null: str) -> Converter:
    words = {"true": True, "false": False, "1": True, "0": False}

    def convert(v: Any) -> bool:
        if v is True or v is False:
            return v
        if type(v) is int and (v == 0 or v == 1):
            return v == 1
        if isinstance(v, bytes):
            v = utf8(v)
        if isinstance(v, str):
            found = words.get(v.strip().lower())
            if found is not None:
                return found
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{show(v)} is not a valid bool (expected true, false, 1 or 0)")

    return convert


def _text(v: Any, t: TimeplusType, null: str) -> str:
    """Any JSON value as the text a string column stores: JSON text for non-strings."""
    if isinstance(v, str):
        return v
    if v is None:
        raise ValueError(null)
    if isinstance(v, bytes):
        return utf8(v)
    if type(v) is int:
        return str(v)  # also beyond 64 bits, which orjson cannot write
    if type(v) is float and v - v != 0.0:
        raise ValueError(f"{show(v)} is not a valid {t}")
    try:
        return orjson.dumps(v).decode()
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"{show(v)} cannot be written as {t}: {exc}") from None


def _string_converter(t: TimeplusType, null: str) -> Converter:
    def convert(v: Any) -> str:
        if type(v) is str:
            return v
        return _text(v, t, null)

    return convert


def _fixed_string_converter(t: TimeplusType, null: str) -> Converter:
    length = t.length or 0

    def convert(v: Any) -> str:
        text = v if type(v) is str else _text(v, t, null)
        if len(text) <= length and text.isascii():
            return text
        size = len(text.encode("utf-8"))
        if size > length:
            raise ValueError(f"{show(text)} is too long for {t}: {size} bytes")
        return text

    return convert


_UUID_TEXT: Final = re.compile(
    r"([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})"
)


def _uuid_converter(t: TimeplusType, null: str) -> Converter:
    def convert(v: Any) -> str:
        if isinstance(v, bytes):
            v = utf8(v)
        if isinstance(v, str):
            match = _UUID_TEXT.fullmatch(v.strip())
            if match is not None:
                return "-".join(match.groups()).lower()
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{show(v)} is not a valid uuid")

    return convert


def _ip_converter(t: TimeplusType, null: str) -> Converter:
    v6 = t.name == "ipv6"

    def parse(v: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if type(v) is int and 0 <= v < (1 << (128 if v6 else 32)):
            return ipaddress.IPv6Address(v) if v6 else ipaddress.IPv4Address(v)
        if not isinstance(v, str) or "%" in v:  # no scoped addresses: Proton has no scope
            raise ValueError
        if not v6:
            return ipaddress.IPv4Address(v)
        try:
            return ipaddress.IPv6Address(v)
        except ValueError:
            # An IPv4 address in an ipv6 column is stored IPv4-mapped, as Proton does.
            return ipaddress.IPv6Address(f"::ffff:{ipaddress.IPv4Address(v)}")

    def convert(v: Any) -> str:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        try:
            return str(parse(v.strip() if isinstance(v, str) else v))
        except ValueError:
            raise ValueError(f"{show(v)} is not a valid {t.name}") from None

    return convert


def _enum_converter(t: TimeplusType, null: str) -> Converter:
    names = {n for n, _ in t.members}
    by_number = {v: n for n, v in t.members}

    def convert(v: Any) -> str:
        if isinstance(v, bytes):
            v = utf8(v)
        if isinstance(v, str) and v in names:
            return v
        if type(v) is int and v in by_number:
            return by_number[v]
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{show(v)} is not a value of {t}")

    return convert


SCALARS: Final[dict[str, Callable[[TimeplusType, str], Converter]]] = {
    "float32": _float_converter,
    "float64": _float_converter,
    "decimal": _decimal_converter,
    **dict.fromkeys(DECIMAL_ALIASES, _decimal_converter),
    "bool": _bool_converter,
    "string": _string_converter,
    "fixed_string": _fixed_string_converter,
    "uuid": _uuid_converter,
    "ipv4": _ip_converter,
    "ipv6": _ip_converter,
    **dict.fromkeys(ENUMS, _enum_converter),
}
