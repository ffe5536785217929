"""Commits and rebalances: the partitions this member owns, and the offsets it commits for them.

Which offsets may be committed is decided by ``OffsetTracker`` alone; this module
decides when to commit them and for which partitions:

- as acknowledgements arrive, asynchronously, one commit awaiting its answer at a time
  (what advances meanwhile goes with the next), so a crash re-sends about what was in
  flight; offsets count as committed only once the broker accepted them, so a commit
  refused while the group rebalances is sent again;
- synchronously inside the revoke callback, where the generation that gives the
  partitions up is valid, after handing them back (unsent rows left to the next owner,
  requests in flight awaited); the revoke that closing the consumer performs commits
  again what the stop's own commit could not.

With ``delivery: exactly_once`` a ``CommitMetadata`` (the ``ExactlyOnceIntake``) also takes
part: newly assigned partitions stay paused until it restored their commit metadata, the
offsets it allows are committed with each partition's metadata, and it is told the
consumer's positions (docs/EXACTLY_ONCE.md).
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


class CommitMetadata(Protocol):
    """Exactly-once's part in commits: which offsets may go, the metadata they carry, and restoring it."""

    def restore(self, partitions: list[TP]) -> list[TP]:
        """Read the group's committed metadata of newly assigned ``partitions``; those now ready to be read."""
        ...

    def offsets(self, owned: set[TP], tracker: OffsetTracker, *, unchanged: bool) -> dict[TP, int]:
        """The offsets to commit for ``owned`` (with ``unchanged``, also those equal to the last commit)."""
        ...

    def metadata(self, partitions: list[TP]) -> dict[TP, str]:
        """The commit metadata of each of ``partitions``."""
        ...

    def passed(self, positions: dict[TP, int]) -> None:
        """The consumer's positions: requests ending before them are complete."""
        ...


class Assignment:
    """Handles the source's rebalance callbacks, pauses and resumes, and commits."""

    def __init__(
        self,
        source: RecordSource,
        tracker: OffsetTracker,
        *,
        hand_back: Callable[[list[TP]], None],
        stats: Stats,
        answer_timeout_s: float,
        clock: Callable[[], float],
        exactly_once: CommitMetadata | None = None,
    ) -> None:
        self._source = source
        self._exactly_once = exactly_once
        #: Assigned partitions kept paused until exactly-once restored their metadata.
        self.held: set[TP] = set()
        self._tracker = tracker
        self._hand_back = hand_back
        self._stats = stats
        self._answer_timeout_s = answer_timeout_s
        self._clock = clock
        #: When the asynchronous commit awaiting its answer was sent (None: none is).
        self._commit_sent_at: float | None = None
        self._listeners: list[AssignmentListener] = []
        self.assigned: set[TP] = set()
        #: True once any partition was assigned.
        self.ever_assigned = False
        self.paused = False
        self._closing = False

    def listen(self, listener: AssignmentListener) -> None:
        """Tell ``listener`` of every assignment and of every partition let go."""
        self._listeners.append(listener)

    def subscribe(self, topics: list[str]) -> None:
        """Join the consumer group; rebalances and commit answers arrive through this object."""
        self._source.subscribe(topics, self._on_assign, self._on_revoke, self._on_lost, self._on_commit)

    def assigned_list(self) -> list[TP]:
        """The partitions owned now, sorted."""
        return sorted(self.assigned)

    def is_idle(self, tp: TP) -> bool:
        """True when nothing read from ``tp`` waits for delivery."""
        return self._tracker.is_idle(tp)

    # -- commits ---------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Commit what acknowledgements made committable, unless a commit still awaits its answer."""
        if self.held and self._exactly_once is not None:
            self._release(self._exactly_once.restore(sorted(self.held)))
        sent_at = self._commit_sent_at
        if sent_at is not None and now - sent_at < self._answer_timeout_s:
            return
        self._skip_past_markers(self.assigned)
        offsets = self._committable(self.assigned)
        if offsets and self._source.commit(offsets, asynchronous=True, metadata=self._metadata(offsets)):
            self._commit_sent_at = now

    def _skip_past_markers(self, owned: set[TP]) -> None:
        """Let the consumer's position carry the done offset past transaction markers and aborted messages."""
        try:
            positions = self._source.positions(sorted(owned))
        except RetriableError:
            return  # a revoke must not fail on it: offsets past markers wait for the next commit
        if self._exactly_once is not None:
            self._exactly_once.passed(positions)
        for tp, position in positions.items():
            self._tracker.skip_to(tp, position)

    def _committable(self, owned: set[TP], *, unchanged: bool = False) -> dict[TP, int]:
        if self._exactly_once is not None:
            return self._exactly_once.offsets(owned, self._tracker, unchanged=unchanged)
        return {tp: o for tp, o in self._tracker.committable().items() if tp in owned}

    def _metadata(self, offsets: dict[TP, int]) -> dict[TP, str] | None:
        return None if self._exactly_once is None else self._exactly_once.metadata(list(offsets))

    def commit_now(self, partitions: set[TP] | None = None, *, unchanged: bool = False) -> bool:
        """Commit synchronously what may be committed for the owned partitions (or ``partitions``).

        With ``unchanged``, partitions whose offset did not move are committed too (exactly-once
        commits their metadata so). True when the broker accepted the commit (or there was none).
        False, committing nothing, while an asynchronous commit awaits its answer: librdkafka
        may retry that one, and landing after this one it would put back an older offset and
        older metadata (without the cut an exactly-once request was sent after). ``stop`` and
        revokes, which cannot wait, commit all the same (``_commit_sync``).
        """
        if self._commit_sent_at is not None:
            return False
        return self._commit_sync(partitions, unchanged=unchanged)

    def _commit_sync(self, partitions: set[TP] | None = None, *, unchanged: bool = False) -> bool:
        owned = self.assigned if partitions is None else partitions
        self._skip_past_markers(owned)
        offsets = self._committable(owned, unchanged=unchanged)
        if not offsets:
            return True
        if not self._source.commit(offsets, asynchronous=False, metadata=self._metadata(offsets)):
            return False
        self._tracker.mark_committed(offsets)
        self._stats.commits += 1
        log.debug("committed %s", offsets)
        return True

    def _on_commit(self, accepted: dict[TP, int], refused: str | None) -> None:
        """An asynchronous commit's answer (served inside ``consume``)."""
        self._commit_sent_at = None
        accepted = {tp: o for tp, o in accepted.items() if tp in self.assigned}
        if accepted:
            self._tracker.mark_committed(accepted)
            self._stats.commits += 1
            log.debug("committed %s", accepted)
        if refused is not None:
            log.info("kafka: a commit was refused (%s); its offsets go with the next one", refused)

    # -- pausing ---------------------------------------------------------------

    def pause(self) -> None:
        """Stop fetching every owned partition (and those assigned while paused)."""
        self.paused = True
        self._source.pause(self.assigned_list())

    def resume(self) -> None:
        """Fetch every owned partition again (but those still held)."""
        self.paused = False
        self._source.resume([tp for tp in self.assigned_list() if tp not in self.held])

    def _release(self, partitions: list[TP]) -> None:
        """Stop holding ``partitions``: fetch them, unless everything is paused."""
        ready = [tp for tp in partitions if tp in self.held]
        self.held.difference_update(ready)
        if ready and not self.paused:
            self._source.resume(ready)

    # -- rebalances and stopping -----------------------------------------------

    def stop(self) -> None:
        """Hand every owned partition back and commit, before closing the source (see ``close``)."""
        partitions = self.assigned_list()
        self._hand_back(partitions)
        self._commit_sync(set(partitions))

    def close(self) -> None:
        """The source is closing: its revoke only commits what ``stop``'s commit could not."""
        self._closing = True

    def _on_assign(self, partitions: list[TP]) -> None:
        log.info("assigned %s", _show(partitions))
        if self._closing:
            # Closing served a rebalance still pending: nothing is read from these
            # partitions, which go straight back to the group; the group's offsets may
            # no longer be fetchable, and there is no backlog here to wait for.
            return
        self.ever_assigned = True
        self.assigned.update(partitions)
        # Anything left over from an earlier ownership is stale.
        self._tracker.forget(partitions)
        if self._exactly_once is not None:
            # Read nothing before the commit metadata is restored (in ``tick``, where a
            # transient Kafka failure is simply asked again).
            self.held.update(partitions)
        if self.paused or self._exactly_once is not None:
            self._source.pause(partitions)
        for listener in self._listeners:
            listener.assigned(partitions)

    def _on_revoke(self, partitions: list[TP]) -> None:
        try:
            if not self._closing:
                log.info("revoking %s: committing what was delivered", _show(partitions))
                self._hand_back(partitions)
            # In the generation that gives them up, so the broker accepts it.
            self._commit_sync(set(partitions))
        finally:
            self._forget(partitions)

    def _on_lost(self, partitions: list[TP]) -> None:
        log.warning("lost %s without a chance to commit; another member will re-read them", _show(partitions))
        self._forget(partitions)

    def _forget(self, partitions: list[TP]) -> None:
        self.assigned.difference_update(partitions)
        self.held.difference_update(partitions)
        self._tracker.forget(partitions)
        for listener in self._listeners:
            listener.forgotten(partitions)


def _show(partitions: list[TP]) -> str:
    return ", ".join(f"{t}[{p}]" for t, p in sorted(partitions)) or "nothing"
