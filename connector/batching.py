"""Per-stream batches of encoded rows, flushed on rows, bytes or linger time.

Each row is encoded to JSON once, when it is added, so the batch always knows its
exact serialized size and the payload is built by joining bytes (no second encoding).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from connector.offsets import OffsetTracker, Segment
from connector.records import MessageLike


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Flush a batch when any limit is reached."""

    max_rows: int
    max_bytes: int
    linger_s: float


class Batch:
    """Encoded rows bound for one stream, and the segments they came from.

    Rows are copied into one growing buffer: an ``orjson.dumps`` result keeps a
    heap block far larger than its length, so holding one bytes object per row would
    cost tens of times the payload in memory.
    """

    __slots__ = ("_buffer", "_ends", "columns", "created_at", "messages", "segments", "stream")

    def __init__(self, stream: str, columns: Sequence[str], created_at: float) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.segments: list[Segment] = []
        #: The message each row came from, to dead-letter it if Timeplus rejects the row.
        self.messages: list[MessageLike] = []
        self.created_at = created_at
        self._buffer = bytearray()  # rows, each followed by a comma
        self._ends = array("Q")  # where each row ends in the buffer

    def add(self, row: bytes, segment: Segment, message: MessageLike) -> None:
        """Append an encoded row; hold its segment until this batch is delivered."""
        self.messages.append(message)
        buffer = self._buffer
        buffer += row
        self._ends.append(len(buffer))
        buffer += b","
        # Consecutive rows mostly come from the same segment: hold it once per run.
        # A segment held twice is also released twice, so repeats are harmless.
        if not self.segments or self.segments[-1] is not segment:
            OffsetTracker.hold(segment)
            self.segments.append(segment)

    @property
    def size(self) -> int:
        """Bytes of the encoded rows and their separators."""
        return len(self._buffer)

    def body(self, start: int = 0, stop: int | None = None) -> bytes:
        """The compact ingest payload ``{"columns": [...], "data": [[...], ...]}`` of rows start..stop."""
        stop = len(self._ends) if stop is None else stop
        first = self._ends[start - 1] + 1 if start else 0
        return _head(self.columns) + self._buffer[first : self._ends[stop - 1]] + b"]}"

    def row(self, index: int) -> bytes:
        """The encoded row at ``index``."""
        start = self._ends[index - 1] + 1 if index else 0
        return bytes(self._buffer[start : self._ends[index]])

    def release(self) -> None:
        """The rows were accepted (or dealt with): let their offsets advance."""
        for segment in self.segments:
            OffsetTracker.release(segment)
        self.segments = []
        self.messages = []

    def __len__(self) -> int:
        return len(self._ends)

    def __repr__(self) -> str:
        return f"Batch({self.stream}, rows={len(self)}, bytes={self.size})"


def encode_row(row: list[object]) -> bytes:
    """Encode one row as a JSON array."""
    return orjson.dumps(row)


def encode_compact(columns: Sequence[str], rows: Sequence[bytes]) -> bytes:
    """Join encoded rows into Timeplus's compact ingest body."""
    return _head(columns) + b",".join(rows) + b"]}"


def _head(columns: Sequence[str]) -> bytes:
    return b'{"columns":' + orjson.dumps(list(columns)) + b',"data":['


class StreamBatcher:
    """Collects rows for one stream and says when the batch must go."""

    def __init__(self, stream: str, columns: Sequence[str], limits: BatchLimits) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.limits = limits
        # Bytes of the payload around the rows, so max_bytes bounds the whole body.
        self._overhead = len(encode_compact(self.columns, []))
        self._batch: Batch | None = None

    def add(self, row: bytes, segment: Segment, message: MessageLike, now: float) -> tuple[Batch, ...] | None:
        """Add a row; return the batches that must be sent now, if any became full."""
        closed: tuple[Batch, ...] = ()
        batch = self._batch
        if batch is not None and batch.size + len(row) + self._overhead > self.limits.max_bytes:
            closed = (batch,)
            batch = None
        if batch is None:
            batch = self._batch = Batch(self.stream, self.columns, now)
        batch.add(row, segment, message)
        limits = self.limits
        if len(batch) >= limits.max_rows or batch.size + self._overhead >= limits.max_bytes:
            # A row that alone reaches max_bytes travels on its own; it is never dropped.
            self._batch = None
            return (*closed, batch)
        return closed or None

    def due(self, now: float) -> bool:
        """True when the open batch has waited for ``linger_s``."""
        return self._batch is not None and now - self._batch.created_at >= self.limits.linger_s

    def take(self) -> Batch | None:
        """Remove and return the open batch, if it has rows."""
        batch, self._batch = self._batch, None
        return batch

    @property
    def buffered_bytes(self) -> int:
        """Serialized size of the open batch."""
        return 0 if self._batch is None else self._batch.size
