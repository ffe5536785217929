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
from typing import Any, Final, NamedTuple

from connector.config import NO_DEFAULT, ColumnConfig, MappingConfig, SourceKind
from connector.decoding import STRICT_JSON, decode_value, json_kind
from connector.errors import DataError
from connector.exact_json import LONG_RUN, RUN_TABLE, Floats, InexactFloat, decode_exact, might_lose_digits
from connector.records import TIMESTAMP_NOT_AVAILABLE, MessageLike
from connector.types import ColumnType, utf8_reason

# decode_value is the pipeline's other half of building a row: one import for both.
__all__ = ["STRICT_JSON", "Mapper", "compile_mappers", "decode_value"]

Column = Callable[[MessageLike, Any], Any]
Getter = Callable[[MessageLike, Any], Any]
Fallback = Callable[[], Any]

# Returned by getters when the source has no value (distinct from a JSON null).
_ABSENT: Final = object()


class Mapper:
    """One mapping compiled into a function per column; builds rows from messages.

    Numbers stay exact (``connector.exact_json``): a mapping whose columns rarely need a
    float's digits builds from orjson's decoding and decodes a message again, exactly,
    only when a converter asks (``InexactFloat``); one with decimal columns first checks
    each message for literals orjson would alter; one that passes values on unconverted
    (untyped or ``json`` columns) makes sure every literal it passes on is exact.
    """

    __slots__ = ("_build", "_build_exact", "_check", "_needs_object", "columns", "format", "mapping", "stream")

    def __init__(self, mapping: MappingConfig) -> None:
        self.mapping = mapping
        self.stream = mapping.stream
        self.columns = tuple(c.name for c in mapping.columns)
        #: How the value is decoded: the mapping's format, or STRICT_JSON.
        self.format = STRICT_JSON if mapping.reject_duplicate_keys else mapping.format
        # Paths into the value only make sense in an object: say so instead of "missing field".
        self._needs_object = any(c.kind is SourceKind.VALUE and c.path for c in mapping.columns)
        floats, self._check = _float_policy(mapping)
        self._build = _assemble([_compile(c, floats) for c in mapping.columns])
        exact = _assemble([_compile(c, Floats.EXACT) for c in mapping.columns]) if floats != Floats.EXACT else None
        self._build_exact = exact or self._build

    def build(self, msg: MessageLike, decoded: Any) -> list[Any]:
        """The row for ``msg`` in column order, from its decoded value; raise DataError."""
        try:
            if self._needs_object and type(decoded) is not dict:
                raise DataError(f"value is {json_kind(decoded)}, but the mapping reads fields of a JSON object")
            check = self._check
            if check is not None:
                raw = msg.value() or b""
                # might_lose_digits' first test, inlined: most messages stop here.
                long_run = raw.translate(RUN_TABLE).find(LONG_RUN) >= 0
                if (long_run or check) and might_lose_digits(raw, tiny=check):
                    return self._build_exact(msg, decode_exact(raw))
            try:
                return self._build(msg, decoded)
            except InexactFloat:
                return self._build_exact(msg, decode_exact(msg.value() or b""))
        except DataError as exc:
            raise self._located(exc, msg) from None

    def _located(self, exc: DataError, msg: MessageLike) -> DataError:
        return exc.located(topic=msg.topic(), partition=msg.partition(), offset=msg.offset(), stream=self.stream)

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


def _assemble(columns: list[Column]) -> Callable[[MessageLike, Any], list[Any]]:
    """One function returning ``[c0(msg, d), c1(msg, d), ...]``.

    Generated, as dataclasses generate ``__init__``: on Python 3.11 a list display of
    direct calls costs half of a comprehension over the closures, which creates a
    function object and a frame for every row.
    """
    names = [f"c{i}" for i in range(len(columns))]
    calls = ", ".join(f"{name}(msg, d)" for name in names)
    source = f"def make({', '.join(names)}):\n    def build(msg, d):\n        return [{calls}]\n    return build\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    build: Callable[[MessageLike, Any], list[Any]] = namespace["make"](*columns)
    return build


def _compile(col: ColumnConfig, floats: Floats) -> Column:
    """The mapping rule: a column's source, default, nullability and type become one closure."""
    if col.kind is SourceKind.CONSTANT:
        constant = col.constant
        return lambda msg, d: constant
    ct = col.type
    absent = _on_absent(col, ct)
    path = col.path
    plain_path = col.kind is SourceKind.VALUE and bool(path) and not any(_is_index(s) for s in path)
    if ct is None:
        if plain_path and len(path) == 1:
            return _untyped_keyed_column(path[0], absent)
        return _untyped_column(col.name, _getter(col), absent)
    typed = _Typed(col.name, ct.converters[floats], absent, _on_null(col, ct), ct.passthrough or _Never)
    if plain_path:
        return _keyed_column(path[0], typed) if len(path) == 1 else _path_column(path, typed)
    return _typed_column(_getter(col), typed)


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


# -- column closures: the hot path --------------------------------------------


class _Never:
    """A type no value has: the passthrough test of columns without one."""


class _Typed(NamedTuple):
    """What a typed column closure needs besides its source."""

    name: str
    convert: Callable[[Any], Any]
    absent: Fallback
    null: Fallback
    #: Values of exactly this type are already in their JSON form.
    same: type


def _keyed_column(key: str, typed: _Typed) -> Column:
    """``value.<key>`` with a type: the most common column, with its lookup inlined."""
    name, convert, absent, null, same = typed

    def column(msg: MessageLike, d: Any) -> Any:
        try:
            v = d[key]
        except (KeyError, TypeError):  # TypeError: the value is not an object
            return absent()
        if type(v) is same:
            return v
        if v is None:
            return null()
        try:
            return convert(v)
        except ValueError as exc:
            raise DataError(str(exc), column=name) from None

    return column


def _path_column(path: tuple[str, ...], typed: _Typed) -> Column:
    """``value.a.b`` with a type and no list index in the path."""
    name, convert, absent, null, same = typed

    def column(msg: MessageLike, d: Any) -> Any:
        try:
            for key in path:
                d = d[key]
        except (KeyError, TypeError):  # TypeError: descended into a non-object
            return absent()
        if type(d) is same:
            return d
        if d is None:
            return null()
        try:
            return convert(d)
        except ValueError as exc:
            raise DataError(str(exc), column=name) from None

    return column


def _typed_column(get: Getter, typed: _Typed) -> Column:
    name, convert, absent, null, same = typed

    def column(msg: MessageLike, d: Any) -> Any:
        try:
            v = get(msg, d)
            if v is _ABSENT:
                return absent()
            if type(v) is same:
                return v
            if v is None:
                return null()
            return convert(v)
        except ValueError as exc:
            raise DataError(str(exc), column=name) from None

    return column


def _untyped_keyed_column(key: str, absent: Fallback) -> Column:
    def column(msg: MessageLike, d: Any) -> Any:
        try:
            return d[key]
        except (KeyError, TypeError):  # TypeError: the value is not an object
            return absent()

    return column


def _untyped_column(name: str, get: Getter, absent: Fallback) -> Column:
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
        return _value_getter(col.path)
    if kind is SourceKind.HEADER:
        return _header_getter(col.path[0])
    return _MESSAGE_GETTERS[kind]


def _value_getter(path: tuple[str, ...]) -> Getter:
    if not path:
        return lambda msg, d: d
    if not any(_is_index(s) for s in path):

        def get(msg: MessageLike, d: Any) -> Any:
            try:
                for key in path:
                    d = d[key]
            except (KeyError, TypeError):  # TypeError: descended into a non-object
                return _ABSENT
            return d

        return get
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
