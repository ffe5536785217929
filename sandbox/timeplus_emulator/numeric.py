"""Numeric columns: int8 ... uint256, float32/64, decimal, bool."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Sequence
from decimal import ROUND_DOWN, Context, Decimal
from typing import Any

from . import codes
from .codes import ProtonError
from .values import ColumnType, ValueRejected, expected_error, shown

_INT_TEXT = re.compile(r"[+-]?\d+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|nan|infinity)", re.I)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class IntType(ColumnType):
    """int8 ... int256, uint8 ... uint256: JSON integers or quoted integers, in range."""

    def __init__(self, name: str, bits: int, signed: bool) -> None:
        self.name = name
        self.lo = -(1 << (bits - 1)) if signed else 0
        self.hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1

    def default(self) -> int:
        return 0

    def _convert(self, value: Any) -> int:
        kind = type(value)
        if kind is int:
            return self._in_range(value)
        if kind is str:
            if _INT_TEXT.fullmatch(value):
                return self._in_range(int(value))
            raise ValueRejected(
                codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                f"Cannot parse input: {value!r} is not an integer",
            )
        if kind is float and value.is_integer() and abs(value) >= 2**63:
            # orjson turns an integer literal beyond 64 bits into a float: it was out of range.
            raise ValueRejected(
                codes.CANNOT_PARSE_NUMBER, f"Cannot parse number: {value:.0f} is out of range of {self.name}"
            )
        if kind is float:
            # readIntText stops at '.' or 'e' and the row reader then fails (27).
            raise ValueRejected(
                codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                f"Cannot parse input: {value!r} has a fraction or exponent, {self.name} needs an integer",
            )
        raise expected_error(f"an integer for {self.name}", value)

    def _in_range(self, value: int) -> int:
        if self.lo <= value <= self.hi:
            return value
        # Proton's text parser may wrap silently; the emulator refuses (BEHAVIOUR.md).
        raise ValueRejected(codes.CANNOT_PARSE_NUMBER, f"Cannot parse number: {value} is out of range of {self.name}")

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        kinds = set(map(type, values))
        if kinds == {int} and self.lo <= min(values) and max(values) <= self.hi:
            return values
        return super().convert_column(values)

    def convert_key(self, text: str) -> int:
        return self._convert(text)


class FloatType(ColumnType):
    """float32 / float64: JSON numbers, quoted numbers, "nan", "inf"."""

    def __init__(self, name: str, bits: int) -> None:
        self.name = name
        self.bits = bits

    def default(self) -> float:
        return 0.0

    def _convert(self, value: Any) -> float:
        kind = type(value)
        if kind is float:
            result = value
        elif kind is int:
            try:
                result = float(value)
            except OverflowError:
                raise ValueRejected(
                    codes.CANNOT_PARSE_NUMBER, f"Cannot parse number: {value} overflows {self.name}"
                ) from None
        elif kind is str:
            if not _FLOAT_TEXT.fullmatch(value):
                raise ValueRejected(codes.CANNOT_PARSE_NUMBER, f"Cannot read floating point value from {value!r}")
            result = float(value)
        else:
            raise expected_error(f"a number for {self.name}", value)
        return _round32(result) if self.bits == 32 else result

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        kinds = set(map(type, values))
        if kinds <= {float, int} and kinds:
            if self.bits == 32:
                # array('f') rounds to float32 in C, like Proton's static_cast<float>.
                return array("f", values).tolist()
            return values if kinds == {float} else [float(v) for v in values]
        return super().convert_column(values)


def _round32(value: float) -> float:
    return array("f", [value])[0]


_DECIMAL_CONTEXT = Context(prec=200)


class DecimalType(ColumnType):
    """decimal(P, S): a JSON number or string; extra fraction digits are cut, like Proton."""

    def __init__(self, precision: int, scale: int) -> None:
        if not 1 <= precision <= 76 or not 0 <= scale <= precision:
            raise ProtonError(codes.ARGUMENT_OUT_OF_BOUND, f"bad decimal({precision}, {scale})")
        self.name = f"decimal({precision}, {scale})"
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def default(self) -> str:
        return format(Decimal(0), f".{self.scale}f")

    def _convert(self, value: Any) -> str:
        kind = type(value)
        if kind is int:
            number = Decimal(value)
        elif kind is float:
            if not math.isfinite(value):
                raise ValueRejected(codes.CANNOT_PARSE_NUMBER, f"{value!r} is not a decimal")
            number = Decimal(repr(value))
        elif kind is str and _DECIMAL_TEXT.fullmatch(value):
            number = Decimal(value)
        elif kind is str:
            raise ValueRejected(
                codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED, f"Cannot parse input: {value!r} is not a decimal"
            )
        else:
            raise expected_error(f"a number or string for {self.name}", value)
        if number != 0 and number.adjusted() >= self.precision - self.scale:
            raise ValueRejected(
                codes.ARGUMENT_OUT_OF_BOUND,
                f"Too many digits in decimal value {value!r} for {self.name}",
            )
        cut = number.quantize(self._quantum, rounding=ROUND_DOWN, context=_DECIMAL_CONTEXT)
        return format(cut, f".{self.scale}f")


class BoolType(ColumnType):
    """bool: true/false or 1/0, nothing else."""

    name = "bool"

    def default(self) -> bool:
        return False

    def _convert(self, value: Any) -> bool:
        if value is True or value is False:
            return bool(value)
        if type(value) is int and value in (0, 1):
            return value == 1
        raise ValueRejected(codes.CANNOT_PARSE_BOOL, f"Cannot parse boolean value here: {shown(value)}")

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        if set(map(type, values)) == {bool}:
            return values
        return super().convert_column(values)
