"""``delivery: exactly_once`` wired into the pipeline: requests per (stream, partition), their ids and commits.

``build_pipeline`` builds ``ExactlyOnceIntake`` in place of ``Intake`` in this mode, so the
at-least-once path carries none of it. The hot loop (``Intake.process``) is the same; what
``end_poll`` does with a poll's rows differs: each stream's rows go to one ``Lane`` per
partition, whose ``Cutter`` (connector.exactly_once) ends requests at aligned offset windows
and, on linger, at cuts recorded in the partition's commit metadata. A request ending at such
a cut (or following one no commit holds yet) waits for a synchronous commit of the metadata
before it is sent. The argument, and what it does not cover, is docs/EXACTLY_ONCE.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final

from connector.batching import ROW_OVERHEAD_BYTES, Batch, BatchLimits, StreamBatcher
from connector.config import MappingConfig
from connector.errors import FatalError, RetriableError
from connector.exactly_once import Cutter, PartitionCuts, Request, request_id, stream_fingerprint
from connector.intake import Intake
from connector.mapping import Decode, Mapper
from connector.offsets import OffsetTracker, Segment
from connector.offsets import TopicPartition as TP
from connector.on_error import OnError
from connector.ports import Metrics, RecordSource
from connector.records import MessageLike
from connector.sender import Sender
from connector.state import Stats

log = logging.getLogger(__name__)

#: Timeplus remembers this many ids per stream (Proton's ``max_idempotent_ids`` default).
ID_WINDOW: Final = 1000
#: How soon a linger that could not cut (before the horizon, metadata full) or a refused
#: metadata commit is tried again, at the least.
RETRY_S: Final = 0.2


class RequestBatch(Batch):
    """One request: rows of one stream from one partition, offsets ``first..last``.

    Released (every row accepted or dead-lettered), it tells the partition's cuts, so the
    stream's ``next`` advances past it; given up unsent, it does not.
    """

    __slots__ = ("_cuts", "first", "last", "recorded", "tp")

    def __init__(self, stream: str, columns: Sequence[str], tp: TP, request: Request, cuts: PartitionCuts) -> None:
        super().__init__(stream, columns, 0.0)
        self.tp = tp
        self.first = request.first
        self.last = request.last
        self.recorded = request.recorded
        self._cuts: PartitionCuts | None = cuts

    def release(self) -> None:
        """Accepted: the offsets may advance, and so may the stream's ``next``."""
        super().release()
        cuts, self._cuts = self._cuts, None
        if cuts is not None:
            cuts.accepted(self.stream, self.first, self.last)

    def drop_partitions(self, partitions: AbstractSet[TP]) -> int:
        """Its partition given up: all its rows go, unsent, and it is no longer accepted when released."""
        if self.tp in partitions:
            self._cuts = None
        return super().drop_partitions(partitions)


class Lane:
    """One stream's rows from one partition: its cutter, and what the open request holds."""

    __slots__ = ("columns", "cuts", "cutter", "estimated", "holds", "position", "print_", "reads", "since", "tp")

    def __init__(self, tp: TP, cuts: PartitionCuts, stream: str, columns: tuple[str, ...], print_: str) -> None:
        self.tp = tp
        self.cuts = cuts
        self.cutter = Cutter(cuts, stream)
        self.columns = columns
        #: The fingerprint of the mapping(s) making the stream's rows of this topic.
        self.print_ = print_
        #: The segments the open request's rows came from, each from its first row's offset.
        self.holds: list[tuple[Segment, int]] = []
        self.reads: list[tuple[float, int]] = []
        self.estimated = 0
        #: When the open request's first row was read (None: no rows).
        self.since: float | None = None
        #: How far the consumer has read the partition (the next offset).
        self.position = 0

    def add(
        self, rows: list[list[Any]], messages: list[MessageLike], segment: Segment, read_at: float, row_bytes: float
    ) -> list[RequestBatch]:
        """One poll's run of rows from ``segment``; the requests they complete, with what each holds."""
        cutter, holds = self.cutter, self.holds
        start = messages[0].offset() or 0
        # Rows below ``position`` were read already: the consumer may rewind to where its
        # fetching started (librdkafka's pause/resume and offset-validation races) and hand
        # them out again; added again, the open request would carry them twice under one id.
        skip_below = max(cutter.first, self.position)
        if start < self.position:
            log.info(
                "exactly-once: %s[%d] handed out again from offset %d (read up to %d); skipped",
                *self.tp,
                start,
                self.position,
            )
        if skip_below <= start and (messages[-1].offset() or 0) <= cutter.end:
            # The common case in a backlog: the whole run falls in the open request.
            cutter.extend(
                [(message.offset() or 0, (row, message)) for row, message in zip(rows, messages, strict=True)]
            )
            if not holds or holds[-1][0] is not segment:
                segment.hold(start)
                holds.append((segment, start))
            self._note(read_at, len(rows), row_bytes)
            if self.since is None:
                self.since = read_at
            return []
        done: list[RequestBatch] = []
        count = 0
        for row, message in zip(rows, messages, strict=True):
            offset = message.offset() or 0
            if offset < skip_below:
                continue  # read already, or accepted already (its request lies below the stream's next)
            closed = cutter.add(offset, (row, message))
            if closed:
                self._note(read_at, count, row_bytes)
                count = 0
                done += self._take(closed)
                holds = self.holds
            if not holds or holds[-1][0] is not segment:
                segment.hold(offset)
                holds.append((segment, offset))
            count += 1
        self._note(read_at, count, row_bytes)
        if self.since is None and cutter.pending_rows:
            self.since = read_at
        return done

    def passed(self, position: int) -> list[RequestBatch]:
        """The consumer read up to ``position``: the requests that ended before it."""
        self.position = max(self.position, position)
        return self._take(self.cutter.passed(self.position))

    def cut(self) -> list[RequestBatch]:
        """Linger: the open request, cut where the consumer is (recorded: it waits for a commit)."""
        return self._take(self.cutter.cut(self.position))

    @property
    def buffered_bytes(self) -> int:
        """Estimated memory of the open request."""
        return self.estimated + self.cutter.pending_rows * ROW_OVERHEAD_BYTES

    def _note(self, read_at: float, count: int, row_bytes: float) -> None:
        if count:
            self.reads.append((read_at, count))
            self.estimated += int(count * row_bytes)

    def _take(self, requests: list[Request]) -> list[RequestBatch]:
        """The requests the cutter closed, as batches holding what the open request held."""
        # A Cutter call closes at most one request with rows: the open one, with every buffered row.
        batches = []
        topic, partition = self.tp
        for request in requests:
            batch = RequestBatch(self.cutter.stream, self.columns, self.tp, request, self.cuts)
            batch.idempotent_id = request_id(self.print_, topic, partition, request.first, request.last)
            batch.rows = [row for _, (row, _) in request.rows]
            batch.messages = [message for _, (_, message) in request.rows]
            batch.segments, batch.reads, batch.estimated_bytes = self.holds, self.reads, self.estimated
            batches.append(batch)
            self.holds, self.reads, self.estimated, self.since = [], [], 0, None
        return batches


class RequestBatcher(StreamBatcher):
    """One stream's lanes, one per partition; turns the poll's rows into requests (``RequestBatch``)."""

    def __init__(self, stream: str, columns: Sequence[str], limits: BatchLimits, states: PartitionStates) -> None:
        super().__init__(stream, columns, limits)
        self._states = states
        self.lanes: dict[TP, Lane] = {}

    def end_poll(self, read_at: float, bytes_per_row: float) -> list[Batch]:
        """Move the poll's rows into their lanes; return the requests now complete, in order."""
        rows, messages, segments, starts = (
            self.polled_rows,
            self.polled_messages,
            self.polled_segments,
            self._polled_starts,
        )
        done: list[Batch] = []
        read: dict[TP, int] = {}
        total = len(rows)
        for k, segment in enumerate(segments):
            tp = (segment.topic, segment.partition)
            lane = self.lanes.get(tp) or self._lane(tp)
            start, stop = starts[k], starts[k + 1] if k + 1 < len(starts) else total
            if stop > start:
                done += lane.add(rows[start:stop], messages[start:stop], segment, read_at, bytes_per_row)
            read[tp] = max(read.get(tp, 0), segment.last + 1)
        # Only once every run is in: a partition's runs may be interleaved with others' in one poll.
        for tp, position in read.items():
            lane = self.lanes[tp]
            done += lane.passed(position)
        self.discard_poll()
        return done

    def passed(self, positions: Mapping[TP, int]) -> list[Batch]:
        """The consumer's positions (past transaction markers): the requests they complete."""
        done: list[Batch] = []
        for tp, position in positions.items():
            lane = self.lanes.get(tp)
            if lane is not None:
                done += lane.passed(position)
        return done

    def cut_due(self, now: float) -> list[Batch]:
        """Linger: the open requests that waited long enough, cut where the consumer is.

        Open requests without rows that the consumer has read past are cut at once: nothing
        is sent, but the stream's ``next`` (and the committed offset) reaches the position.
        """
        linger = self.limits.linger_s
        done: list[Batch] = []
        for lane in self.lanes.values():
            since = lane.since
            if since is None:
                if lane.cutter.first < lane.position:
                    lane.cut()  # no rows: the cut only moves next, and sends nothing
                continue
            if now - since < linger:
                continue
            done += lane.cut()
            if lane.cutter.pending_rows:
                # No cut may be made yet (the position is before the horizon, or the metadata
                # is full): the rows wait for their window or the horizon; ask again later.
                lane.since = now + max(0.0, RETRY_S - linger)
        return done

    def due_at(self) -> float | None:
        """When the first open request must be cut at the latest, if one has rows."""
        since = [lane.since for lane in self.lanes.values() if lane.since is not None]
        return min(since) + self.limits.linger_s if since else None

    def due(self, now: float) -> bool:
        """True when an open request has lingered long enough."""
        due_at = self.due_at()
        return due_at is not None and now >= due_at

    def take(self) -> Batch | None:
        """Nothing: requests are cut by ``cut_due``, never taken whole."""
        return None

    def drop_partitions(self, partitions: AbstractSet[TP]) -> int:
        """Forget the open requests of ``partitions`` (given up unsent); how many rows went.

        Their segment holds stay for good, so nothing from their first row on is committed.
        """
        dropped = 0
        for tp in partitions:
            lane = self.lanes.pop(tp, None)
            if lane is not None:
                dropped += lane.cutter.pending_rows
        return dropped

    @property
    def buffered_bytes(self) -> int:
        """Estimated memory of the open requests."""
        return sum(lane.buffered_bytes for lane in self.lanes.values())

    def _lane(self, tp: TP) -> Lane:
        cuts = self._states.cuts.get(tp) or self._states.restore_now(tp)
        lane = self.lanes[tp] = Lane(tp, cuts, self.stream, self.columns, self._states.fingerprints(tp[0])[self.stream])
        return lane


class PartitionStates:
    """The cuts of each owned partition, restored from its commit metadata; the offsets and metadata to commit."""

    def __init__(
        self, source: RecordSource, mappings: Sequence[MappingConfig], *, window: int, max_in_flight: int
    ) -> None:
        self._source = source
        self._mappings = tuple(mappings)
        self._window = window
        self._max_in_flight = max_in_flight
        self.cuts: dict[TP, PartitionCuts] = {}
        #: The committed offset each partition was restored from (the low watermark if none).
        self._base: dict[TP, int] = {}
        self._prints: dict[str, dict[str, str]] = {}
        self._window_checked = False
        self._restore_failing = False

    def fingerprints(self, topic: str) -> dict[str, str]:
        """Per stream that ``topic`` feeds, the fingerprint of the mapping(s) that make its rows."""
        prints = self._prints.get(topic)
        if prints is None:
            streams: dict[str, list[MappingConfig]] = {}
            for mapping in self._mappings:
                if mapping.matches(topic):
                    streams.setdefault(mapping.stream, []).append(mapping)
            prints = self._prints[topic] = {s: stream_fingerprint(m) for s, m in streams.items()}
        return prints

    def restore(self, partitions: list[TP]) -> list[TP]:
        """Read the committed offsets and metadata of ``partitions`` not restored yet; those now restored.

        A transient Kafka failure leaves them to the next call.
        """
        todo = [tp for tp in partitions if tp not in self.cuts]
        if todo:
            try:
                self._restore(todo)
            except RetriableError as exc:
                if not self._restore_failing:  # one warning per outage, not one per round
                    log.warning("exactly-once: cannot read the commit metadata of %s yet: %s", _show(todo), exc)
                self._restore_failing = True
            else:
                if self._restore_failing:
                    log.warning("exactly-once: read the commit metadata of %s", _show(todo))
                self._restore_failing = False
        return [tp for tp in partitions if tp in self.cuts]

    def restore_now(self, tp: TP) -> PartitionCuts:
        """``tp``'s cuts, restored now: its messages arrived before ``restore`` ran (they should not)."""
        try:
            self._restore([tp])
        except RetriableError as exc:
            raise FatalError(f"exactly-once: cannot read the commit metadata of {_show([tp])}: {exc}") from exc
        return self.cuts[tp]

    def forget(self, partitions: list[TP]) -> None:
        """``partitions`` left this member."""
        for tp in partitions:
            self.cuts.pop(tp, None)
            self._base.pop(tp, None)

    def offsets(self, owned: set[TP], tracker: OffsetTracker, *, unchanged: bool) -> dict[TP, int]:
        """Per restored partition of ``owned``: the tracker's offset, held below every stream's ``next``.

        A commit past a stream's ``next`` would make a replay start that stream's requests
        mid-request, under other ids. With ``unchanged``, also offsets equal to the last commit.
        """
        delivered = tracker.delivered()
        offsets: dict[TP, int] = {}
        for tp in owned:
            cuts = self.cuts.get(tp)
            if cuts is None:
                continue
            base = self._base[tp]
            offset = max(base, min(delivered.get(tp, base), cuts.lowest_start()))
            last = tracker.committed(tp)
            if unchanged or offset > (base if last is None else last):
                offsets[tp] = offset
        return offsets

    def metadata(self, partitions: list[TP]) -> dict[TP, str]:
        """The commit metadata of each restored partition among ``partitions``."""
        return {tp: self.cuts[tp].metadata() for tp in partitions if tp in self.cuts}

    def _restore(self, partitions: list[TP]) -> None:
        committed = self._source.committed_metadata(partitions)
        ends = self._source.end_offsets(partitions)
        for tp in partitions:
            low, high = ends[tp]
            offset, metadata = committed.get(tp, (low, ""))
            cuts, problems = PartitionCuts.restore(
                metadata or None, self._window, offset, self.fingerprints(tp[0]), horizon=high
            )
            for problem in problems:
                log.warning(
                    "exactly-once: %s (committed offset %d, end offset %d; offsets %d..%d may be stored twice): %s",
                    _show([tp]), offset, high, offset, max(offset, high - 1), problem,
                )  # fmt: skip
            self.cuts[tp] = cuts
            self._base[tp] = offset
        if not self._window_checked:
            self._check_id_window()

    def _check_id_window(self) -> None:
        """Warn once when a stream's partitions times requests in flight can exceed Timeplus's id window."""
        try:
            partitions = self._source.topic_partitions()
        except RetriableError:
            return  # asked again at the next restore
        self._window_checked = True
        per_stream: dict[str, int] = {}
        for topic, _ in partitions:
            for stream in self.fingerprints(topic):
                per_stream[stream] = per_stream.get(stream, 0) + 1
        for stream, count in sorted(per_stream.items()):
            if count * (self._max_in_flight + 1) > ID_WINDOW:
                log.warning(
                    "exactly-once: stream %s is fed by %d partitions with max_in_flight %d: a replay may re-send "
                    "up to %d requests, more than the %d ids Timeplus remembers per stream (max_idempotent_ids), "
                    "so some could be stored twice. Keep partitions * (max_in_flight + 1) <= %d, e.g. lower "
                    "timeplus.max_in_flight, or raise max_idempotent_ids (docs/EXACTLY_ONCE.md)",
                    stream, count, self._max_in_flight, count * (self._max_in_flight + 1), ID_WINDOW, ID_WINDOW,
                )  # fmt: skip


class ExactlyOnceIntake(Intake):
    """``Intake`` for ``delivery: exactly_once``: requests per (stream, partition), sent once their cuts commit."""

    def __init__(
        self,
        mappers: Sequence[Mapper],
        limits: BatchLimits,
        *,
        states: PartitionStates,
        max_message_bytes: int,
        tracker: OffsetTracker,
        sender: Sender,
        on_error: OnError,
        stats: Stats,
        metrics: Metrics | None = None,
        decoders: Mapping[str, Decode] | None = None,
    ) -> None:
        self._states = states
        super().__init__(
            mappers,
            limits,
            max_message_bytes=max_message_bytes,
            tracker=tracker,
            sender=sender,
            on_error=on_error,
            stats=stats,
            metrics=metrics,
            decoders=decoders,
        )
        self._request_batchers = [b for b in self.batchers.values() if isinstance(b, RequestBatcher)]
        self._retry_s = max(limits.linger_s, RETRY_S)
        #: Requests that wait for a synchronous commit of the cut they end at (or follow).
        self._waiting: list[RequestBatch] = []
        self._commit_at = 0.0
        #: Commits the owned ``partitions`` synchronously with their metadata, even where the
        #: offset did not move; True once the broker accepted it (``Assignment.commit_now``).
        self.commit_cuts: Callable[[set[TP]], bool] = lambda partitions: False

    def _new_batcher(self, mapper: Mapper, limits: BatchLimits) -> StreamBatcher:
        return RequestBatcher(mapper.stream, mapper.columns, limits, self._states)

    # -- the Assignment's exactly-once hooks (assignment.CommitMetadata) ---------------

    def restore(self, partitions: list[TP]) -> list[TP]:
        """Restore newly assigned ``partitions`` from their commit metadata; those ready to be read."""
        return self._states.restore(partitions)

    def offsets(self, owned: set[TP], tracker: OffsetTracker, *, unchanged: bool) -> dict[TP, int]:
        """The offsets to commit (see ``PartitionStates.offsets``)."""
        return self._states.offsets(owned, tracker, unchanged=unchanged)

    def metadata(self, partitions: list[TP]) -> dict[TP, str]:
        """The commit metadata of ``partitions``."""
        return self._states.metadata(partitions)

    def passed(self, positions: dict[TP, int]) -> None:
        """The consumer's positions: send the requests that ended before them."""
        for batcher in self._request_batchers:
            for batch in batcher.passed(positions):
                self._send(batch)

    # -- the Assignment's listener -----------------------------------------------------

    def assigned(self, partitions: list[TP]) -> None:
        """Nothing until ``restore``: the Assignment holds the partitions paused until then."""

    def forgotten(self, partitions: list[TP]) -> None:
        """``partitions`` left this member: their lanes, waiting requests and cuts go."""
        gone = set(partitions)
        self.drop_partitions(gone)
        self._states.forget(partitions)

    # -- the loop ----------------------------------------------------------------------

    def send_due(self, now: float) -> None:
        """Cut the requests that lingered long enough; commit the cuts requests wait for, then send them."""
        for batcher in self._request_batchers:
            for batch in batcher.cut_due(now):
                self._send(batch)
        if self._waiting and now >= self._commit_at:
            self._commit_waiting(now)

    def drop_partitions(self, partitions: AbstractSet[TP]) -> int:
        """Remove the open and waiting requests of ``partitions`` (given up unsent); how many rows went."""
        dropped = super().drop_partitions(partitions)
        kept = [batch for batch in self._waiting if batch.tp not in partitions]
        dropped += sum(len(batch) for batch in self._waiting if batch.tp in partitions)
        self._waiting = kept
        return dropped

    def wait_s(self, limit: float, now: float) -> float:
        """As ``Intake.wait_s``, and not past the next try of a refused metadata commit."""
        timeout = super().wait_s(limit, now)
        return min(timeout, max(0.0, self._commit_at - now)) if self._waiting else timeout

    @property
    def buffered_bytes(self) -> int:
        """Estimated memory of the open requests and of those waiting for a commit."""
        return super().buffered_bytes + sum(batch.memory_bytes for batch in self._waiting)

    def _send(self, batch: Batch | None) -> None:
        if isinstance(batch, RequestBatch) and batch.recorded:
            self._waiting.append(batch)
        else:
            super()._send(batch)

    def _commit_waiting(self, now: float) -> None:
        """Commit the cuts the waiting requests depend on; send them if the broker accepted, else try later.

        A refused commit (the member is losing the partition, the broker is away) sends
        nothing: the rows stay, and the next owner (or the next try) cuts them again.
        """
        partitions = {batch.tp for batch in self._waiting}
        if not self.commit_cuts(partitions):
            self._commit_at = now + self._retry_s
            return
        for tp in partitions:
            cuts = self._states.cuts.get(tp)
            if cuts is not None:
                cuts.confirmed()
        ready = [batch for batch in self._waiting if batch.tp in partitions]
        self._waiting = [batch for batch in self._waiting if batch.tp not in partitions]
        for batch in ready:
            batch.recorded = False
            super()._send(batch)


def _show(partitions: list[TP]) -> str:
    return ", ".join(f"{t}[{p}]" for t, p in sorted(partitions)) or "nothing"
