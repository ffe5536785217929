"""Turn a Kafka message into a stream row, as one mapping's columns describe.

A ``Mapper`` is compiled once per mapping: each column becomes one small closure that
fetches its source and converts it, so the work per message is a few dict lookups and
the converters of ``connector.types``. Constants and defaults are converted once, at
compile time, so a bad one is a configuration error (``ValueError`` naming its YAML
path), never a per-message one. Values are decoded by ``connector.decoding``.

Source rules:

* ``value.a.b``: dict keys; a digit segment indexes a list, and is also tried as a key
  when the container is a dict. Descending into anything else means the field is absent.
* ``key`` and ``headers.<name>`` (the last header of that name) are read as UTF-8 text.
* ``timestamp`` is the message timestamp in epoch milliseconds (``unit`` is always ms).
* Absent: the column's default, else null for a nullable type, else a DataError.
  A JSON ``null`` for a typed, non-nullable column: the default, else a DataError.
* Untyped columns pass values through unchanged. With ``format: bytes`` an untyped
  ``value`` column is read as ``string`` (UTF-8), because raw bytes have no JSON form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from connector.config import NO_DEFAULT, ColumnConfig, MappingConfig, SourceKind
from connector.decoding import STRICT_JSON, decode_value, json_kind
from connector.errors import ConfigError, DataError
from connector.records import TIMESTAMP_NOT_AVAILABLE, MessageLike
from connector.types import (
    TimeplusType,
    is_nullable,
    make_converter,
    parse_type,
    passthrough_type,
    utf8_reason,
)

# decode_value is the pipeline's other half of building a row: one import for both.
__all__ = ["STRICT_JSON", "Mapper", "compile_mappers", "decode_value"]

Column = Callable[[MessageLike, Any], Any]
Getter = Callable[[MessageLike, Any], Any]
Fallback = Callable[[], Any]

# Returned by getters when the source has no value (distinct from a JSON null).
_ABSENT: Final = object()


class Mapper:
    """One mapping compiled into a function per column; builds rows from messages."""

    __slots__ = ("_build", "_needs_object", "columns", "format", "mapping", "stream")

    def __init__(self, mapping: MappingConfig) -> None:
        self.mapping = mapping
        self.stream = mapping.stream
        self.columns = tuple(c.name for c in mapping.columns)
        #: How the value is decoded: the mapping's format, or STRICT_JSON.
        self.format = STRICT_JSON if mapping.reject_duplicate_keys else mapping.format
        # Paths into the value only make sense in an object: say so instead of "missing field".
        self._needs_object = any(c.kind is SourceKind.VALUE and c.path for c in mapping.columns)
        self._build = _assemble([_compile(c, mapping.format) for c in mapping.columns])

    def build(self, msg: MessageLike, decoded: Any) -> list[Any]:
        """The row for ``msg`` in column order, from its decoded value; raise DataError."""
        try:
            if self._needs_object and type(decoded) is not dict:
                raise DataError(f"value is {json_kind(decoded)}, but the mapping reads fields of a JSON object")
            return self._build(msg, decoded)
        except DataError as exc:
            raise self._located(exc, msg) from None

    def row(self, msg: MessageLike) -> list[Any]:
        """Decode ``msg``'s value and build its row; raise DataError."""
        try:
            decoded = decode_value(msg.value(), self.format)
        except DataError as exc:
            raise self._located(exc, msg) from None
        return self.build(msg, decoded)

    def _located(self, exc: DataError, msg: MessageLike) -> DataError:
        return DataError(
            exc.reason,
            column=exc.column,
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            stream=self.stream,
        )

    def __repr__(self) -> str:
        return f"Mapper(stream={self.stream!r}, columns={self.columns!r})"


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


def _compile(col: ColumnConfig, fmt: str) -> Column:
    where = col.where or f"columns.{col.name}"
    t = _column_type(col, fmt, where)
    unit = "ms" if col.kind is SourceKind.TIMESTAMP else col.unit
    convert = make_converter(t, unit) if t is not None else None
    if col.kind is SourceKind.CONSTANT:
        constant = _at_compile_time(convert, col.constant, f"{where}.value")
        return lambda msg, d: constant
    default = col.default
    if default is not NO_DEFAULT:
        default = _at_compile_time(convert, default, f"{where}.default")
    absent = _on_absent(col, t, default)
    path = col.path
    plain_path = col.kind is SourceKind.VALUE and bool(path) and not any(_is_index(s) for s in path)
    if t is None or convert is None:
        if plain_path and len(path) == 1:
            return _untyped_keyed_column(path[0], absent)
        return _untyped_column(col.name, _getter(col), absent)
    typed = _Typed(col.name, convert, absent, _on_null(col.name, t, default), passthrough_type(t) or _Never)
    if plain_path:
        return _keyed_column(path[0], typed) if len(path) == 1 else _path_column(path, typed)
    return _typed_column(_getter(col), typed)


def _column_type(col: ColumnConfig, fmt: str, where: str) -> TimeplusType | None:
    if col.type is None:
        raw_bytes = col.kind is SourceKind.VALUE and fmt == "bytes"
        return parse_type("string") if raw_bytes else None
    try:
        return parse_type(col.type)
    except ValueError as exc:
        raise ValueError(f"{where}.type: {exc}") from None


def _at_compile_time(convert: Callable[[Any], Any] | None, value: Any, where: str) -> Any:
    if convert is None:
        return value
    try:
        return convert(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _on_absent(col: ColumnConfig, t: TimeplusType | None, default: Any) -> Fallback:
    if default is not NO_DEFAULT:
        return lambda: default
    if t is not None and is_nullable(t):
        return lambda: None
    return _failure(f"missing {_describe(col)}", col.name)


def _on_null(name: str, t: TimeplusType | None, default: Any) -> Fallback:
    if t is None or is_nullable(t):
        return lambda: None
    if default is not NO_DEFAULT:
        return lambda: default
    return _failure(f"null for non-nullable column of type {t}", name)


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
    """A Mapper per mapping; ConfigError listing every bad constant or default."""
    mappers, problems = [], []
    for mapping in mappings:
        try:
            mappers.append(Mapper(mapping))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)
    return mappers
