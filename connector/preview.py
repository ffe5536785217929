"""``preview``: the rows a config would make of the newest messages, and each data error with its reason.

Messages go through the same decoding and ``Mapper`` as in ``run``; nothing is sent to
Timeplus and nothing is committed (the reader never joins the group).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from connector.config import Config
from connector.errors import DataError
from connector.findings import render_table
from connector.mapping import Mapper, compile_mappers, decode_value
from connector.offsets import TopicPartition as TP
from connector.records import MessageLike


class LatestReader(Protocol):
    """What preview needs of Kafka."""

    def topics(self) -> dict[str, int]:
        """Topic → number of partitions."""
        ...

    def latest(self, partitions: list[TP], per_partition: int) -> list[MessageLike]:
        """The newest ``per_partition`` messages of each partition, without joining the group."""
        ...


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """A row the config would send to ``stream``, and the message it comes from."""

    stream: str
    topic: str
    partition: int
    offset: int
    columns: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PreviewError:
    """A message the config could not turn into a row for ``stream``, and why."""

    stream: str
    topic: str
    partition: int
    offset: int
    column: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Preview:
    """What ``preview`` found: rows and errors in message order, and the mapped topics that do not exist."""

    rows: tuple[PreviewRow, ...]
    errors: tuple[PreviewError, ...]
    missing_topics: tuple[str, ...]
    messages: int


def preview(
    config: Config,
    reader: LatestReader,
    per_partition: int,
    decode: Callable[[bytes | None, str], Any] = decode_value,
) -> Preview:
    """Read the newest ``per_partition`` messages of every mapped partition and map them.

    ``decode`` decodes a value in a mapping's format (a registry decoder for avro, protobuf and json_schema).
    """
    topics = reader.topics()
    mappers = compile_mappers(config.mappings)
    named = dict.fromkeys(t for m in config.mappings for t in m.topics)
    missing = tuple(t for t in named if t not in topics)
    read = [t for t in topics if any(m.matches(t) for m in config.mappings)]
    partitions = [(t, p) for t in read for p in range(topics[t])]
    messages = reader.latest(partitions, per_partition) if partitions else []
    rows: list[PreviewRow] = []
    errors: list[PreviewError] = []
    for message in messages:
        topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
        for mapper in mappers:
            if not mapper.mapping.matches(topic):
                continue
            try:
                row = _build(config, mapper, message, decode)
            except DataError as exc:
                errors.append(PreviewError(mapper.stream, topic, partition, offset, exc.column, exc.reason))
                continue
            rows.append(PreviewRow(mapper.stream, topic, partition, offset, mapper.columns, tuple(row)))
    return Preview(tuple(rows), tuple(errors), missing, len(messages))


def _build(
    config: Config, mapper: Mapper, message: MessageLike, decode: Callable[[bytes | None, str], Any]
) -> list[Any]:
    value = message.value()
    if value is not None and len(value) > config.max_message_bytes:
        raise DataError(f"value of {len(value)} bytes is over max_message_bytes ({config.max_message_bytes})")
    return mapper.build(message, decode(value, mapper.format))


def preview_tables(result: Preview) -> str:
    """One table of rows per stream (and column set), then the table of data errors."""
    parts: list[str] = []
    for stream, columns in dict.fromkeys((r.stream, r.columns) for r in result.rows):
        rows = [r for r in result.rows if r.stream == stream and r.columns == columns]
        parts.append(f"stream {stream}: {len(rows)} row(s)")
        header = ("topic", "partition", "offset", *columns)
        cells = [(r.topic, str(r.partition), str(r.offset), *map(_show, r.values)) for r in rows]
        parts.extend((render_table(header, cells, max_width=40), ""))
    parts.append(f"data errors: {len(result.errors)}")
    if result.errors:
        header = ("topic", "partition", "offset", "stream", "column", "reason")
        cells = [(e.topic, str(e.partition), str(e.offset), e.stream, e.column or "", e.reason) for e in result.errors]
        parts.append(render_table(header, cells, max_width=100))
    return "\n".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)
