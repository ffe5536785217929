"""Turn a Kafka message into a stream row, as one mapping's columns describe.

A ``Mapper`` is compiled once per mapping: each column becomes one small closure that
fetches its source and converts it, so the work per message is a few dict lookups and
the converters of ``connector.types``. Types are parsed, and constants and defaults
converted, when the config is validated (``connector.config``), so a bad one is a
configuration error naming its YAML path, never a per-message one. Values are decoded
by ``connector.decoding``.

Source rules:

* ``value.a.b``: dict keys; a digit segment indexes a list, and is also tried as a key
  when the container is a dict. Descending into anything else means the field is absent.
* ``key`` and ``headers.<name>`` (the last header of that name) are read as UTF-8 text.
* ``timestamp`` is the message timestamp in epoch milliseconds (``unit`` is always ms).
* Absent: the column's default, else null for a nullable type, else a DataError.
  A JSON ``null`` for a typed, non-nullable column: the default, else a DataError.
* Untyped columns pass values through unchanged. (With ``format: bytes`` the config
  gives an untyped ``value`` column the type ``string``: raw bytes have no JSON form.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

import msgspec
import orjson

from connector.config import NO_DEFAULT, ColumnConfig, MappingConfig, SourceKind
from connector.decoding import STRICT_JSON, decode_value, json_kind
from connector.errors import DataError
from connector.exact_json import LONG_RUN, RUN_TABLE, Floats, InexactFloat, decode_exact, might_lose_digits
from connector.records import TIMESTAMP_NOT_AVAILABLE, MessageLike
from connector.types import (
    DECIMALS,
    ColumnType,
    TimeplusType,
    cached_millis,
    cached_tails,
    plain_decimal,
    utf8_reason,
)

# decode_value is the pipeline's other half of building a row: one import for both.
__all__ = ["STRICT_JSON", "Mapper", "compile_mappers", "decode_value"]

Column = Callable[[MessageLike, Any], Any]
Build = Callable[[MessageLike, Any], list[Any]]
#: ``build_value(msg, raw)``: the row for ``msg`` from its undecoded value.
BuildValue = Callable[[MessageLike, bytes | None], list[Any]]
#: ``decode(raw, format)``: ``decode_value``, or a registry format's decoder.
Decode = Callable[[bytes | None, str], Any]
Getter = Callable[[MessageLike, Any], Any]
Fallback = Callable[[], Any]

# Returned by getters when the source has no value (distinct from a JSON null).
_ABSENT: Final = object()


class Mapper:
    """One mapping compiled into functions that build rows from messages.

    The pipeline calls ``build_value``, which decodes too; ``build`` takes a value decoded
    already (by a registry format's decoder, say) and is the general path. Numbers stay
    exact (``connector.exact_json``). On the general path a mapping whose columns rarely
    need a float's digits builds from orjson's decoding and decodes a message again,
    exactly, only when a converter asks (``InexactFloat``); one with decimal columns first
    checks each message for literals orjson would alter; one that passes values on
    unconverted (untyped or ``json`` columns) makes sure every literal it passes on is
    exact. A JSON mapping with a ``Shape`` decodes only the fields it reads, exact by
    construction, and falls back to the general path for anything out of the ordinary.
    """

    __slots__ = ("build", "build_value", "columns", "format", "mapping", "shape", "stream")

    build: Build
    """``build(msg, decoded)``: the row for ``msg`` in column order, from its decoded value; raise DataError."""
    build_value: BuildValue
    """``build_value(msg, raw)``: ``build(msg, decode_value(raw, format))`` in one step, faster."""

    def __init__(self, mapping: MappingConfig) -> None:
        self.mapping = mapping
        self.stream = mapping.stream
        self.columns = tuple(c.name for c in mapping.columns)
        #: How the value is decoded: the mapping's format, or STRICT_JSON.
        self.format = STRICT_JSON if mapping.reject_duplicate_keys else mapping.format
        #: What ``build_value`` decodes a JSON value into, when only the fields read are decoded.
        self.shape = Shape.of(mapping) if self.format == "json" else None
        self.build, self.build_value = _compile(mapping, self.format, self.shape)

    def decoding_with(self, decode: Decode) -> BuildValue:
        """``build_value`` for values that ``decode`` reads (a registry format's decoder)."""
        return _decode_then_build(decode, self.build, self.format)

    def __repr__(self) -> str:
        return f"Mapper(stream={self.stream!r}, columns={self.columns!r})"


def _float_policy(mapping: MappingConfig) -> tuple[Floats, bool | None]:
    """The Floats level rows are first built at, and whether (and how) messages are checked first.

    The check is None (no check), False (literals of 16 or more digits) or True (also
    literals that underflow, for values passed on unconverted).
    """
    if mapping.format != "json":
        return Floats.EXACT, None  # text or bytes: no JSON numbers
    columns = mapping.columns
    if any(c.kind is SourceKind.VALUE and (c.type is None or c.type.passes_numbers_on) for c in columns):
        return Floats.EXACT, True
    if any(c.type is not None and c.type.wants_digits for c in columns):
        return Floats.CHECKED, False
    return Floats.UNCHECKED, None


# ---------------------------------------------------------------------------
# Compiling


def _compile(mapping: MappingConfig, fmt: str, shape: Shape | None) -> tuple[Build, BuildValue]:
    """The mapping's row builders, generated: ``build(msg, d)`` and ``build_value(msg, raw)``.

    Generated, as dataclasses generate ``__init__``: the fields read from the value, the
    inline test for values already in their JSON form (``AsIs``), the calls of the
    converters and the float policy are written out for each mapping, so a row costs one
    Python call plus its converters (a closure per column cost ~0.15 µs more each on
    Python 3.11). A field shared by several paths (``value.user`` of ``user.id`` and
    ``user.country``) is looked up once. Other sources (key, headers, list indexes...)
    call a closure.

    ``build_value`` decodes too. A JSON mapping whose value columns read plain paths
    decodes only those fields, with msgspec, into a Struct made for the mapping
    (``Shape``): integers of any size come out exact and decimal columns get their
    literal's text, so no message needs the check for long literals. Anything that
    Struct cannot take (a field of another shape, invalid JSON), and any value refused,
    is built from the general decoding instead, which says what is wrong.
    """
    floats, check = _float_policy(mapping)
    exact = _RowCode(mapping.columns, Floats.EXACT).function()
    code = _RowCode(mapping.columns, floats)
    stream = mapping.stream

    def located(exc: DataError, msg: MessageLike) -> DataError:
        return exc.located(topic=msg.topic(), partition=msg.partition(), offset=msg.offset(), stream=stream)

    def not_object(decoded: Any) -> DataError:
        return DataError(f"value is {json_kind(decoded)}, but the mapping reads fields of a JSON object")

    exact_name, located_name = code.bind(exact, "exact"), code.bind(located, "located")
    lines = []
    # Paths into the value only make sense in an object: say so instead of "missing field".
    if any(c.kind is SourceKind.VALUE and c.path for c in mapping.columns):
        lines += ["if type(d) is not dict:", f"    raise {code.bind(not_object, 'not_object')}(d)"]
    if check is not None:
        # might_lose_digits' first test, inlined when only long literals count: most messages stop there.
        test = "True" if check else "raw.translate(RUN_TABLE).find(LONG_RUN) >= 0"
        lines += [
            "raw = msg.value() or b''",
            f"if {test} and might_lose_digits(raw, tiny={check}):",
            f"    return {exact_name}(msg, decode_exact(raw))",
        ]
    locate = f"raise {located_name}(exc, msg) from None"
    build: Build = code.function(code.body(lines, exact_name, "msg.value() or b''", locate))

    decode_and_build = _decode_then_build(decode_value, build, fmt)
    if shape is None:
        return build, decode_and_build
    struct = _RowCode(mapping.columns, Floats.UNCHECKED, shape)
    exact_name = struct.bind(exact, "exact")
    general, decode = struct.bind(decode_and_build, "general"), struct.bind(shape.decode, "decode")
    preamble = [
        # msgspec skips unread fields without checking their UTF-8; orjson refuses a value
        # with any invalid text, and so must every path.
        "if raw is None or not (raw.isascii() or valid_utf8(raw)):",
        f"    return {general}(msg, raw)",
        "try:",
        f"    d = {decode}(raw)",
        "except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError",
        f"    return {general}(msg, raw)",
    ]
    # A refused value is refused by the general path: its reason then names the value as
    # the exact decoder reads it (the Struct's floats are not checked for long literals).
    body = struct.body([], exact_name, "raw", f"return {general}(msg, raw)")
    return build, struct.function(preamble + body, params="msg, raw")


def _decode_then_build(decode: Decode, build: Build, fmt: str) -> BuildValue:
    def build_value(msg: MessageLike, raw: bytes | None) -> list[Any]:
        return build(msg, decode(raw, fmt))

    return build_value


class _RowCode:
    """The source text of one row builder and the values its names stand for."""

    def __init__(self, columns: tuple[ColumnConfig, ...], floats: Floats, shape: Shape | None = None) -> None:
        self.lines: list[str] = []
        self.bound: dict[str, Any] = {
            "ABSENT": _ABSENT,
            "DataError": DataError,
            "InexactFloat": InexactFloat,
            "LONG_RUN": LONG_RUN,
            "RUN_TABLE": RUN_TABLE,
            "decode_exact": decode_exact,
            "might_lose_digits": might_lose_digits,
            "valid_utf8": _valid_utf8,
        }
        #: The Struct the value is decoded into (``d`` is one), or None (``d`` is the decoded JSON).
        self.shape = shape
        self.fields: dict[tuple[str, ...], str] = {(): "d"}
        self.results: list[str] = []
        for col in columns:
            self.column(col, floats)

    def bind(self, value: Any, prefix: str) -> str:
        """A name the generated code uses for ``value`` (a free variable of the builder)."""
        name = f"{prefix}{len(self.bound)}"
        self.bound[name] = value
        return name

    def field(self, path: tuple[str, ...]) -> str:
        """A local holding the value at ``path``, or ABSENT; looked up once per row."""
        known = self.fields.get(path)
        if known is not None:
            return known
        parent = self.field(path[:-1])
        local = self.fields[path] = f"f{len(self.fields)}"
        if self.shape is not None:
            # Absent fields hold ABSENT; an object that may be null is ``Struct | None``.
            attribute = self.shape.attributes[path]
            if parent == "d":
                self.lines.append(f"{local} = d.{attribute}")
            else:
                self.lines.append(
                    f"{local} = ABSENT if {parent} is ABSENT or {parent} is None else {parent}.{attribute}"
                )
            return local
        key = self.bind(path[-1], "key")
        # ABSENT[key] raises TypeError too: below an absent field everything is absent.
        self.lines += [
            "try:",
            f"    {local} = {parent}[{key}]",
            "except (KeyError, TypeError):  # TypeError: descended into a non-object",
            f"    {local} = ABSENT",
        ]
        return local

    def column(self, col: ColumnConfig, floats: Floats) -> None:
        result = f"c{len(self.results)}"
        self.results.append(result)
        if col.kind is SourceKind.CONSTANT:
            self.lines.append(f"{result} = {self.bind(col.constant, 'constant')}")
            return
        ct = col.type
        if col.kind is not SourceKind.VALUE or any(_is_index(s) for s in col.path):
            closure = _typed_column(col, ct, floats) if ct else _untyped_column(col)
            self.lines.append(f"{result} = {self.bind(closure, 'column')}(msg, d)")
            return
        if self.shape is not None and col.path in self.shape.literals:
            # A plain number (the usual case) is padded inline, read from the literal's bytes.
            decimal = _plain(self.shape.literals[col.path].parsed)
            scale = decimal.scale or 0
            plain = plain_decimal((decimal.precision or 0) - scale, scale)
            value, literal = self.field(col.path), _decimal_literal(col, self.shape.literals[col.path])
            self.lines += [
                f"if {value} is not ABSENT and (plain := {self.bind(plain.literal.fullmatch, 'plain')}({value})):",
                f'    {result} = str({value}, "ascii") + {self.bind(plain.pads, "pads")}[plain.lastindex]',
                "else:",
                f"    {result} = {self.bind(literal, 'literal')}({value})",
            ]
            return
        absent = self.bind(_on_absent(col, ct), "absent")
        value = self.field(col.path)
        if ct is not None and self.shape is not None and col.path in self.shape.as_is:
            null = self.bind(_on_null(col, ct), "null")
            self.lines.append(
                f"{result} = {absent}() if {value} is ABSENT else {null}() if {value} is None else {value}"
            )
            return
        if ct is None:
            self.lines.append(f"{result} = {absent}() if {value} is ABSENT else {value}")
            return
        # The usual cases first: ABSENT is of no type tested there.
        tests: list[tuple[str, str]] = []
        if ct.as_is is not None:
            kind, above, below, match = ct.as_is
            test = f"type(v) is {self.bind(kind, 'kind')}"
            if above is not None and below is not None:
                test += f" and {self.bind(above, 'above')} < v < {self.bind(below, 'below')}"
            if match is not None:
                test += f" and {self.bind(match, 'match')}(v)"
            tests.append((test, "v"))
        convert = ct.converters[floats]
        millis = cached_millis(convert)
        if millis is not None:
            # The commonest datetime text, inline: its whole second (a hot entry) is the one lookup.
            zones, endings = self.bind(millis.zones, "zones"), self.bind(millis.endings, "endings")
            test = (
                f"type(v) is str and (heads := {zones}.get(v[23:])) is not None"
                f" and (head := heads.get(v[:19])) is not None and (ending := {endings}.get(v[19:23])) is not None"
            )
            tests.append((test, "head + ending"))
        tails = cached_tails(convert)
        if tails is not None:
            # The datetime converter's usual case, inline: two lookups, no call.
            test = (
                f"type(v) is str and (known := {self.bind(tails, 'tails')}.get(v[19:])) is not None"
                " and (head := known[1].get(v[:19])) is not None"
            )
            tests.append((test, "head + known[0]"))
        tests += [("v is ABSENT", f"{absent}()"), ("v is None", f"{self.bind(_on_null(col, ct), 'null')}()")]
        lines = [f"v = {value}"]
        for i, (test, outcome) in enumerate(tests):
            lines += [f"{'elif' if i else 'if'} {test}:", f"    {result} = {outcome}"]
        convert_name, name = self.bind(convert, "convert"), self.bind(col.name, "name")
        lines += [
            "else:",
            "    try:",
            f"        {result} = {convert_name}(v)",
            "    except ValueError as exc:",
            f"        raise DataError(str(exc), column={name}) from None",
        ]
        self.lines += lines

    def body(self, first: list[str], exact: str, raw: str, on_error: str) -> list[str]:
        """``first``, then the columns; an InexactFloat builds with ``exact`` from ``raw`` decoded exactly,
        and a DataError (``exc``) is handled by the line ``on_error``."""
        lines = [
            *first,
            "try:",
            *(f"    {line}" for line in self.lines or ["pass"]),
            "except InexactFloat:",
            f"    return {exact}(msg, decode_exact({raw}))",
            f"return [{', '.join(self.results)}]",
        ]
        return [
            "try:",
            *(f"    {line}" for line in lines),
            "except DataError as exc:",
            f"    {on_error}",
        ]

    def function(self, body: list[str] | None = None, params: str = "msg, d") -> Any:
        """The builder of ``params``: ``body``, or the columns' lines returning the row."""
        lines = body if body is not None else [*self.lines, f"return [{', '.join(self.results)}]"]
        text = "\n".join(f"        {line}" for line in lines)
        source = f"def make({', '.join(self.bound)}):\n    def build({params}):\n{text}\n    return build\n"
        namespace: dict[str, Any] = {}
        exec(source, namespace)
        return namespace["make"](*self.bound.values())


class Shape:
    """The msgspec Struct a mapping's value is decoded into: the fields its columns read, no other.

    Each field of the object (and of the objects below it, as nested Structs that may be
    null) is one attribute; an absent field holds ``ABSENT``. A decimal column's field
    is the literal's text (``msgspec.Raw``), whose digits are exact. The field of a
    column whose values are mostly their own JSON form (an integer in range, text, a
    bool, a list of text) is of that type or null, checked in C, so the row takes it as
    it is; every other field is of any JSON type. A value that is not an object, or a
    field that is not of its type (a nested path's neither an object nor null), fails
    to decode: the general path then decides, as for invalid JSON.
    """

    def __init__(self, leaves: dict[tuple[str, ...], ColumnType | None]) -> None:
        #: The attribute holding each path's field in its parent's Struct.
        self.attributes: dict[tuple[str, ...], str] = {}
        #: The paths read as literal text, and the decimal type of their column.
        self.literals = {path: ct for path, ct in leaves.items() if ct is not None and ct.wants_digits}
        #: The paths whose fields are decoded as their column's JSON form (or null): taken as they are.
        self.as_is: dict[tuple[str, ...], Any] = {}
        for path, ct in leaves.items():
            kind = _own_form(ct) if ct is not None and path not in self.literals else None
            if kind is not None:
                self.as_is[path] = kind
        self.decode: Callable[[bytes], Any] = msgspec.json.Decoder(self._struct((), leaves)).decode

    @classmethod
    def of(cls, mapping: MappingConfig) -> Shape | None:
        """The Shape of a JSON mapping whose value columns all read plain paths into types it serves; else None."""
        leaves: dict[tuple[str, ...], ColumnType | None] = {}
        for col in mapping.columns:
            if col.kind is not SourceKind.VALUE:
                continue
            ct = col.type
            if ct is None or ct.passes_numbers_on or not col.path or any(_is_index(s) for s in col.path):
                return None  # numbers passed on unconverted, the whole value, a list index
            if ct.wants_digits and _plain(ct.parsed).name not in DECIMALS:
                return None  # decimals inside a container: their digits are not one literal
            if col.path in leaves:
                if ct.wants_digits or (leaves[col.path] or ct).wants_digits:
                    return None  # one field read as a decimal's text and as a value
                leaves[col.path] = None  # read by several columns: of any type
            else:
                leaves[col.path] = ct
        paths = set(leaves)
        if not paths or any(path[:i] in paths for path in paths for i in range(1, len(path))):
            return None  # a field read both whole and by its parts
        return cls(leaves)

    def _struct(self, prefix: tuple[str, ...], leaves: dict[tuple[str, ...], ColumnType | None]) -> Any:
        fields: list[tuple[str, Any, Any]] = []
        for key in dict.fromkeys(path[len(prefix)] for path in leaves if path[: len(prefix)] == prefix):
            path = (*prefix, key)
            attribute = self.attributes[path] = f"a{len(fields)}"
            if path in self.literals:
                kind: Any = msgspec.Raw
            elif path in self.as_is:
                kind = self.as_is[path] | None
            elif path in leaves:
                kind = Any
            else:
                kind = self._struct(path, leaves) | None
            fields.append((attribute, kind, msgspec.field(default=_ABSENT, name=key)))
        return msgspec.defstruct("Value", fields, gc=False)


def _own_form(ct: ColumnType) -> Any:
    """The msgspec type of the values ``ct``'s converter returns unchanged, if one says it exactly."""
    as_is, plain = ct.as_is, _plain(ct.parsed)
    if as_is is not None and as_is.match is None:
        if as_is.kind is str or as_is.kind is bool:
            return as_is.kind
        if as_is.kind is int and as_is.above is not None and as_is.below is not None:
            low, high = as_is.above + 1, as_is.below - 1
            if low >= _INT64_MIN and high <= _INT64_MAX:  # the bounds msgspec can check
                return Annotated[int, msgspec.Meta(ge=low, le=high)]
    if plain.name == "array" and plain.args[0].name == "string":
        return list[str]  # the array converter passes a list of text on as it is
    return None


def _plain(t: TimeplusType) -> TimeplusType:
    while t.name in ("nullable", "low_cardinality"):
        t = t.args[0]
    return t


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
#: The first byte of a JSON number literal.
_NUMBER_START: Final = frozenset(b"-0123456789")


def _decimal_literal(col: ColumnConfig, ct: ColumnType) -> Callable[[Any], Any]:
    """A decimal column's value from its field's literal (``msgspec.Raw``), or ABSENT.

    A number is converted from its text, which holds every digit written (the converter's
    fast path pads plain text to the scale); anything else (a string, null...) as orjson
    reads it. A refused value goes to the general path (see ``_compile``), whose reason
    names the number as the exact decoder reads it.
    """
    convert, absent, null, name = ct.convert, _on_absent(col, ct), _on_null(col, ct), col.name

    def column(raw: Any) -> Any:
        if raw is _ABSENT:
            return absent()
        literal = bytes(raw)
        try:
            if literal[0] in _NUMBER_START:
                return convert(literal.decode())
            v = orjson.loads(literal)
            return null() if v is None else convert(v)
        except ValueError as exc:
            raise DataError(str(exc), column=name) from None

    return column


def _on_absent(col: ColumnConfig, ct: ColumnType | None) -> Fallback:
    """Absent source: the default, else null for a nullable type, else a DataError."""
    default = col.default
    if default is not NO_DEFAULT:
        return lambda: default
    if ct is not None and ct.nullable:
        return lambda: None
    return _failure(f"missing {_describe(col)}", col.name)


def _on_null(col: ColumnConfig, ct: ColumnType) -> Fallback:
    """JSON null in a typed column: null when nullable, else the default, else a DataError."""
    if ct.nullable:
        return lambda: None
    default = col.default
    if default is not NO_DEFAULT:
        return lambda: default
    return _failure(ct.null_reason, col.name)


def _failure(reason: str, column: str) -> Fallback:
    def fail() -> Any:
        raise DataError(reason, column=column) from None

    return fail


def _describe(col: ColumnConfig) -> str:
    if col.kind is SourceKind.VALUE:
        return "field " + ".".join(("value", *col.path))
    if col.kind is SourceKind.HEADER:
        return f"header {col.path[0]}"
    return str(col.kind.value)


def _is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit()


# -- column closures: sources other than plain paths in the value ---------------


def _typed_column(col: ColumnConfig, ct: ColumnType, floats: Floats) -> Column:
    name, get, convert = col.name, _getter(col), ct.converters[floats]
    absent, null = _on_absent(col, ct), _on_null(col, ct)

    def column(msg: MessageLike, d: Any) -> Any:
        try:
            v = get(msg, d)
            if v is _ABSENT:
                return absent()
            if v is None:
                return null()
            return convert(v)
        except ValueError as exc:
            raise DataError(str(exc), column=name) from None

    return column


def _untyped_column(col: ColumnConfig) -> Column:
    name, get, absent = col.name, _getter(col), _on_absent(col, None)

    def column(msg: MessageLike, d: Any) -> Any:
        try:
            v = get(msg, d)
        except ValueError as exc:
            raise DataError(str(exc), column=name) from None
        return absent() if v is _ABSENT else v

    return column


# -- getters: fetch a column's source value, or _ABSENT ------------------------


def _getter(col: ColumnConfig) -> Getter:
    kind = col.kind
    if kind is SourceKind.VALUE:
        return _indexed_getter(col.path)
    if kind is SourceKind.HEADER:
        return _header_getter(col.path[0])
    return _MESSAGE_GETTERS[kind]


def _indexed_getter(path: tuple[str, ...]) -> Getter:
    """A path with a list index in it (paths without one are looked up by ``_RowCode``)."""
    steps = tuple((s, int(s) if _is_index(s) else None) for s in path)

    def get_indexed(msg: MessageLike, d: Any) -> Any:
        for key, index in steps:
            if isinstance(d, dict):
                if key not in d:
                    return _ABSENT
                d = d[key]
            elif index is not None and isinstance(d, list) and index < len(d):
                d = d[index]
            else:
                return _ABSENT
        return d

    return get_indexed


def _header_getter(name: str) -> Getter:
    def get(msg: MessageLike, d: Any) -> Any:
        for key, raw in reversed(msg.headers() or ()):
            if key == name:
                if raw is None:
                    return None
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"header {name} is {utf8_reason(raw, exc)}") from None
        return _ABSENT

    return get


def _key(msg: MessageLike, d: Any) -> Any:
    raw = msg.key()
    if raw is None:
        return _ABSENT
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"key is {utf8_reason(raw, exc)}") from None


def _timestamp(msg: MessageLike, d: Any) -> Any:
    kind, ms = msg.timestamp()
    return _ABSENT if kind == TIMESTAMP_NOT_AVAILABLE else ms


_MESSAGE_GETTERS: Final[dict[SourceKind, Getter]] = {
    SourceKind.KEY: _key,
    SourceKind.TOPIC: lambda msg, d: msg.topic(),
    SourceKind.PARTITION: lambda msg, d: msg.partition(),
    SourceKind.OFFSET: lambda msg, d: msg.offset(),
    SourceKind.TIMESTAMP: _timestamp,
}


def compile_mappers(mappings: tuple[MappingConfig, ...]) -> list[Mapper]:
    """A Mapper per mapping (the config's validation already converted constants and defaults)."""
    return [Mapper(mapping) for mapping in mappings]
