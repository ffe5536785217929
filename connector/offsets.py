"""Which offsets may be committed: the highest contiguous run of done messages.

Messages are tracked in *segments*, not one by one: a segment is the run of offsets
of one partition taken from one poll. A segment is done when it is sealed (no more
messages will join it) and every holder has released it. A holder is anything that
must succeed before those messages count as delivered: a batch bound for a stream,
a dead-letter produce. Holding and releasing is O(1) per batch, so the per-message
cost of offset tracking is a pointer comparison.
"""

from __future__ import annotations

from collections import deque

TopicPartition = tuple[str, int]


class Segment:
    """Offsets ``first..last`` of one partition, and how many holders still need them."""

    __slots__ = ("first", "last", "partition", "pending", "sealed", "topic")

    def __init__(self, topic: str, partition: int, first: int) -> None:
        self.topic = topic
        self.partition = partition
        self.first = first
        self.last = first
        self.pending = 0
        self.sealed = False

    @property
    def done(self) -> bool:
        """True when no holder needs this segment any more and none can join."""
        return self.sealed and self.pending == 0

    def __repr__(self) -> str:
        state = "done" if self.done else f"pending={self.pending} sealed={self.sealed}"
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

    @staticmethod
    def hold(segment: Segment) -> None:
        """One more holder must succeed before ``segment`` is done."""
        segment.pending += 1

    @staticmethod
    def release(segment: Segment) -> None:
        """A holder of ``segment`` succeeded (delivered or dead-lettered its rows)."""
        segment.pending -= 1

    @staticmethod
    def seal(segment: Segment) -> None:
        """No further message will join ``segment``."""
        segment.sealed = True

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

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        """Record that ``offsets`` reached the broker."""
        self._committed.update(offsets)

    def committed(self, tp: TopicPartition) -> int | None:
        """The last offset committed for ``tp`` by this process, if any."""
        return self._committed.get(tp)

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
