"""Validating ``mappings``: topics, stream, format, error handling, and each column.

A column's type is parsed once, here, into a ``ColumnType``; its constant or default is
converted with it right away, so a bad one is a config problem naming its YAML path,
reported with every other problem of the file.
"""

from __future__ import annotations

import re
from typing import Any

from connector.config.model import (
    FORMATS,
    NO_DEFAULT,
    ON_ERROR,
    PATH_FORMATS,
    ColumnConfig,
    MappingConfig,
    SourceKind,
)
from connector.config.reader import FAILED, Reader, default, join, show
from connector.config.topics import dead_letter_loops, pattern_problem, topic_name_problem
from connector.exact_json import json_problem
from connector.types import EPOCH_UNITS, ColumnType, column_type

_MAPPING_KEYS = {"topic", "topics", "topic_pattern", "stream", "format", "columns", "on_error", "dlq_topic",
                 "reject_duplicate_keys"}  # fmt: skip
_COLUMN_KEYS = {"from", "value", "type", "default", "unit"}


def read_mappings(r: Reader, raw: Any) -> list[MappingConfig]:
    """The ``mappings`` list, and the rules between mappings that feed one stream."""
    if not isinstance(raw, list) or not raw:
        r.fail("mappings", f"expected a non-empty list of mappings, got {show(raw)}")
        return []
    found = [m for m in (_mapping(r, f"mappings[{i}]", item) for i, item in enumerate(raw)) if m is not None]
    first_into: dict[str, MappingConfig] = {}
    for mapping in found:
        # Rows of one stream share batches, so they share columns and error handling.
        first = first_into.setdefault(mapping.stream, mapping)
        if [c.name for c in first.columns] != [c.name for c in mapping.columns]:
            r.fail(
                f"{mapping.where}.columns",
                f"stream {mapping.stream!r} is also fed by {first.where} with other columns; "
                "give both mappings the same column names in the same order",
            )
        if (first.on_error, first.dlq_topic) != (mapping.on_error, mapping.dlq_topic):
            r.fail(
                f"{mapping.where}.on_error",
                f"stream {mapping.stream!r} is also fed by {first.where} with other on_error/dlq_topic",
            )
    for path, problem in dead_letter_loops(found):
        r.fail(path, problem)
    return found


def _mapping(r: Reader, path: str, raw: Any) -> MappingConfig | None:
    section = r.table(path, raw, _MAPPING_KEYS)
    if not section:
        return None
    topics = _topics(r, path, section)
    pattern = None
    if "topic_pattern" in section:
        pattern = r.string(f"{path}.topic_pattern", section["topic_pattern"])
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                r.fail(f"{path}.topic_pattern", f"not a valid regular expression: {exc}")
                pattern = None
        # librdkafka subscribes with its own regex engine, the pipeline routes with re: both must agree.
        if pattern is not None and (problem := pattern_problem(pattern)) is not None:
            r.fail(f"{path}.topic_pattern", problem)
            pattern = None
    if not {"topic", "topics", "topic_pattern"} & section.keys():
        r.fail(path, "needs one of topic, topics or topic_pattern")
    stream = r.string(f"{path}.stream", section["stream"]) if "stream" in section else None
    if "stream" not in section:
        r.fail(f"{path}.stream", "missing (required)")
    given: dict[str, Any] = {}
    if "format" in section:
        given["format"] = r.choice(f"{path}.format", section["format"], FORMATS)
    if "dlq_topic" in section:
        given["dlq_topic"] = _topic_name(r, f"{path}.dlq_topic", section["dlq_topic"])
    if "on_error" in section:
        given["on_error"] = r.choice(f"{path}.on_error", section["on_error"], ON_ERROR)
    elif given.get("dlq_topic"):
        # Never a silent skip by default: dead-letter when there is somewhere to, else stop.
        given["on_error"] = "dlq"
    if given.get("on_error") == "dlq" and "dlq_topic" not in section:
        r.fail(f"{path}.dlq_topic", "missing: on_error dlq needs a dlq_topic")
    fmt = given.get("format") or default(MappingConfig, "format")
    columns = _columns(r, f"{path}.columns", section.get("columns"), fmt)
    if "reject_duplicate_keys" in section:
        given["reject_duplicate_keys"] = strict = r.boolean(
            f"{path}.reject_duplicate_keys", section["reject_duplicate_keys"]
        )
        if strict and fmt != "json":
            r.fail(f"{path}.reject_duplicate_keys", f"applies to format json only, not {fmt}")
    if stream is None or not columns:
        return None
    given = {key: value for key, value in given.items() if value is not None}
    return MappingConfig(stream=stream, columns=tuple(columns), topics=tuple(topics), topic_pattern=pattern,
                         where=path, **given)  # fmt: skip


def _topics(r: Reader, path: str, section: dict[str, Any]) -> list[str]:
    topics: list[str] = []
    if "topic" in section:
        topic = _topic_name(r, f"{path}.topic", section["topic"])
        topics += [topic] if topic else []
    if "topics" in section:
        listed = section["topics"]
        if not isinstance(listed, list) or not listed:
            r.fail(f"{path}.topics", f"expected a non-empty list of topic names, got {show(listed)}")
        else:
            for i, item in enumerate(listed):
                topic = _topic_name(r, f"{path}.topics[{i}]", item)
                topics += [topic] if topic else []
    return topics


def _topic_name(r: Reader, path: str, raw: Any) -> str | None:
    """A name Kafka accepts (a listed name starting with ^ would be subscribed as a regex)."""
    name = r.string(path, raw)
    if name is not None and (problem := topic_name_problem(name)) is not None:
        r.fail(path, problem)
        return None
    return name


def _columns(r: Reader, path: str, raw: Any, fmt: str) -> list[ColumnConfig]:
    if not isinstance(raw, dict) or not raw:
        r.fail(path, f"expected a mapping of column name to source, got {show(raw)}")
        return []
    columns = [_column(r, join(path, name), str(name), spec, fmt) for name, spec in raw.items()]
    return [c for c in columns if c is not None]


def _column(r: Reader, path: str, name: str, raw: Any, fmt: str) -> ColumnConfig | None:
    spec = _spec(r, path, raw)
    if spec is None:
        return None
    type_text = r.string(f"{path}.type", spec["type"]) if "type" in spec else None
    unit = r.choice(f"{path}.unit", spec["unit"], EPOCH_UNITS) if "unit" in spec else None
    unit_ok = unit is not None or "unit" not in spec
    kind: SourceKind = SourceKind.CONSTANT
    segments: tuple[str, ...] = ()
    if "from" in spec:
        source = _source(r, f"{path}.from" if isinstance(raw, dict) else path, spec["from"], fmt)
        if source is None:
            _check_values(r, path, spec, None)  # still names unset variables
            return None
        kind, segments = source
    if kind is SourceKind.TIMESTAMP:
        if unit not in (None, "ms"):
            r.fail(f"{path}.unit", "Kafka timestamps are epoch milliseconds: leave unit out or set ms")
        unit = "ms"
    if kind is SourceKind.VALUE and fmt == "bytes" and "type" not in spec:
        type_text = "string"  # raw bytes have no JSON form: an untyped value is read as UTF-8 text
    ct = None
    if type_text is not None:
        try:
            ct = column_type(type_text, unit)
        except ValueError as exc:
            r.fail(f"{path}.type", str(exc))
    # Convert only with a sound type and unit: a guess would add problems that are not there.
    ready = unit_ok and ("type" not in spec or ct is not None)
    values = _check_values(r, path, spec, ct if ready else None)
    if values is None:
        return None
    constant, default_ = values
    if kind is SourceKind.CONSTANT:
        return ColumnConfig(name, kind, type=ct, constant=constant, where=path)
    return ColumnConfig(name, kind, segments, type=ct, default=default_, where=path)


def _spec(r: Reader, path: str, raw: Any) -> dict[str, Any] | None:
    """A column's YAML as a mapping: ``value.id`` is short for ``{from: value.id}``."""
    if isinstance(raw, str):
        return {"from": raw}
    if not isinstance(raw, dict):
        r.fail(path, f"expected a source such as value.id or a mapping with 'from', got {show(raw)}")
        return None
    spec = r.table(path, raw, _COLUMN_KEYS)
    if ("from" in spec) == ("value" in spec):
        r.fail(path, "needs exactly one of 'from' (a source) or 'value' (a constant)")
        return None
    return spec


def _check_values(r: Reader, path: str, spec: dict[str, Any], ct: ColumnType | None) -> tuple[Any, Any] | None:
    """The column's constant and default, converted with ``ct`` when given; None on a problem."""
    before = len(r.problems)
    constant = _value(r, f"{path}.value", spec["value"], ct) if "value" in spec else None
    default_ = _value(r, f"{path}.default", spec["default"], ct) if "default" in spec else NO_DEFAULT
    return None if len(r.problems) > before else (constant, default_)


def _value(r: Reader, path: str, raw: Any, ct: ColumnType | None) -> Any:
    """A constant or default, interpolated and converted to the column's type."""
    value = r.interpolate(path, raw)
    if value is FAILED:
        return None
    if ct is None:
        # Sent as it is: it must have a JSON form, or the first batch would fail to encode.
        problem = json_problem(value)
        if problem is not None:
            r.fail(path, f"{problem}; give the column a type, or another value")
        return value
    try:
        return ct.convert(value)
    except ValueError as exc:
        r.fail(path, str(exc))
        return None


def _source(r: Reader, path: str, raw: Any, fmt: str) -> tuple[SourceKind, tuple[str, ...]] | None:
    source = r.string(path, raw)
    if source is None:
        return None
    head, _, rest = source.partition(".")
    try:
        kind = SourceKind(head)
    except ValueError:
        kind = None
    if kind is None or kind is SourceKind.CONSTANT:
        r.fail(
            path,
            f"unknown source {source!r} (expected value[.path], key, headers.<name>, "
            "topic, partition, offset or timestamp)",
        )
        return None
    if kind is SourceKind.HEADER:
        if not rest:
            r.fail(path, "headers needs a header name, e.g. headers.region")
            return None
        return kind, (rest,)
    if kind is SourceKind.VALUE:
        segments = tuple(rest.split(".")) if rest else ()
        if any(not s for s in segments):
            r.fail(path, f"empty segment in path {source!r}")
            return None
        if segments and fmt not in PATH_FORMATS:
            r.fail(path, f"a path into the value needs format {', '.join(PATH_FORMATS)}, not {fmt}")
            return None
        return kind, segments
    if rest:
        r.fail(path, f"{head} has no fields, got {source!r}")
        return None
    return kind, ()
