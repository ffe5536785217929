"""Proton column types by name: ``parse_type("map(string, array(nullable(int64)))")``.

The kinds live in ``numeric``, ``text``, ``datetimes`` and ``composites``; each checks
a JSON value and returns it as Proton would store and print it (ints as int, decimals
and datetimes as canonical strings), or raises ValueRejected with the Proton error
code a real server would most plausibly raise (BEHAVIOUR.md lists them). Where Proton
is lenient or unclear the rules are stricter (DESIGN.md §4): the emulator must never
accept what Timeplus would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from . import codes
from .codes import ProtonError
from .composites import ArrayType, LowCardinalityType, MapType, NullableType, TupleType
from .datetimes import DateTimeType, DateType
from .numeric import BoolType, DecimalType, FloatType, IntType
from .text import EnumType, FixedStringType, IPv4Type, IPv6Type, JsonType, StringType, UUIDType
from .values import ColumnType, ValueRejected, json_kind

_SIMPLE: dict[str, Callable[[], ColumnType]] = {
    "bool": BoolType,
    "string": StringType,
    "uuid": UUIDType,
    "ipv4": IPv4Type,
    "ipv6": IPv6Type,
    "json": JsonType,
    "float32": lambda: FloatType("float32", 32),
    "float64": lambda: FloatType("float64", 64),
    "date": lambda: DateType("date", date(1970, 1, 1), date(2149, 6, 6)),
    "date32": lambda: DateType("date32", date(1900, 1, 1), date(2299, 12, 31)),
}
for _bits in (8, 16, 32, 64, 128, 256):
    _SIMPLE[f"int{_bits}"] = lambda b=_bits: IntType(f"int{b}", b, True)  # type: ignore[misc]
    _SIMPLE[f"uint{_bits}"] = lambda b=_bits: IntType(f"uint{b}", b, False)  # type: ignore[misc]

_ALIASES = {
    "boolean": "bool",
    "int": "int32",
    "integer": "int32",
    "bigint": "int64",
    "float": "float32",
    "double": "float64",
    "lowcardinality": "low_cardinality",
    "fixedstring": "fixed_string",
    "object": "json",
}

_TOKEN = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>-?\d+)|(?P<str>'(?:[^'\\]|\\.|'')*')|(?P<punct>[(),=]))"
)


class _TypeParser:
    """Recursive descent over a type name such as ``map(string, array(nullable(int64)))``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise self.error(f"unexpected {text[position:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def error(self, why: str) -> ProtonError:
        return ProtonError(codes.UNKNOWN_TYPE, f"Unknown data type {self.text!r}: {why}")

    def peek(self, offset: int = 0) -> tuple[str, str]:
        at = self.index + offset
        return self.tokens[at] if at < len(self.tokens) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self.peek()
        if got_kind != kind or (value is not None and got != value):
            raise self.error(f"expected {value or kind}, found {got or 'the end'}")
        self.index += 1
        return got

    def parse(self) -> ColumnType:
        column_type = self.type()
        if self.peek()[0] != "end":
            raise self.error(f"unexpected {self.peek()[1]!r}")
        return column_type

    def type(self) -> ColumnType:
        word = self.take("ident").lower()
        word = _ALIASES.get(word, word)
        has_args = self.peek() == ("punct", "(")
        if word in _SIMPLE and not has_args:
            return _SIMPLE[word]()
        if word == "datetime":
            zone = self.optional_string_args()
            return DateTimeType(None, zone)
        if not has_args:
            raise self.error(f"{word!r} is not a type this emulator knows")
        self.take("punct", "(")
        result = self.with_args(word)
        self.take("punct", ")")
        return result

    def optional_string_args(self) -> str | None:
        if self.peek() != ("punct", "("):
            return None
        self.take("punct", "(")
        zone = self.string() if self.peek()[0] == "str" else None
        self.take("punct", ")")
        return zone

    def string(self) -> str:
        raw = self.take("str")[1:-1]
        return re.sub(r"\\(.)|''", lambda m: m[1] or "'", raw)

    def number(self) -> int:
        return int(self.take("num"))

    def with_args(self, word: str) -> ColumnType:
        if word in ("nullable", "low_cardinality", "array"):
            inner = self.type()
            wrappers: dict[str, Callable[[ColumnType], ColumnType]] = {
                "nullable": NullableType,
                "low_cardinality": LowCardinalityType,
                "array": ArrayType,
            }
            return wrappers[word](inner)
        if word == "map":
            key = self.type()
            self.take("punct", ",")
            return MapType(key, self.type())
        if word == "tuple":
            return self.tuple_args()
        if word == "datetime64":
            precision = self.number()
            zone = None
            if self.peek() == ("punct", ","):
                self.take("punct", ",")
                zone = self.string()
            return DateTimeType(precision, zone)
        if word == "decimal":
            precision = self.number()
            scale = 0
            if self.peek() == ("punct", ","):
                self.take("punct", ",")
                scale = self.number()
            return DecimalType(precision, scale)
        sizes = {"decimal32": 9, "decimal64": 18, "decimal128": 38, "decimal256": 76}
        if word in sizes:
            return DecimalType(sizes[word], self.number())
        if word == "fixed_string":
            return FixedStringType(self.number())
        if word in ("enum", "enum8", "enum16"):
            return self.enum_args(word)
        raise self.error(f"{word!r} is not a type this emulator knows")

    def tuple_args(self) -> TupleType:
        elements: list[ColumnType] = []
        names: list[str] = []
        while True:
            if self.peek()[0] == "ident" and self.peek(1)[0] == "ident":
                names.append(self.take("ident"))
            elements.append(self.type())
            if self.peek() != ("punct", ","):
                break
            self.take("punct", ",")
        if names and len(names) != len(elements):
            raise self.error("a tuple names all of its elements or none")
        return TupleType(elements, names or None)

    def enum_args(self, word: str) -> EnumType:
        elements: list[tuple[str, int]] = []
        while True:
            label = self.string()
            self.take("punct", "=")
            elements.append((label, self.number()))
            if self.peek() != ("punct", ","):
                break
            self.take("punct", ",")
        if word == "enum":
            small = all(-128 <= n < 128 for _, n in elements)
            word = "enum8" if small else "enum16"
        return EnumType(word, elements)


def parse_type(text: str) -> ColumnType:
    """Parse a Proton type name; raise ProtonError(UNKNOWN_TYPE) if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ProtonError(codes.UNKNOWN_TYPE, f"Unknown data type {text!r}")
    return _TypeParser(text).parse()


TP_TIME = "_tp_time"
TP_TIME_TYPE = DateTimeType(3, "UTC")


def now_tp_time() -> str:
    """``now64(3, 'UTC')``: the default of ``_tp_time``."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


__all__ = [
    "TP_TIME",
    "TP_TIME_TYPE",
    "ColumnType",
    "NullableType",
    "ValueRejected",
    "json_kind",
    "now_tp_time",
    "parse_type",
]
