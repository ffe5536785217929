"""Per-stream batches of rows, flushed on rows, bytes or linger time.

The consumer loop hands a stream's rows over one poll at a time, not one row at a
time: it appends each row to ``StreamBatcher.polled_rows`` (a plain list append)
and calls ``end_poll`` once the poll is mapped, which moves the rows into batches
and says which batches are full. Limits are therefore applied per poll, with the
poll's rows cut exactly at ``max_rows``.

Rows stay Python lists until the batch is sent, and the whole batch is then encoded
in one call (``connector.encoding``). The byte limit is therefore kept on an
estimate: each row counts the average size of the messages of its poll, scaled by
how the last encoded batch of the stream compared with its estimate. A body that
still comes out over the limit is split before it is sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from connector.offsets import Segment, TopicPartition
from connector.records import MessageLike

#: Memory a buffered row costs beyond its message's value bytes: the row list and its
#: values, the Message object and librdkafka's message. Measured ~630 bytes for the
#: benchmark's 6-column rows (a run with max_rows 1000 peaked at 407 MB RSS when only
#: value bytes were counted against max_buffered_bytes 64 MiB).
ROW_OVERHEAD_BYTES = 640


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Flush a batch when any limit is reached."""

    max_rows: int
    max_bytes: int
    linger_s: float


class Batch:
    """Rows bound for one stream, the messages they came from, and their segments."""

    __slots__ = (
        "columns",
        "created_at",
        "estimated_bytes",
        "idempotent_id",
        "messages",
        "reads",
        "rows",
        "segments",
        "stream",
    )

    def __init__(self, stream: str, columns: Sequence[str], created_at: float) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.rows: list[list[Any]] = []
        #: The message each row came from, to dead-letter it if Timeplus rejects the row.
        self.messages: list[MessageLike] = []
        #: Segments this batch holds, each from its first row's offset: they wait for its delivery.
        self.segments: list[tuple[Segment, int]] = []
        #: (when the poll was read, rows it added): the consume-to-ack latency of each row.
        self.reads: list[tuple[float, int]] = []
        self.estimated_bytes = 0
        self.created_at = created_at
        #: Exactly-once: the id Timeplus drops a repeat of (its parts append their row range).
        self.idempotent_id: str | None = None

    def release(self) -> None:
        """The rows were accepted (or dealt with): let their offsets advance."""
        for segment, start in self.segments:
            segment.release(start)
        self.segments = []
        self.messages = []

    def drop_partitions(self, partitions: AbstractSet[TopicPartition]) -> int:
        """Remove the rows of ``partitions``, given up before they were sent; how many went.

        The batch keeps its holds on those partitions' segments for good, so nothing from its
        first row of them on is committed: whoever owns them next reads those rows again.
        """
        kept = [i for i, m in enumerate(self.messages) if (m.topic(), m.partition()) not in partitions]
        dropped = len(self.rows) - len(kept)
        if dropped:
            self.estimated_bytes = self.estimated_bytes * len(kept) // len(self.rows)
            self.rows = [self.rows[i] for i in kept]
            self.messages = [self.messages[i] for i in kept]
            self.reads = _kept_reads(self.reads, kept)
        self.segments = [(s, start) for s, start in self.segments if (s.topic, s.partition) not in partitions]
        return dropped

    def has_rows_of(self, partitions: AbstractSet[TopicPartition]) -> bool:
        """Whether any row of the batch came from ``partitions``."""
        return any((m.topic(), m.partition()) in partitions for m in self.messages)

    @property
    def memory_bytes(self) -> int:
        """Estimated memory the batch holds while buffered or in flight."""
        return self.estimated_bytes + len(self.rows) * ROW_OVERHEAD_BYTES

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Batch({self.stream}, rows={len(self.rows)}, ~{self.estimated_bytes} bytes)"


def _kept_reads(reads: list[tuple[float, int]], kept: list[int]) -> list[tuple[float, int]]:
    """``reads`` (when each run of rows was read, its length) for the rows at the indexes ``kept``."""
    result: list[tuple[float, int]] = []
    position, end = 0, 0
    for read_at, rows in reads:
        end += rows
        count = 0
        while position < len(kept) and kept[position] < end:
            count += 1
            position += 1
        if count:
            result.append((read_at, count))
    return result


class StreamBatcher:
    """Collects rows for one stream and says when a batch must go."""

    def __init__(self, stream: str, columns: Sequence[str], limits: BatchLimits) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.limits = limits
        # Estimated bytes that fill a batch; corrected by ``observe`` as bodies are encoded.
        self._byte_budget = limits.max_bytes
        self._max_rows = limits.max_rows
        self._batch: Batch | None = None
        # The current poll's rows, the messages they came from, and the poll's segments
        # that may have rows here. The lists are cleared, never replaced, so the loop
        # can keep their bound ``append`` methods.
        self.polled_rows: list[list[Any]] = []
        self.polled_messages: list[MessageLike] = []
        self.polled_segments: list[Segment] = []
        # Where each noted segment's run of rows starts in ``polled_rows``.
        self._polled_starts: list[int] = []

    def note_segment(self, segment: Segment) -> None:
        """Rows of ``segment`` may follow in this poll (from the next row on)."""
        segments = self.polled_segments
        if not segments or segments[-1] is not segment:
            segments.append(segment)
            self._polled_starts.append(len(self.polled_rows))

    def end_poll(self, read_at: float, bytes_per_row: float) -> list[Batch]:
        """Move the poll's rows into batches; return those now full, in order.

        Each batch holds the segments its rows came from, from its first row of each, so a
        partition's offsets advance batch by batch.
        """
        rows, messages = self.polled_rows, self.polled_messages
        full: list[Batch] = []
        total, start = len(rows), 0
        bytes_per_row = max(bytes_per_row, 1.0)
        while start < total:
            batch = self._batch
            if batch is None:
                batch = self._batch = Batch(self.stream, self.columns, read_at)
            # An open batch is below both limits, so it has room for at least one row.
            room = min(
                self._max_rows - len(batch.rows), math.ceil((self._byte_budget - batch.estimated_bytes) / bytes_per_row)
            )
            stop = min(total, start + max(room, 1))
            if start == 0 and stop == total:
                batch.rows.extend(rows)
                batch.messages.extend(messages)
            else:
                batch.rows.extend(rows[start:stop])
                batch.messages.extend(messages[start:stop])
            batch.estimated_bytes += int((stop - start) * bytes_per_row)
            batch.reads.append((read_at, stop - start))
            held = self._segments_of(start, stop)
            for segment, first in held:
                segment.hold(first)
            batch.segments.extend(held)
            if len(batch.rows) >= self._max_rows or batch.estimated_bytes >= self._byte_budget:
                full.append(batch)
                self._batch = None
            start = stop
        self.discard_poll()
        return full

    def _segments_of(self, start: int, stop: int) -> list[tuple[Segment, int]]:
        """The segments with rows among polled rows ``start..stop``, each with its first offset there."""
        segments, starts, messages = self.polled_segments, self._polled_starts, self.polled_messages
        held: list[tuple[Segment, int]] = []
        for k, segment in enumerate(segments):
            run_start = starts[k]
            run_stop = starts[k + 1] if k + 1 < len(starts) else len(self.polled_rows)
            if run_start < stop and start < run_stop and all(s is not segment for s, _ in held):
                held.append((segment, messages[max(start, run_start)].offset() or 0))
        return held

    def discard_poll(self) -> None:
        """Forget the current poll's rows (its processing failed)."""
        self.polled_rows.clear()
        self.polled_messages.clear()
        self.polled_segments.clear()
        self._polled_starts.clear()

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

    def drop_partitions(self, partitions: AbstractSet[TopicPartition]) -> int:
        """Remove the open batch's rows of ``partitions``; how many went."""
        batch = self._batch
        if batch is None:
            return 0
        dropped = batch.drop_partitions(partitions)
        if not batch.rows:
            batch.release()
            self._batch = None
        return dropped

    def take(self) -> Batch | None:
        """Remove and return the open batch, if it has rows."""
        batch, self._batch = self._batch, None
        return batch

    @property
    def buffered_bytes(self) -> int:
        """Estimated memory of the open batch."""
        return 0 if self._batch is None else self._batch.memory_bytes
