"""Commits and rebalances: the partitions this member owns, and the offsets it commits for them.

Which offsets may be committed is decided by ``OffsetTracker`` alone; this module
decides when to commit them and for which partitions: every commit interval
(asynchronously), and synchronously after draining on revoke and on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from connector.errors import RetriableError
from connector.offsets import OffsetTracker
from connector.offsets import TopicPartition as TP
from connector.ports import RecordSource
from connector.state import Stats

# The assignment lines are read by operators and by the fault tests under this name,
# which they had before commits and rebalances got their own module.
log = logging.getLogger("connector.pipeline")


class AssignmentListener(Protocol):
    """Something that keeps per-partition state over rebalances."""

    def assigned(self, partitions: list[TP]) -> None:
        """``partitions`` now belong to this member."""
        ...

    def forgotten(self, partitions: list[TP]) -> None:
        """``partitions`` no longer belong to this member."""
        ...


class Assignment:
    """Handles the source's rebalance callbacks, pauses and resumes, and commits."""

    def __init__(
        self,
        source: RecordSource,
        tracker: OffsetTracker,
        *,
        drain: Callable[[], None],
        stats: Stats,
        interval_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._source = source
        self._tracker = tracker
        self._drain = drain
        self._stats = stats
        self._interval_s = interval_s
        self._clock = clock
        self._last_commit = clock()
        self._listeners: list[AssignmentListener] = []
        self.assigned: set[TP] = set()
        #: True once any partition was assigned.
        self.ever_assigned = False
        self.paused = False
        self._closed = False

    def listen(self, listener: AssignmentListener) -> None:
        """Tell ``listener`` of every assignment and of every partition let go."""
        self._listeners.append(listener)

    def subscribe(self, topics: list[str]) -> None:
        """Join the consumer group; rebalances arrive through this object."""
        self._source.subscribe(topics, self._on_assign, self._on_revoke, self._on_lost)

    def assigned_list(self) -> list[TP]:
        """The partitions owned now, sorted."""
        return sorted(self.assigned)

    def is_idle(self, tp: TP) -> bool:
        """True when nothing read from ``tp`` waits for delivery."""
        return self._tracker.is_idle(tp)

    # -- commits ---------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Commit asynchronously once per commit interval."""
        if now - self._last_commit >= self._interval_s:
            self.commit(asynchronous=True)

    def commit(self, *, asynchronous: bool, only: set[TP] | None = None) -> None:
        """Commit what may be committed for the owned partitions (or ``only`` these)."""
        self._last_commit = self._clock()
        owned = self.assigned if only is None else only
        try:
            positions = self._source.positions(sorted(owned))
        except RetriableError:
            positions = {}  # a revoke must not fail on it: offsets past markers wait for the next commit
        for tp, position in positions.items():
            self._tracker.skip_to(tp, position)  # past transaction markers and aborted messages
        offsets = self._tracker.committable(unchanged_too=not asynchronous)
        offsets = {tp: o for tp, o in offsets.items() if tp in owned}
        if offsets and self._source.commit(offsets, asynchronous=asynchronous):
            self._tracker.mark_committed(offsets)
            self._stats.commits += 1
            log.debug("committed %s", offsets)

    # -- pausing ---------------------------------------------------------------

    def pause(self) -> None:
        """Stop fetching every owned partition (and those assigned while paused)."""
        self.paused = True
        self._source.pause(self.assigned_list())

    def resume(self) -> None:
        """Fetch every owned partition again."""
        self.paused = False
        self._source.resume(self.assigned_list())

    # -- rebalances ------------------------------------------------------------

    def close(self) -> None:
        """The source is closing: its partitions were drained already, so later callbacks only let go.

        ``drain`` and a synchronous commit of the owned partitions come before.
        """
        self._closed = True

    def _on_assign(self, partitions: list[TP]) -> None:
        log.info("assigned %s", _show(partitions))
        if self._closed:
            # Closing served a rebalance still pending: nothing is read from these
            # partitions, which go straight back to the group; the group's offsets may
            # no longer be fetchable, and there is no backlog here to wait for.
            return
        self.ever_assigned = True
        self.assigned.update(partitions)
        # Anything left over from an earlier ownership is stale.
        self._tracker.forget(partitions)
        if self.paused:
            self._source.pause(partitions)
        for listener in self._listeners:
            listener.assigned(partitions)

    def _on_revoke(self, partitions: list[TP]) -> None:
        if not self._closed:
            log.info("revoking %s: flushing and committing", _show(partitions))
            self._drain()
            self.commit(asynchronous=False, only=set(partitions))
        self._forget(partitions)

    def _on_lost(self, partitions: list[TP]) -> None:
        log.warning("lost %s without a chance to commit; another member will re-read them", _show(partitions))
        self._forget(partitions)

    def _forget(self, partitions: list[TP]) -> None:
        self.assigned.difference_update(partitions)
        self._tracker.forget(partitions)
        for listener in self._listeners:
            listener.forgotten(partitions)


def _show(partitions: list[TP]) -> str:
    return ", ".join(f"{t}[{p}]" for t, p in sorted(partitions)) or "nothing"
