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

    __slots__ = ("_holds", "_pending", "_sealed", "first", "last", "partition", "topic")

    def __init__(self, topic: str, partition: int, first: int) -> None:
        self.topic = topic
        self.partition = partition
        self.first = first
        #: Extended by the poll that reads the segment's messages, until it seals it.
        self.last = first
        self._pending = 0
        self._sealed = False
        #: How many holders need the segment from each offset on.
        self._holds: dict[int, int] = {}

    def hold(self, start: int | None = None) -> None:
        """One more holder must succeed before the segment is done; it needs it from ``start`` on (all: None)."""
        self._pending += 1
        key = self.first if start is None else start
        self._holds[key] = self._holds.get(key, 0) + 1

    def release(self, start: int | None = None) -> None:
        """A holder succeeded (delivered or dead-lettered its rows); ``start`` as it held the segment."""
        self._pending -= 1
        key = self.first if start is None else start
        left = self._holds[key] - 1
        if left:
            self._holds[key] = left
        else:
            del self._holds[key]

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

    @property
    def done_below(self) -> int:
        """The offset before which nothing of a sealed segment is needed any more (``first`` if unsealed)."""
        if not self._sealed:
            return self.first
        return min(self._holds) if self._holds else self.last + 1

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

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset below which everything is done, where it passed the last commit."""
        advanced: dict[TopicPartition, int] = {}
        # _done_up_to too: skip_to may move a partition that no message of was handed out.
        for tp in self._queues.keys() | self._done_up_to.keys():
            offset = self._done_offset(tp)
            committed = self._committed.get(tp)
            if offset is not None and (committed is None or offset > committed):
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

    def delivered(self) -> dict[TopicPartition, int]:
        """Per partition, the offset below which everything is done, committed or not."""
        found = {tp: self._done_offset(tp) for tp in self._queues.keys() | self._done_up_to.keys()}
        return {tp: offset for tp, offset in found.items() if offset is not None}

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        """Record that the broker accepted ``offsets`` (an older answer never lowers what it holds)."""
        for tp, offset in offsets.items():
            committed = self._committed.get(tp)
            if committed is None or offset > committed:
                self._committed[tp] = offset

    def committed(self, tp: TopicPartition) -> int | None:
        """The last offset the broker accepted for ``tp`` from this member, if any."""
        return self._committed.get(tp)

    def is_idle(self, tp: TopicPartition) -> bool:
        """True when nothing read from ``tp`` waits for delivery."""
        return not self._advance(tp)

    def _done_offset(self, tp: TopicPartition) -> int | None:
        """The offset below which everything read from ``tp`` is done, if anything is."""
        self._advance(tp)
        offset = self._done_up_to.get(tp)
        queue = self._queues.get(tp)
        if queue:
            # The first segment not done may be done in part: up to where its holders need it.
            partly = queue[0].done_below
            if partly > queue[0].first:
                offset = partly
        return offset

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
