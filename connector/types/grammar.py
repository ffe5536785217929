"""The grammar of Timeplus column types: ``parse_type`` turns a type's name into a ``TimeplusType`` tree."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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
        if name in DECIMAL_ALIASES:
            return f"{name}({self.scale})"
        if name == "datetime":
            return f"datetime({_quote(self.tz)})" if self.tz else "datetime"
        if name == "datetime64":
            tz = f", {_quote(self.tz)}" if self.tz else ""
            return f"datetime64({self.precision}{tz})"
        if name in ENUMS:
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


# ---------------------------------------------------------------------------
# Names

INT_BITS: Final = {f"{s}int{b}": b for s in ("", "u") for b in (8, 16, 32, 64, 128, 256)}
_FLOATS: Final = ("float32", "float64")
_PLAIN: Final = frozenset([*INT_BITS, *_FLOATS, "bool", "string", "date", "date32", "uuid", "ipv4", "ipv6", "json"])
DECIMAL_ALIASES: Final = {"decimal32": 9, "decimal64": 18, "decimal128": 38, "decimal256": 76}
ENUMS: Final = {"enum8": 8, "enum16": 16}
_WRAPPERS: Final = ("array", "nullable", "low_cardinality")
_PARAMETRIC: Final = frozenset(
    ("fixed_string", "decimal", *DECIMAL_ALIASES, "datetime", "datetime64", *ENUMS, *_WRAPPERS)
) | {"map", "tuple"}
_KNOWN: Final = sorted(_PLAIN | _PARAMETRIC)
# ClickHouse spellings (case-insensitive) that Proton also understands.
_ALIASES: Final = {"lowcardinality": "low_cardinality", "fixedstring": "fixed_string", "boolean": "bool"}
_NOT_NULLABLE: Final = ("array", "map", "tuple", "nullable", "low_cardinality", "json")
_NOT_MAP_KEY: Final = ("nullable", "array", "map", "tuple", "json", "float32", "float64")
_UTC_NAMES: Final = frozenset(["UTC", "Etc/UTC", "Etc/UCT", "UCT", "GMT", "Etc/GMT", "Zulu", "Universal"])


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
        if name in DECIMAL_ALIASES:
            precision = DECIMAL_ALIASES[name]
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
        if name in ENUMS:
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
        bits = ENUMS[name]
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
    **{n: f"{n}(4)" for n in DECIMAL_ALIASES},
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
    zone_info(name)
    return name


def zone_info(name: str | None) -> ZoneInfo | None:
    """The ZoneInfo of a column's time zone; None for UTC, which has a faster path."""
    if name is None or name in _UTC_NAMES:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
