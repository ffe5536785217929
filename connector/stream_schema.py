"""Streams as the mappings imply them, and whether an existing stream's columns fit.

Pure: ``check`` and ``create-streams`` use it with schemas read through Timeplus's API.

* ``implied_type`` — the type a column sends: its ``type``, else what its source always
  is (``key``, ``headers.*``, ``topic``: string; ``partition``: int32; ``offset`` and an
  untyped ``timestamp``: int64 epoch ms; a constant: its own kind). An untyped ``value``
  column passes values as they come: only a registry schema says what they are
  (``registry_types.derive``, passed in as ``derived``); otherwise nothing can be said.
* ``fit`` — can a stream column of type S store what the mapping sends as type T?
* ``implied_streams`` — each stream's columns, merged over the mappings that feed it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connector.config import ColumnConfig, MappingConfig, SourceKind
from connector.findings import Level
from connector.types import TimeplusType, parse_type
from connector.types.grammar import DECIMAL_ALIASES, INT_BITS

_BY_SOURCE = {
    SourceKind.KEY: "string",
    SourceKind.HEADER: "string",
    SourceKind.TOPIC: "string",
    SourceKind.PARTITION: "int32",
    SourceKind.OFFSET: "int64",
    SourceKind.TIMESTAMP: "int64",
}
_CONSTANT = {str: "string", bool: "bool", int: "int64", float: "float64"}
_DECIMALS = ("decimal", *DECIMAL_ALIASES)
_DATETIMES = ("datetime", "datetime64")


@dataclass(frozen=True, slots=True)
class StreamColumn:
    """A column as Timeplus describes it; ``type`` includes ``nullable(...)`` when it is."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class StreamSchema:
    """A stream and its columns as Timeplus describes them (``_tp_time`` included)."""

    name: str
    columns: tuple[StreamColumn, ...]

    def column(self, name: str) -> StreamColumn | None:
        """The column called ``name``, if the stream has it."""
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True, slots=True)
class ImpliedStream:
    """A stream the mappings write to: its columns (None where no type is known), and conflicts."""

    name: str
    columns: tuple[tuple[str, str | None], ...]
    conflicts: tuple[str, ...] = ()

    def create_sql(self) -> str:
        """``CREATE STREAM IF NOT EXISTS`` for this stream; ValueError when a column has no type."""
        untyped = [name for name, type_name in self.columns if type_name is None]
        if untyped:
            raise ValueError(f"stream {self.name}: give column(s) {', '.join(untyped)} a type in the config")
        columns = ", ".join(f"{_quote(name)} {type_name}" for name, type_name in self.columns)
        return f"CREATE STREAM IF NOT EXISTS {_quote(self.name)} ({columns})"


def implied_type(column: ColumnConfig, derived: str | None = None) -> str | None:
    """The Timeplus type of what ``column`` sends (``derived`` from a schema), or None when only the data knows."""
    if column.type is not None:
        return str(column.type)
    if derived is not None:
        return derived
    if column.kind is SourceKind.CONSTANT:
        return _CONSTANT.get(type(column.constant))
    return _BY_SOURCE.get(column.kind)


def implied_streams(
    mappings: Sequence[MappingConfig], derived: Sequence[Mapping[str, str]] = ()
) -> list[ImpliedStream]:
    """Every target stream once, in config order, with its columns in first-seen order.

    ``derived``: per mapping, the types of untyped columns read from registry schemas.
    """
    found: dict[str, dict[str, str | None]] = {}
    conflicts: dict[str, list[str]] = {}
    for index, mapping in enumerate(mappings):
        columns = found.setdefault(mapping.stream, {})
        from_schema = derived[index] if index < len(derived) else {}
        for column in mapping.columns:
            type_name = implied_type(column, from_schema.get(column.name))
            if column.name not in columns or columns[column.name] is None:
                columns[column.name] = type_name
            elif type_name is not None and type_name != columns[column.name]:
                conflicts.setdefault(mapping.stream, []).append(
                    f"{column.where or column.name}: type {type_name}, another mapping says {columns[column.name]}"
                )
    return [
        ImpliedStream(name, tuple(columns.items()), tuple(conflicts.get(name, ()))) for name, columns in found.items()
    ]


def fit(stream_type: str, column: ColumnConfig, derived: str | None = None) -> tuple[Level, str]:
    """Whether a stream column of ``stream_type`` stores what ``column`` sends (as ``derived``), and why."""
    sent = implied_type(column, derived)
    if sent is None:
        return Level.OK, f"{stream_type}; untyped: values go as they come"
    try:
        target = parse_type(stream_type)
    except ValueError as exc:
        return Level.WARNING, f"cannot read the stream's type {stream_type!r} ({exc})"
    level, why = _fit(target, parse_type(sent))
    origin = " (by the registry schema)" if column.type is None and derived is not None else ""
    detail = f"stream has {stream_type}, the mapping sends {sent}{origin}"
    return level, f"{detail}: {why}" if why else stream_type


def _fit(target: TimeplusType, sent: TimeplusType) -> tuple[Level, str]:
    target, sent = _strip(target, "low_cardinality"), _strip(sent, "low_cardinality")
    if target.name == "nullable":
        target = target.args[0]
        sent = sent.args[0] if sent.name == "nullable" else sent
    elif sent.name == "nullable":
        level, why = _fit(target, sent.args[0])
        return max(level, Level.WARNING, key=_rank), why or "a null would be stored as the column's default"
    if target.name in _DATETIMES and sent.name in _DATETIMES:
        return _fit_datetime(target, sent)
    if str(target) == str(sent):
        return Level.OK, ""
    if target.name in INT_BITS and sent.name in INT_BITS:
        if _int_range(sent)[0] >= _int_range(target)[0] and _int_range(sent)[1] <= _int_range(target)[1]:
            return Level.OK, ""
        return Level.PROBLEM, "some values would not fit"
    if target.name == "float64" and (sent.name == "float32" or sent.name in INT_BITS):
        return Level.OK, ""
    if target.name in _DECIMALS and sent.name in _DECIMALS:
        if target.scale == sent.scale and (target.precision or 0) >= (sent.precision or 0):
            return Level.OK, ""
        return Level.PROBLEM, "different precision or scale"
    if {target.name, sent.name} == {"date", "date32"}:
        return Level.WARNING, "the ranges differ"
    if target.name == "fixed_string" and sent.name == "string":
        return Level.WARNING, f"strings longer than {target.length} bytes would be refused"
    if target.name == sent.name and target.args and len(target.args) == len(sent.args):
        verdicts = [_fit(t, s) for t, s in zip(target.args, sent.args, strict=True)]
        worst = max(verdicts, key=lambda v: _rank(v[0]))
        return worst[0], worst[1] and f"elements: {worst[1]}"
    return Level.PROBLEM, "incompatible types"


def _fit_datetime(target: TimeplusType, sent: TimeplusType) -> tuple[Level, str]:
    if (target.tz or "UTC") != (sent.tz or "UTC"):
        return Level.PROBLEM, "the time zones differ, so every value would shift"
    if target.tz is None:
        return Level.WARNING, "the stream reads zone-less text in the server's time zone: declare 'UTC' on both"
    if (sent.precision or 0) > (target.precision or 0):
        return Level.WARNING, "sub-second digits beyond the stream's precision are cut"
    return Level.OK, ""


def _strip(t: TimeplusType, wrapper: str) -> TimeplusType:
    while t.name == wrapper:
        t = t.args[0]
    return t


def _int_range(t: TimeplusType) -> tuple[int, int]:
    bits = INT_BITS[t.name]
    return (0, 2**bits - 1) if t.name.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _rank(level: Level) -> int:
    return (Level.OK, Level.WARNING, Level.PROBLEM).index(level)


def _quote(name: str) -> str:
    return name if name.isidentifier() and name.isascii() else "`" + name.replace("`", "\\`") + "`"
