"""``--until-caught-up``: stop once the backlog seen at assignment is delivered and committed.

A member stops only when the whole group's committed offsets reach the end offsets
of every subscribed partition seen at its first assignment: other members may still
deliver theirs, or leave and hand them over to this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connector.assignment import Assignment
from connector.offsets import TopicPartition as TP
from connector.ports import Progress, RecordSource

#: How often the backlog's progress is reported (s).
PROGRESS_INTERVAL_S = 0.5


class CatchUp:
    """Says when this member, and then its group, have delivered the backlog."""

    def __init__(
        self,
        source: RecordSource,
        assignment: Assignment,
        *,
        subscribed: Callable[[str], bool],
        interval_s: float,
        clock: Callable[[], float],
        progress: Progress | None = None,
        delivered: Callable[[], Mapping[TP, int]] | None = None,
        flush: Callable[[], None] = lambda: None,
    ) -> None:
        """``progress`` is told, per topic, how much of the backlog ``delivered`` (next offset
        after the rows Timeplus accepted, per partition) has covered. ``flush`` sends the
        open batches at once: called while this member has read its whole backlog but not
        delivered it, so the last rows need not wait out linger_ms."""
        self._progress = progress
        self._flush = flush
        self._delivered = delivered or (lambda: {})
        #: Where each backlog partition started and ends, for ``progress``.
        self._spans: dict[TP, tuple[int, int]] = {}
        self._next_progress = 0.0
        self._source = source
        self._assignment = assignment
        self._subscribed = subscribed
        self._interval_s = interval_s
        self._clock = clock
        #: This member's partitions with a backlog, and the end offset it must reach.
        self._targets_end: dict[TP, int] = {}
        #: The end offsets of every subscribed partition at the first assignment.
        self._group_targets: dict[TP, int] | None = None
        self._next_group_check = 0.0
        #: Assigned partitions whose end offsets are still to be read.
        self._unread: set[TP] = set()
        #: Whether, at the last ``reached``, this member had read its whole backlog and was
        #: awaiting Timeplus's answers for it: the loop then waits for answers, not messages.
        self.awaiting_delivery = False
        #: Messages of this member's backlog still to be read, by offsets, at the last
        #: ``reached`` (None: none): the loop asks for no more, so the backlog's last poll
        #: returns once they came instead of waiting out its timeout for a full batch.
        self.unread_messages: int | None = None
        assignment.listen(self)

    def assigned(self, partitions: list[TP]) -> None:
        """Note that the new partitions' end offsets must be read (by ``reached``, on the loop).

        Not read here, inside the rebalance callback: a transient Kafka failure raised
        from it would leave the assignment half recorded; raised from ``reached``, the
        loop backs off and asks again.
        """
        self._unread.update(partitions)

    def forgotten(self, partitions: list[TP]) -> None:
        """Another member delivers these now."""
        for tp in partitions:
            self._targets_end.pop(tp, None)
            self._spans.pop(tp, None)
        self._unread.difference_update(partitions)

    def reached(self) -> bool:
        """True once this member's partitions are delivered and the group's backlog is committed.

        Raises RetriableError when Kafka cannot answer; the next call tries again.
        """
        assignment = self._assignment
        self.awaiting_delivery, self.unread_messages = False, None
        if not assignment.ever_assigned:
            return False
        if self._group_targets is None:
            subscribed = [tp for tp in self._source.topic_partitions() if self._subscribed(tp[0])]
            self._group_targets = {tp: end for tp, (_, end) in self._backlog(subscribed).items()}
        if self._unread:
            spans = self._backlog(sorted(self._unread & assignment.assigned))
            self._targets_end.update({tp: end for tp, (_, end) in spans.items()})
            self._spans.update(spans)
            self._unread.clear()
        waiting = [tp for tp in self._targets_end if tp in assignment.assigned]
        if self._progress is not None and self._clock() >= self._next_progress:
            self._report_progress()
        if waiting:
            positions = self._source.positions(waiting)
            unread, undelivered = 0, False
            for tp in waiting:
                position, end = positions.get(tp, -1), self._targets_end[tp]
                if position < end:
                    unread += end - position if position >= 0 else end  # no position yet: at most end
                elif not assignment.is_idle(tp):
                    undelivered = True
                else:
                    self._targets_end.pop(tp)
            if unread:
                self.unread_messages = unread
                return False
            if undelivered:
                self._flush()
                self.awaiting_delivery = True
                return False
        return self._group_caught_up()

    def report_final(self) -> None:
        """The last report, and the end of the progress display."""
        if self._progress is not None:
            self._report_progress()
            self._progress.close()

    def _report_progress(self) -> None:
        assert self._progress is not None
        self._next_progress = self._clock() + PROGRESS_INTERVAL_S
        delivered = self._delivered()
        backlog: dict[str, tuple[int, int]] = {}
        for (topic, partition), (start, end) in sorted(self._spans.items()):
            position = delivered.get((topic, partition), start)
            if (topic, partition) not in self._targets_end:
                position = end  # delivered: reached() let it go
            done, total = backlog.get(topic, (0, 0))
            backlog[topic] = (done + max(0, min(position, end) - start), total + end - start)
        self._progress.update(backlog)

    def _group_caught_up(self) -> bool:
        """Checked at most once per commit interval, after committing this member's own offsets."""
        now = self._clock()
        if now < self._next_group_check:
            return False
        self._assignment.commit_now()
        targets = self._group_targets or {}
        committed = self._source.committed(list(targets))
        # Only once read: after a failure the next call reads again instead of waiting an interval.
        self._next_group_check = now + self._interval_s
        return all(committed.get(tp, -1) >= end for tp, end in targets.items())

    def _backlog(self, partitions: list[TP]) -> dict[TP, tuple[int, int]]:
        """(start, end) offsets of each of ``partitions`` that has messages past the group's committed offset."""
        if not partitions:
            return {}
        committed = self._source.committed(partitions)
        ends = self._source.end_offsets(partitions)
        starts = {tp: max(committed.get(tp, low), low) for tp, (low, _) in ends.items()}
        return {tp: (starts[tp], high) for tp, (_, high) in ends.items() if starts[tp] < high}
