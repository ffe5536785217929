"""Timeplus column types: parse their names, and convert source values to their JSON form.

``parse_type("datetime64(3, 'UTC')")`` gives a ``TimeplusType`` tree; ``make_converter``
compiles it into one small function that turns a decoded source value into the value
Timeplus accepts for that column, or raises ``ValueError`` with a reason a user can act on.

Choices where Timeplus itself would guess or silently clip:

* Integer epochs need an explicit ``unit`` (Proton guesses s/ms/us/ns from the size).
* Sub-second digits beyond a column's precision are truncated (floored), as Proton does
  when it parses a longer fraction; nothing is ever rounded up into the next second.
* Decimals are sent as exact strings; a value with more digits after the point than the
  scale, or more before it than ``P - S``, is rejected rather than rounded.
* Dates and datetimes outside the column's range are rejected (Proton would clip them).
* ``null`` for a non-nullable type is rejected (Proton would store the type's default).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Context, Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

Converter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class TimeplusType:
    """A parsed Timeplus column type; ``str()`` gives its canonical spelling."""

    name: str
    #: Element types: array(T), map(K, V), tuple(...), nullable(T), low_cardinality(T).
    args: tuple[TimeplusType, ...] = ()
    #: Field names of a named tuple (empty for a plain tuple).
    fields: tuple[str, ...] = ()
    #: decimal P, or datetime64 p.
    precision: int | None = None
    #: decimal S.
    scale: int | None = None
    #: fixed_string N.
    length: int | None = None
    #: Time zone of datetime / datetime64, None when the column has none.
    tz: str | None = None
    #: enum8 / enum16 names and their numbers.
    members: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        name = self.name
        if name == "fixed_string":
            return f"fixed_string({self.length})"
        if name == "decimal":
            return f"decimal({self.precision}, {self.scale})"
        if name in _DECIMAL_ALIASES:
            return f"{name}({self.scale})"
        if name == "datetime":
            return f"datetime({_quote(self.tz)})" if self.tz else "datetime"
        if name == "datetime64":
            tz = f", {_quote(self.tz)}" if self.tz else ""
            return f"datetime64({self.precision}{tz})"
        if name in _ENUMS:
            return f"{name}({', '.join(f'{_quote(n)} = {v}' for n, v in self.members)})"
        if self.fields:
            inner = ", ".join(f"{f} {a}" for f, a in zip(self.fields, self.args, strict=True))
            return f"{name}({inner})"
        if self.args:
            return f"{name}({', '.join(str(a) for a in self.args)})"
        return name


def is_nullable(t: TimeplusType) -> bool:
    """True when the column accepts null (``nullable(T)``, also under low_cardinality)."""
    if t.name == "low_cardinality":
        return is_nullable(t.args[0])
    return t.name == "nullable"


def passthrough_type(t: TimeplusType) -> type | None:
    """The Python type whose values the converter of ``t`` returns unchanged, if any."""
    while t.name in ("nullable", "low_cardinality"):
        t = t.args[0]
    return _PASSTHROUGH.get(t.name)


# ---------------------------------------------------------------------------
# Names

_INT_BITS: Final = {f"{s}int{b}": b for s in ("", "u") for b in (8, 16, 32, 64, 128, 256)}
_FLOATS: Final = ("float32", "float64")
_PLAIN: Final = frozenset([*_INT_BITS, *_FLOATS, "bool", "string", "date", "date32", "uuid", "ipv4", "ipv6", "json"])
_DECIMAL_ALIASES: Final = {"decimal32": 9, "decimal64": 18, "decimal128": 38, "decimal256": 76}
_ENUMS: Final = {"enum8": 8, "enum16": 16}
_WRAPPERS: Final = ("array", "nullable", "low_cardinality")
_PARAMETRIC: Final = frozenset(
    ("fixed_string", "decimal", *_DECIMAL_ALIASES, "datetime", "datetime64", *_ENUMS, *_WRAPPERS)
) | {"map", "tuple"}
_KNOWN: Final = sorted(_PLAIN | _PARAMETRIC)
# ClickHouse spellings (case-insensitive) that Proton also understands.
_ALIASES: Final = {"lowcardinality": "low_cardinality", "fixedstring": "fixed_string", "boolean": "bool"}
_NOT_NULLABLE: Final = ("array", "map", "tuple", "nullable", "low_cardinality", "json")
_NOT_MAP_KEY: Final = ("nullable", "array", "map", "tuple", "json", "float32", "float64")
_UTC_NAMES: Final = frozenset(["UTC", "Etc/UTC", "Etc/UCT", "UCT", "GMT", "Etc/GMT", "Zulu", "Universal"])


_PASSTHROUGH: Final[dict[str, type]] = {"string": str, "bool": bool, "json": dict}


def _quote(text: str | None) -> str:
    return "'" + (text or "").replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------------------
# Parsing

_TOKEN = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>[+-]?\d+)"
    r"|(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<punct>[(),=])|(?P<bad>\S))"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, number, string, punct, end
    text: str
    pos: int


def parse_type(text: str) -> TimeplusType:
    """Parse a Timeplus type name such as ``array(nullable(int64))``; raise ValueError."""
    if not text.strip():
        raise ValueError("empty type name")
    return _Parser(text).parse()


class _Parser:
    """Recursive descent over the tokens of one type name."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.i = 0

    def _tokenize(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        pos = 0
        while True:
            match = _TOKEN.match(text, pos)
            if match is None:  # only whitespace is left
                break
            kind = match.lastgroup or "bad"
            if kind == "bad":
                raise ValueError(f"unexpected {match.group(kind)!r} at position {match.start(kind)} in {text!r}")
            tokens.append(_Token(kind, match.group(kind), match.start(kind)))
            pos = match.end()
        tokens.append(_Token("end", "", len(text)))
        return tokens

    def parse(self) -> TimeplusType:
        t = self.any_type()
        self.expect("end")
        return t

    # -- tokens -------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "punct" and token.text == text

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.take()
        if token.kind == kind and (text is None or token.text == text):
            return token
        if token.kind == "end":
            raise ValueError(f"unexpected end of type {self.text!r}")
        raise ValueError(f"unexpected {token.text!r} at position {token.pos} in {self.text!r}")

    def integer(self, what: str, low: int, high: int) -> int:
        token = self.peek()
        if token.kind != "number":
            raise ValueError(f"{what} must be a number, got {token.text or 'nothing'!r}")
        value = int(self.take().text)
        if not low <= value <= high:
            raise ValueError(f"{what} must be {low}..{high}, got {value}")
        return value

    def string(self, what: str) -> str:
        token = self.take()
        if token.kind != "string":
            raise ValueError(f"{what} must be quoted, e.g. 'UTC', got {token.text or 'nothing'!r}")
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])

    # -- grammar ------------------------------------------------------------

    def any_type(self) -> TimeplusType:
        token = self.take()
        if token.kind != "ident":
            if token.kind == "end":
                raise ValueError(f"unexpected end of type {self.text!r}")
            raise ValueError(f"expected a type name at position {token.pos} in {self.text!r}")
        name = token.text.lower()
        name = _ALIASES.get(name, name)
        if name in _PLAIN:
            if self.at("("):
                raise ValueError(f"{name} takes no parameters")
            return TimeplusType(name)
        if name not in _PARAMETRIC:
            close = difflib.get_close_matches(name, _KNOWN, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"unknown type {token.text!r}{hint}")
        if name == "datetime" and not self.at("("):
            return TimeplusType(name)
        if not self.at("("):
            raise ValueError(f"{name} needs parameters, e.g. {_EXAMPLES[name]}")
        self.take()
        t = self.parameters(name)
        self.expect("punct", ")")
        return t

    def parameters(self, name: str) -> TimeplusType:
        if name == "fixed_string":
            return TimeplusType(name, length=self.integer("fixed_string length", 1, 1 << 30))
        if name == "decimal":
            precision = self.integer("decimal precision", 1, 76)
            scale = 0
            if self.at(","):
                self.take()
                scale = self.integer("decimal scale", 0, precision)
            return TimeplusType(name, precision=precision, scale=scale)
        if name in _DECIMAL_ALIASES:
            precision = _DECIMAL_ALIASES[name]
            return TimeplusType(name, precision=precision, scale=self.integer(f"{name} scale", 0, precision))
        if name == "datetime":
            return TimeplusType(name, tz=_check_zone(self.string("datetime time zone")))
        if name == "datetime64":
            precision = self.integer("datetime64 precision", 0, 9)
            tz = None
            if self.at(","):
                self.take()
                tz = _check_zone(self.string("datetime64 time zone"))
            return TimeplusType(name, precision=precision, tz=tz)
        if name in _ENUMS:
            return self.enum_type(name)
        if name == "map":
            key = self.any_type()
            self.expect("punct", ",")
            value = self.any_type()
            if key.name in _NOT_MAP_KEY or key.name.startswith("decimal") or is_nullable(key):
                raise ValueError(f"map keys cannot be {key}")
            return TimeplusType(name, args=(key, value))
        if name == "tuple":
            return self.tuple_type()
        inner = self.any_type()
        if name == "nullable" and inner.name in _NOT_NULLABLE:
            raise ValueError(f"nullable({inner}) is not allowed: {inner.name} cannot be inside nullable")
        if name == "low_cardinality" and inner.name in ("array", "map", "tuple", "json", "low_cardinality"):
            raise ValueError(f"low_cardinality({inner}) is not allowed")
        return TimeplusType(name, args=(inner,))

    def enum_type(self, name: str) -> TimeplusType:
        bits = _ENUMS[name]
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        members: list[tuple[str, int]] = []
        while True:
            label = self.string(f"{name} name")
            number = len(members) + 1
            if self.at("="):
                self.take()
                number = self.integer(f"{name} value of {label!r}", low, high)
            if any(label == n for n, _ in members) or any(number == v for _, v in members):
                raise ValueError(f"{name} has a duplicate name or value: {label!r} = {number}")
            members.append((label, number))
            if not self.at(","):
                return TimeplusType(name, members=tuple(members))
            self.take()

    def tuple_type(self) -> TimeplusType:
        fields: list[str] = []
        args: list[TimeplusType] = []
        while True:
            # ``a int32`` (named) and ``int32`` (plain): a name is followed by another name.
            named = self.peek().kind == "ident" and self.peek(1).kind == "ident"
            if named:
                fields.append(self.take().text)
            args.append(self.any_type())
            if bool(fields) != named or (fields and len(fields) != len(args)):
                raise ValueError("tuple elements must be all named or all unnamed")
            if not self.at(","):
                break
            self.take()
        if len(set(fields)) != len(fields):
            raise ValueError(f"tuple has duplicate field names: {', '.join(fields)}")
        return TimeplusType("tuple", args=tuple(args), fields=tuple(fields))


_EXAMPLES: Final = {
    "fixed_string": "fixed_string(16)",
    "decimal": "decimal(10, 2)",
    **{n: f"{n}(4)" for n in _DECIMAL_ALIASES},
    "datetime64": "datetime64(3) or datetime64(3, 'UTC')",
    "enum8": "enum8('a' = 1, 'b' = 2)",
    "enum16": "enum16('a' = 1, 'b' = 2)",
    "array": "array(int32)",
    "nullable": "nullable(string)",
    "low_cardinality": "low_cardinality(string)",
    "map": "map(string, int64)",
    "tuple": "tuple(int32, string) or tuple(a int32, b string)",
}


def _check_zone(name: str) -> str:
    _zone(name)
    return name


def _zone(name: str | None) -> ZoneInfo | None:
    """The ZoneInfo of a column's time zone; None for UTC, which has a faster path."""
    if name is None or name in _UTC_NAMES:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


# ---------------------------------------------------------------------------
# Converters


def make_converter(t: TimeplusType, unit: str | None = None) -> Converter:
    """Compile a function turning a source value into Timeplus's JSON form for ``t``."""
    return _converter(t, unit, f"null for non-nullable column of type {t}")


def _converter(t: TimeplusType, unit: str | None, null: str) -> Converter:
    name = t.name
    if name == "nullable":
        inner = _converter(t.args[0], unit, null)
        return lambda v: None if v is None else inner(v)
    if name == "low_cardinality":
        return _converter(t.args[0], unit, null)
    if name in _INT_BITS:
        return _int_converter(t, null)
    factory = _FACTORIES.get(name)
    if factory is not None:
        return factory(t, null)
    if name == "date" or name == "date32":
        return _date_converter(t, unit, null)
    if name == "datetime" or name == "datetime64":
        return _datetime_converter(t, unit, null)
    element_null = "null in a non-nullable element of type {}"
    if name == "array":
        return _array_converter(t, _converter(t.args[0], unit, element_null.format(t.args[0])), null)
    if name == "map":
        key = _converter(t.args[0], unit, "null map key")
        return _map_converter(t, key, _converter(t.args[1], unit, element_null.format(t.args[1])), null)
    if name == "tuple":
        elements = tuple(_converter(a, unit, element_null.format(a)) for a in t.args)
        return _tuple_converter(t, elements, null)
    raise ValueError(f"no converter for type {t}")  # parse_type admits nothing else


def _show(v: Any) -> str:
    """A value as a reason shows it: JSON spelling for literals, repr for text."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list | tuple):
        return "a list"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _utf8(v: bytes) -> str:
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(utf8_reason(v, exc)) from None


def utf8_reason(v: bytes, exc: UnicodeDecodeError) -> str:
    """Why ``v`` is not UTF-8, naming the first bad byte and its position."""
    return f"not valid UTF-8 (byte 0x{v[exc.start]:02x} at position {exc.start}: {exc.reason})"


_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# orjson writes ints in this range; wider int128/int256 values go as quoted numbers.
_JSON_INT_MIN: Final = -(1 << 63)
_JSON_INT_MAX: Final = (1 << 64) - 1


def _int_converter(t: TimeplusType, null: str) -> Converter:
    bits = _INT_BITS[t.name]
    low, high = (0, (1 << bits) - 1) if t.name[0] == "u" else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    name = t.name

    def slow(v: Any) -> Any:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = _utf8(v)
        integral_float = type(v) is float and v.is_integer()
        if integral_float or (isinstance(v, str) and _INT_TEXT.fullmatch(v.strip())):
            v = int(v)
        elif type(v) is not int:
            raise ValueError(f"{_show(v)} is not a valid {name}")
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
            v = _utf8(v)
        number: float
        if isinstance(v, str) and _NUMBER_TEXT.fullmatch(v.strip()):
            number = float(v)
        elif type(v) is int or type(v) is float:
            try:
                number = float(v)
            except OverflowError:
                raise ValueError(f"{_show(v)} is out of range for {name}") from None
        else:
            raise ValueError(f"{_show(v)} is not a valid {name}")
        if number != number:  # NaN: orjson would write null
            raise ValueError(f"{_show(v)} is not a valid {name}")
        if not -limit < number < limit:
            raise ValueError(f"{_show(v)} is out of range for {name}")
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
            v = _utf8(v)
        if type(v) is int:
            number = Decimal(v)
        elif type(v) is float and v - v == 0.0:
            number = Decimal(repr(v))  # the shortest repr is the number the JSON text held
        elif isinstance(v, str) and _NUMBER_TEXT.fullmatch(v.strip()):
            number = Decimal(v.strip())
        else:
            raise ValueError(f"{_show(v)} is not a valid {t}")
        if not number.is_zero() and number.adjusted() >= precision - scale:
            raise ValueError(
                f"{_show(v)} is out of range for {t}: more than {precision - scale} digits before the decimal point"
            )
        exact = number.quantize(step, context=_DECIMAL_CONTEXT)
        if exact != number:
            raise ValueError(f"{_show(v)} has more than {scale} digits after the decimal point for {t}")
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
            v = _utf8(v)
        if isinstance(v, str):
            found = words.get(v.strip().lower())
            if found is not None:
                return found
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{_show(v)} is not a valid bool (expected true, false, 1 or 0)")

    return convert


def _text(v: Any, t: TimeplusType, null: str) -> str:
    """Any JSON value as the text a string column stores: JSON text for non-strings."""
    if isinstance(v, str):
        return v
    if v is None:
        raise ValueError(null)
    if isinstance(v, bytes):
        return _utf8(v)
    if type(v) is int:
        return str(v)  # also beyond 64 bits, which orjson cannot write
    if type(v) is float and v - v != 0.0:
        raise ValueError(f"{_show(v)} is not a valid {t}")
    try:
        return orjson.dumps(v).decode()
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"{_show(v)} cannot be written as {t}: {exc}") from None


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
            raise ValueError(f"{_show(text)} is too long for {t}: {size} bytes")
        return text

    return convert


_UUID_TEXT: Final = re.compile(
    r"([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})"
)


def _uuid_converter(t: TimeplusType, null: str) -> Converter:
    def convert(v: Any) -> str:
        if isinstance(v, bytes):
            v = _utf8(v)
        if isinstance(v, str):
            match = _UUID_TEXT.fullmatch(v.strip())
            if match is not None:
                return "-".join(match.groups()).lower()
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{_show(v)} is not a valid uuid")

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
            v = _utf8(v)
        try:
            return str(parse(v.strip() if isinstance(v, str) else v))
        except ValueError:
            raise ValueError(f"{_show(v)} is not a valid {t.name}") from None

    return convert


def _enum_converter(t: TimeplusType, null: str) -> Converter:
    names = {n for n, _ in t.members}
    by_number = {v: n for n, v in t.members}

    def convert(v: Any) -> str:
        if isinstance(v, bytes):
            v = _utf8(v)
        if isinstance(v, str) and v in names:
            return v
        if type(v) is int and v in by_number:
            return by_number[v]
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{_show(v)} is not a value of {t}")

    return convert


def _json_converter(t: TimeplusType, null: str) -> Converter:
    def convert(v: Any) -> Any:
        if type(v) is dict or type(v) is list:
            return v
        if v is None:
            raise ValueError(null)
        if isinstance(v, str | bytes):
            try:
                parsed = orjson.loads(v)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        raise ValueError(f"expected a JSON object for json, got {_show(v)}")

    return convert


_FACTORIES: Final[dict[str, Callable[[TimeplusType, str], Converter]]] = {
    "float32": _float_converter,
    "float64": _float_converter,
    "decimal": _decimal_converter,
    **dict.fromkeys(_DECIMAL_ALIASES, _decimal_converter),
    "bool": _bool_converter,
    "string": _string_converter,
    "fixed_string": _fixed_string_converter,
    "uuid": _uuid_converter,
    "ipv4": _ip_converter,
    "ipv6": _ip_converter,
    **dict.fromkeys(_ENUMS, _enum_converter),
    "json": _json_converter,
}


# -- containers ---------------------------------------------------------------


def _at(where: str, exc: ValueError) -> ValueError:
    """Prefix a nested reason with the index or key it came from: ``[3][1]: ...``."""
    reason = str(exc)
    return ValueError(f"{where}{reason}" if reason.startswith("[") else f"{where}: {reason}")


def _array_converter(t: TimeplusType, element: Converter, null: str) -> Converter:
    def convert(v: Any) -> list[Any]:
        if type(v) is not list and type(v) is not tuple:
            if v is None:
                raise ValueError(null)
            raise ValueError(f"expected a list for {t}, got {_show(v)}")
        try:
            return [element(x) for x in v]
        except ValueError:
            pass
        # Convert again, one by one, only to find the index to name.
        for i, x in enumerate(v):
            try:
                element(x)
            except ValueError as exc:
                raise _at(f"[{i}]", exc) from None
        raise AssertionError("unreachable")

    return convert


def _map_converter(t: TimeplusType, key: Converter, value: Converter, null: str) -> Converter:
    def convert(v: Any) -> dict[str, Any]:
        if type(v) is not dict:
            if v is None:
                raise ValueError(null)
            raise ValueError(f"expected an object for {t}, got {_show(v)}")
        out: dict[str, Any] = {}
        for k, x in v.items():
            try:
                converted = key(k)
            except ValueError as exc:
                raise ValueError(f"key {_show(k)}: {exc}") from None
            try:
                # JSON object keys are strings; Proton reads them back as the key type.
                out[converted if type(converted) is str else str(converted)] = value(x)
            except ValueError as exc:
                raise _at(f"[{_show(k)}]", exc) from None
        return out

    return convert


def _tuple_converter(t: TimeplusType, elements: tuple[Converter, ...], null: str) -> Converter:
    fields = t.fields
    count = len(elements)

    def convert(v: Any) -> list[Any]:
        items: Any
        if type(v) is dict and fields:
            missing = [f for f in fields if f not in v]
            if missing:
                raise ValueError(f"missing field {missing[0]!r} for {t}")
            items = [v[f] for f in fields]
        elif type(v) is list or type(v) is tuple:
            items = v
            if len(items) != count:
                raise ValueError(f"expected {count} elements for {t}, got {len(items)}")
        elif v is None:
            raise ValueError(null)
        else:
            raise ValueError(f"expected a list for {t}, got {_show(v)}")
        out: list[Any] = []
        for i, (element, x) in enumerate(zip(elements, items, strict=True)):
            try:
                out.append(element(x))
            except ValueError as exc:
                raise _at(f"[{fields[i]!r}]" if fields else f"[{i}]", exc) from None
        return out

    return convert


# -- dates and times -------------------------------------------------------------

_PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
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
            f"{_show(v)} looks like an epoch number but {t} needs to know its unit: "
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
        v = _utf8(v)
    if isinstance(v, str):
        text = v.strip()
        if _NUMBER_TEXT.fullmatch(text):  # without a unit: says to set one
            return _epoch_of_number(text, unit, t)
        found = _parse_instant(text, zone)
        if found is None:
            raise ValueError(f"expected an ISO-8601 date or datetime, got {_show(v)}")
        return found
    if type(v) is int or (type(v) is float and v - v == 0.0):
        return _epoch_of_number(v, unit, t)
    if isinstance(v, date):
        return _instant_of_object(v, zone)
    if v is None:
        raise ValueError(null)
    raise ValueError(f"expected an ISO-8601 date or datetime or an epoch number, got {_show(v)}")


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


def _date_converter(t: TimeplusType, unit: str | None, null: str) -> Converter:
    low, high = _DAY_RANGES[t.name]
    bounds = f"{_day_text(low)} .. {_day_text(high)}"

    def convert(v: Any) -> str:
        if type(v) is str and len(v) == 10 and _DATE_TEXT.fullmatch(v):
            try:
                days = _days(int(v[:4]), int(v[5:7]), int(v[8:]))
            except ValueError:
                raise ValueError(f"expected an ISO-8601 date or datetime, got {_show(v)}") from None
            if low <= days <= high:
                return v
        else:
            seconds, _ = _instant(v, unit, None, t, null)
            days = seconds // _DAY
            if low <= days <= high:
                return _day_text(days)
        raise ValueError(f"{_show(v)} is out of range for {t} ({bounds})")

    return convert


def _datetime_converter(t: TimeplusType, unit: str | None, null: str) -> Converter:
    precision = t.precision or 0
    zone = _zone(t.tz)
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
            raise ValueError(f"{_show(v)} is out of range for {t} ({bounds})")
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
