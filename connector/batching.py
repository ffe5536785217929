"""Per-stream batches of rows, flushed on rows, bytes or linger time.

Rows stay Python lists until the batch is sent, and the whole batch is then encoded
in one call (``orjson`` encodes a batch at a fraction of the per-row cost). The byte
limit is therefore kept on an estimate: each row counts the size of the message it
came from, scaled by how the last encoded batch of the stream compared with its
estimate. A body that still comes out over the limit is split before it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    """Rows bound for one stream, the messages they came from, and their segments."""

    __slots__ = ("_head", "columns", "created_at", "estimated_bytes", "messages", "rows", "segments", "stream")

    def __init__(self, stream: str, columns: Sequence[str], created_at: float) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.rows: list[list[Any]] = []
        #: The message each row came from, to dead-letter it if Timeplus rejects the row.
        self.messages: list[MessageLike] = []
        self.segments: list[Segment] = []
        self.estimated_bytes = 0
        self.created_at = created_at
        self._head = _head(self.columns)

    def add(self, row: list[Any], segment: Segment, message: MessageLike, size: int) -> None:
        """Append a row; hold its segment until this batch is delivered."""
        self.rows.append(row)
        self.messages.append(message)
        self.estimated_bytes += size
        # Consecutive rows mostly come from the same segment: hold it once per run.
        # A segment held twice is also released twice, so repeats are harmless.
        if not self.segments or self.segments[-1] is not segment:
            OffsetTracker.hold(segment)
            self.segments.append(segment)

    def body(self, start: int = 0, stop: int | None = None) -> bytes:
        """The compact ingest payload ``{"columns": [...], "data": [[...], ...]}`` of rows start..stop."""
        rows = self.rows if start == 0 and stop is None else self.rows[start:stop]
        return self._head + orjson.dumps(rows) + b"}"

    def release(self) -> None:
        """The rows were accepted (or dealt with): let their offsets advance."""
        for segment in self.segments:
            OffsetTracker.release(segment)
        self.segments = []
        self.messages = []

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Batch({self.stream}, rows={len(self.rows)}, ~{self.estimated_bytes} bytes)"


def encode_compact(columns: Sequence[str], rows: Sequence[list[Any]]) -> bytes:
    """Timeplus's compact ingest body for ``rows``."""
    return _head(columns) + orjson.dumps(list(rows)) + b"}"


def _head(columns: Sequence[str]) -> bytes:
    return b'{"columns":' + orjson.dumps(list(columns)) + b',"data":'


class StreamBatcher:
    """Collects rows for one stream and says when the batch must go."""

    def __init__(self, stream: str, columns: Sequence[str], limits: BatchLimits) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.limits = limits
        # Estimated bytes that fill a batch; corrected by ``observe`` as bodies are encoded.
        self._byte_budget = limits.max_bytes
        self._max_rows = limits.max_rows
        self._batch: Batch | None = None

    def add(self, row: list[Any], segment: Segment, message: MessageLike, size: int, now: float) -> Batch | None:
        """Add a row whose message had ``size`` bytes; return the batch if it is now full."""
        # Batch.add, inlined: this runs once per row.
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch(self.stream, self.columns, now)
        rows = batch.rows
        rows.append(row)
        batch.messages.append(message)
        batch.estimated_bytes += size
        segments = batch.segments
        if not segments or segments[-1] is not segment:
            segment.pending += 1
            segments.append(segment)
        if len(rows) >= self._max_rows or batch.estimated_bytes >= self._byte_budget:
            self._batch = None
            return batch
        return None

    def observe(self, estimated: int, actual: int) -> None:
        """Learn from an encoded body how estimates compare with real sizes."""
        if estimated > 0 and actual > 0:
            budget = int(self.limits.max_bytes * estimated / actual)
            self._byte_budget = max(1, min(budget, self.limits.max_bytes * 16))

    def due_at(self) -> float | None:
        """When the open batch must go at the latest, if there is one."""
        return None if self._batch is None else self._batch.created_at + self.limits.linger_s

    def due(self, now: float) -> bool:
        """True when the open batch has waited for ``linger_s``."""
        return self._batch is not None and now - self._batch.created_at >= self.limits.linger_s

    def take(self) -> Batch | None:
        """Remove and return the open batch, if it has rows."""
        batch, self._batch = self._batch, None
        return batch

    @property
    def buffered_bytes(self) -> int:
        """Estimated size of the open batch."""
        return 0 if self._batch is None else self._batch.estimated_bytes
