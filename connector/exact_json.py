"""JSON decoding that keeps every number literal exact, at orjson's speed on common events.

orjson (3.13) turns an integer literal outside the 64-bit range into a float, rounds a
literal with more significant digits than a double holds, reads ``1e-400`` as ``0.0``
and refuses ``1e400``. A column of type ``int128``, ``uint256`` or ``decimal(38, s)``
would then receive a rounded number with no error. Only floats can be wrong: strings,
booleans and 64-bit integers come out of orjson exactly. So a converter that needs
the digits of a literal knows, from ``Floats``, how far the floats it receives can be
trusted, and raises ``InexactFloat`` when it cannot; the mapper then decodes that one
message with ``decode_exact`` and builds its row again:

* ``Floats.UNCHECKED``: straight from orjson; the common case when a mapping's columns
  rarely need a float's digits (int64, datetimes, strings): no cost until one does.
* ``Floats.CHECKED``: orjson, after ``might_lose_digits`` found no literal of 16 or more
  digits (one ``translate`` and one search, ~0.2 µs on a 250-byte event). A float is
  then its literal unless it underflowed (``|f| < 1e-300``). Mappings with decimal
  columns, whose values are mostly JSON numbers, check every message this way.
* ``Floats.EXACT``: from ``decode_exact`` (the stdlib decoder): integers are ints of any
  size and a literal a float cannot give back exactly is a ``Decimal``; every other
  literal is the same float orjson returns, so one literal is one value on every path.

Values of untyped and ``json`` columns go into the payload as they were decoded;
``encode_exact`` writes the ints beyond 64 bits and the ``Decimal`` literals, which
orjson cannot write, as the number literals they came from (``orjson.Fragment``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import IntEnum
from typing import Any, Final

import orjson

from connector.errors import DataError

#: Digits, the point and the exponent letter to '0', all else to ' ': a number literal is a run.
RUN_TABLE: Final = bytes(48 if chr(c) in "0123456789.eE" else 32 for c in range(256))
_DIGITS_OR_POINT: Final = frozenset(b"0123456789.")
# What may follow a number literal in JSON (a uuid's 'e-4123' is followed by '-').
_AFTER_NUMBER: Final = frozenset(b",]} \t\r\n")
#: A double holds 15 significant decimal digits exactly; a run of 17 characters is the
#: shortest that can hold 16 digits and a point (or a 17-digit integer).
LONG_RUN: Final = b"0" * 17
_INT64_MIN: Final = -(1 << 63)
_UINT64_MAX: Final = (1 << 64) - 1
# Below 1e-300 a literal may fall into the subnormal range (or to 0.0) and lose digits.
_SMALLEST_SAFE_EXPONENT: Final = 300


class Floats(IntEnum):
    """How far the floats of a decoded value are the exact values of their JSON literals."""

    UNCHECKED = 0
    CHECKED = 1
    EXACT = 2


#: Below this a float may have underflowed from a literal such as 1e-400 (also to 0.0).
TINY: Final = 1e-300


def check_literal(v: float, floats: Floats) -> None:
    """Raise InexactFloat unless ``v`` is surely the value of its JSON literal."""
    if floats is not Floats.EXACT and (floats is Floats.UNCHECKED or -TINY < v < TINY):
        raise InexactFloat


class InexactFloat(Exception):
    """A converter met a float whose JSON literal it needs: decode the message exactly, build again.

    Deliberately not a ValueError, so that no converter mistakes it for a bad value.
    """


def might_lose_digits(raw: bytes, *, tiny: bool = False) -> bool:
    """True when a number literal in ``raw`` might not come back exact from orjson.

    Without ``tiny``, literals that underflow (``1e-400``) are not looked for: the
    converters that need digits refuse to trust floats that small (``check_literal``).
    With it, they are, for values passed on without a converter (untyped, ``json``).
    False positives (a long digit run inside a string, say) only cost the slower exact
    decoder; a false negative would be a silently altered number, so every check errs
    on the side of True.
    """
    runs = raw.translate(RUN_TABLE)
    if runs.find(LONG_RUN) >= 0 and _has_long_literal(raw, runs):  # find: faster than `in` here
        return True
    return tiny and (b"e-" in raw or b"E-" in raw) and _has_tiny_exponent(raw)


def _has_long_literal(raw: bytes, runs: bytes) -> bool:
    """Whether one of the long runs is a literal orjson may alter."""
    end = 0
    while True:
        start = runs.find(LONG_RUN, end)
        if start < 0:
            return False
        end = start + len(LONG_RUN)
        while end < len(runs) and runs[end] == 48:
            end += 1
        while start > 0 and runs[start - 1] == 48:
            start -= 1
        token = raw[start:end]
        if not token.isdigit():
            # A point or an exponent: 16 or more digits in a decimal literal (or text
            # that only looks like one, which the exact decoder reads the same).
            return True
        negative = start > 0 and raw[start - 1] == 45  # '-'
        if len(token) >= 20 or (negative and len(token) == 19 and -int(token) < _INT64_MIN):
            return True


def _has_tiny_exponent(raw: bytes) -> bool:
    """Whether some ``<digit>e-NNN`` has an exponent large enough to leave the normal range."""
    for marker in (b"e-", b"E-"):
        at = raw.find(marker)
        while at >= 0:
            digits = at + 2
            end = digits
            while end < len(raw) and 48 <= raw[end] <= 57:
                end += 1
            exponent = raw[digits:end]
            if (
                at > 0
                and raw[at - 1] in _DIGITS_OR_POINT
                and len(exponent) >= 3
                and int(exponent) >= _SMALLEST_SAFE_EXPONENT
            ):
                return True
            at = raw.find(marker, digits)
    return False


def _exact_float(text: str) -> float | Decimal:
    """The float of a decimal literal when it gives the literal back, else its Decimal."""
    number = float(text)
    exact = Decimal(text)
    if number - number == 0.0 and Decimal(repr(number)) == exact:
        return number
    return exact


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_EXACT: Final = json.JSONDecoder(parse_float=_exact_float, parse_constant=_refuse_constant)


def decode_json(raw: bytes) -> Any:
    """Decode JSON bytes with every number literal exact (as ``Floats.EXACT``); raise DataError."""
    if not might_lose_digits(raw, tiny=True):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if "infinity" not in str(exc):  # 1e400: valid JSON, beyond a double
                raise DataError(f"value is not valid JSON: {exc}") from None
    return decode_exact(raw)


def decode_exact(raw: bytes) -> Any:
    """The stdlib decoder with exact numbers, as strict as orjson; raise DataError."""
    try:
        value = _EXACT.decode(raw.decode("utf-8"))
        # orjson refuses lone surrogates (``"\ud800"``); the stdlib accepts them, and the
        # payload encoder would then refuse the whole batch.
        _check_text(value)
    except RecursionError:
        raise DataError("value is not valid JSON: nested too deeply") from None
    except UnicodeEncodeError as exc:
        raise DataError(f"value is not valid JSON: a string holds a lone surrogate ({exc.reason})") from None
    except ValueError as exc:  # also UnicodeDecodeError and 4300-digit integers
        raise DataError(f"value is not valid JSON: {exc}") from None
    return value


def _check_text(value: Any) -> None:
    if type(value) is str:
        if not value.isascii():
            value.encode("utf-8")
    elif type(value) is dict:
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif type(value) is list:
        for item in value:
            _check_text(item)


# ---------------------------------------------------------------------------
# Encoding what the exact decoder produced


def as_fragment(value: Any) -> Any:
    """orjson's ``default``: a Decimal literal as the number it spells."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} is not a JSON number")
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_exact(value: Any) -> bytes:
    """``orjson.dumps`` that also writes ints beyond 64 bits and Decimals as literals."""
    try:
        return orjson.dumps(value, default=as_fragment)
    except orjson.JSONEncodeError:
        return orjson.dumps(_wide_ints_as_fragments(value), default=as_fragment)


def json_problem(value: Any) -> str | None:
    """Why ``encode_exact`` cannot write ``value`` as it is (a NaN, bytes, ...), or None."""
    kind = type(value)
    if kind is float and value - value != 0.0:
        return f"{value} has no JSON form (orjson would write null)"
    if kind is list or kind is tuple:
        return next((p for p in map(json_problem, value) if p is not None), None)
    if kind is dict:
        if any(type(k) is not str for k in value):
            return "an object whose keys are not all text has no JSON form"
        return next((p for p in map(json_problem, value.values()) if p is not None), None)
    try:
        encode_exact(value)
    except (orjson.JSONEncodeError, TypeError) as exc:
        return f"{type(value).__name__} value has no JSON form ({exc})"
    return None


def _wide_ints_as_fragments(value: Any) -> Any:
    kind = type(value)
    if kind is int and not _INT64_MIN <= value <= _UINT64_MAX:
        return orjson.Fragment(str(value))
    if kind is list or kind is tuple:
        return [_wide_ints_as_fragments(v) for v in value]
    if kind is dict:
        return {k: _wide_ints_as_fragments(v) for k, v in value.items()}
    return value
