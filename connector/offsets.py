"""Which offsets may be committed: the highest contiguous run of done messages.

This module is the commit rule (DESIGN.md §3), and the only place that applies it.
Messages are tracked in *segments*, not one by one: a segment is the run of offsets
of one partition taken from one poll. A segment is done when it is sealed (no more
messages will join it) and every holder has released it. A holder is anything that
must succeed before those messages count as delivered: a batch bound for a stream,
a dead-letter produce. Per partition, the offset after the last of the leading done
segments may be committed. Holding and releasing is O(1) per batch, so the
per-message cost of offset tracking is a pointer comparison.
"""

from __future__ import annotations

from collections import deque

TopicPartition = tuple[str, int]


class Segment:
    """Offsets ``first..last`` of one partition, and how many holders still need them."""

    __slots__ = ("_pending", "_sealed", "first", "last", "partition", "topic")

    def __init__(self, topic: str, partition: int, first: int) -> None:
        self.topic = topic
        self.partition = partition
        self.first = first
        #: Extended by the poll that reads the segment's messages, until it seals it.
        self.last = first
        self._pending = 0
        self._sealed = False

    def hold(self) -> None:
        """One more holder must succeed before the segment is done."""
        self._pending += 1

    def release(self) -> None:
        """A holder succeeded (delivered or dead-lettered its rows)."""
        self._pending -= 1

    def seal(self) -> None:
        """No further message joins the segment: it may be done once its holders release it."""
        self._sealed = True

    @property
    def pending(self) -> int:
        """Holders that have not released the segment yet."""
        return self._pending

    @property
    def done(self) -> bool:
        """True when no holder needs this segment any more and none can join."""
        return self._sealed and self._pending == 0

    def __repr__(self) -> str:
        state = "done" if self.done else f"pending={self._pending} sealed={self._sealed}"
        return f"Segment({self.topic}[{self.partition}] {self.first}..{self.last} {state})"


class OffsetTracker:
    """Per partition, the queue of segments in offset order and the offset to commit."""

    def __init__(self) -> None:
        self._queues: dict[TopicPartition, deque[Segment]] = {}
        self._done_up_to: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    def open(self, topic: str, partition: int, first_offset: int) -> Segment:
        """Start a segment at ``first_offset``; the caller extends ``last`` and seals it."""
        segment = Segment(topic, partition, first_offset)
        self._queues.setdefault((topic, partition), deque()).append(segment)
        return segment

    def committable(self, *, unchanged_too: bool = False) -> dict[TopicPartition, int]:
        """Offsets (last done + 1) that advanced beyond what was last committed.

        ``unchanged_too`` also returns offsets already committed, for the final
        synchronous commit: an earlier asynchronous one may not have reached the broker.
        """
        advanced: dict[TopicPartition, int] = {}
        for tp in self._queues:
            self._advance(tp)
        for tp, offset in self._done_up_to.items():
            if unchanged_too or offset != self._committed.get(tp):
                advanced[tp] = offset
        return advanced

    def skip_to(self, tp: TopicPartition, position: int) -> None:
        """The consumer's ``position`` in ``tp``: once nothing read from ``tp`` waits, the offsets below it are done.

        Transaction markers and the messages of aborted transactions take offsets that
        the consumer (``isolation.level=read_committed``) passes over without handing them
        out, so no segment ever covers them. Committing the last delivered offset + 1 would
        stop short of them for ever: the group would never reach the end offsets, and
        ``--until-caught-up`` would never finish. The position is past them, and below it
        every message handed out is in a segment: when none is pending, all are done.
        """
        if not self._advance(tp) and position > self._done_up_to.get(tp, -1):
            self._done_up_to[tp] = position

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        """Record that ``offsets`` reached the broker."""
        self._committed.update(offsets)

    def is_idle(self, tp: TopicPartition) -> bool:
        """True when nothing read from ``tp`` waits for delivery."""
        return not self._advance(tp)

    def _advance(self, tp: TopicPartition) -> int:
        """Move ``tp``'s done offset past its leading done segments; return how many segments remain."""
        queue = self._queues.get(tp)
        if not queue:
            return 0
        while queue and queue[0].done:
            self._done_up_to[tp] = queue.popleft().last + 1
        return len(queue)

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Drop all state of partitions this consumer no longer owns.

        Holders may still release their (orphaned) segments later; that is harmless
        because the segments are no longer in any queue.
        """
        for tp in partitions:
            self._queues.pop(tp, None)
            self._done_up_to.pop(tp, None)
            self._committed.pop(tp, None)
