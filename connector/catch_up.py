"""``--until-caught-up``: stop once the backlog seen at assignment is delivered and committed.

A member stops only when the whole group's committed offsets reach the end offsets
of every subscribed partition seen at its first assignment: other members may still
deliver theirs, or leave and hand them over to this one.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.assignment import Assignment
from connector.offsets import TopicPartition as TP
from connector.ports import RecordSource


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
    ) -> None:
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
        assignment.listen(self)

    def assigned(self, partitions: list[TP]) -> None:
        """Note the end offsets the new partitions must reach (and, the first time, the group's)."""
        if self._group_targets is None:
            subscribed = [tp for tp in self._source.topic_partitions() if self._subscribed(tp[0])]
            self._group_targets = self._backlog(subscribed)
        self._targets_end.update(self._backlog(partitions))

    def forgotten(self, partitions: list[TP]) -> None:
        """Another member delivers these now."""
        for tp in partitions:
            self._targets_end.pop(tp, None)

    def reached(self) -> bool:
        """True once this member's partitions are delivered and the group's backlog is committed."""
        assignment = self._assignment
        if not assignment.ever_assigned:
            return False
        waiting = [tp for tp in self._targets_end if tp in assignment.assigned]
        if waiting:
            positions = self._source.positions(waiting)
            for tp in waiting:
                if positions.get(tp, -1) < self._targets_end[tp] or not assignment.is_idle(tp):
                    return False
                self._targets_end.pop(tp)
        return self._group_caught_up()

    def _group_caught_up(self) -> bool:
        """Checked at most once per commit interval, after committing this member's own offsets."""
        now = self._clock()
        if now < self._next_group_check:
            return False
        self._next_group_check = now + self._interval_s
        self._assignment.commit(asynchronous=False)
        targets = self._group_targets or {}
        committed = self._source.committed(list(targets))
        return all(committed.get(tp, -1) >= end for tp, end in targets.items())

    def _backlog(self, partitions: list[TP]) -> dict[TP, int]:
        """The end offset of each of ``partitions`` that has messages past the group's committed offset."""
        if not partitions:
            return {}
        committed = self._source.committed(partitions)
        ends = self._source.end_offsets(partitions)
        return {tp: high for tp, (low, high) in ends.items() if max(committed.get(tp, low), low) < high}
