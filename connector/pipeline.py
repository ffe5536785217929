"""The consumer loop: messages → rows → batches → Timeplus → committed offsets.

The pipeline owns the delivery rules of DESIGN.md §3 and nothing else: it is given a
record source and an ingest sink, so unit tests run it against fakes and production
runs it against Kafka and Timeplus with the same code.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from connector.batching import Batch, BatchLimits, StreamBatcher
from connector.config import Config, MappingConfig
from connector.dead_letters import DECODE_OR_MAP, REJECTED, DeadLetter, dead_letter
from connector.errors import ConnectorError, DataError, FatalError, RetriableError
from connector.latency import LatencyHistogram
from connector.mapping import Mapper, compile_mappers, decode_value
from connector.offsets import OffsetTracker, Segment
from connector.offsets import TopicPartition as TP
from connector.records import MessageLike
from connector.sender import IngestSink, Outcome, RetryPolicy, Sender

log = logging.getLogger(__name__)

PartitionsCallback = Callable[[list[TP]], None]


class RecordSource(Protocol):
    """What the pipeline needs from Kafka; ``KafkaSource`` is the real one."""

    def subscribe(
        self,
        topics: list[str],
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
    ) -> None: ...
    def consume(self, max_messages: int, timeout: float) -> list[MessageLike]: ...
    def commit(self, offsets: Mapping[TP, int], *, asynchronous: bool) -> bool: ...
    def committed(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, int]: ...
    def end_offsets(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, int]]: ...
    def topic_partitions(self, timeout: float = 10.0) -> list[TP]: ...
    def positions(self, partitions: list[TP]) -> dict[TP, int]: ...
    def pause(self, partitions: list[TP]) -> None: ...
    def resume(self, partitions: list[TP]) -> None: ...
    def close(self) -> None: ...


class DeadLetterSink(Protocol):
    """Where dead letters go; ``KafkaDeadLetters`` is the real one."""

    def send(self, letter: DeadLetter, on_done: Callable[[str | None], None]) -> None: ...
    def poll(self) -> None: ...
    def flush(self, timeout: float) -> int: ...


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the loop that are not part of the user's YAML (yet)."""

    #: Messages per consume call; larger polls spread the loop's per-poll work (measured
    #: ~5% faster than 1,000 on a backlog) and do not add latency: consume returns what
    #: has arrived when its timeout, at most the next linger deadline, runs out.
    poll_messages: int = 5000
    poll_timeout_s: float = 0.05
    commit_interval_s: float = 1.0
    #: Overrides the config's retry settings (tests use short backoffs).
    retry: RetryPolicy | None = None
    #: Overrides the config's max_buffered_bytes.
    max_buffered_bytes: int | None = None


@dataclass(slots=True)
class Stats:
    """Counters for the final summary and tests."""

    messages: int = 0
    rows: int = 0
    batches: int = 0
    skipped: int = 0
    dead_letters: int = 0
    rejected_rows: int = 0
    commits: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


class Target(NamedTuple):
    """One mapping of a topic, with what the hot loop calls for each of its rows."""

    build: Callable[[MessageLike, Any], list[Any]]
    add_row: Callable[[list[Any]], None]
    add_message: Callable[[MessageLike], None]
    mapper: Mapper
    batcher: StreamBatcher


class Route(NamedTuple):
    """Where a topic's messages go."""

    #: The topic's targets grouped by how the value is decoded, so it is decoded once.
    groups: tuple[tuple[str, tuple[Target, ...]], ...]
    #: The target, when exactly one mapping reads the topic (the hot loop has a fast path for it).
    only: Target | None


def _route(targets: list[tuple[Mapper, StreamBatcher]]) -> Route:
    by_format: dict[str, list[Target]] = {}
    for mapper, batcher in targets:
        add_row, add_message = batcher.polled_rows.append, batcher.polled_messages.append
        target = Target(mapper.build, add_row, add_message, mapper, batcher)
        by_format.setdefault(mapper.format, []).append(target)
    groups = tuple((fmt, tuple(group)) for fmt, group in by_format.items())
    return Route(groups, groups[0][1][0] if len(targets) == 1 else None)


class Pipeline:
    """Runs the consumer loop until stopped, caught up, or a fatal error."""

    def __init__(
        self,
        config: Config,
        source: RecordSource,
        sink: IngestSink,
        *,
        dead_letters: DeadLetterSink | None = None,
        until_caught_up: bool = False,
        tuning: Tuning | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.tuning = tuning or Tuning()
        self.stats = Stats()
        self._source = source
        self._dead_letters = dead_letters
        if dead_letters is None and any(m.on_error == "dlq" for m in config.mappings):
            raise FatalError("a mapping dead-letters (on_error: dlq) but no dead-letter producer was given")
        timeplus = config.timeplus
        policy = self.tuning.retry or RetryPolicy(
            timeplus.retry_backoff_s, timeplus.retry_backoff_max_s, timeplus.max_retries
        )
        self._max_buffered = self.tuning.max_buffered_bytes or config.max_buffered_bytes
        self._sender = Sender(
            sink, max_request_bytes=config.batch.max_bytes, workers=timeplus.max_in_flight, policy=policy, clock=clock
        )
        self._clock = clock
        self._tracker = OffsetTracker()
        self._mappers = compile_mappers(config.mappings)
        limits = BatchLimits(config.batch.max_rows, config.batch.max_bytes, config.batch.linger_ms / 1000)
        # One batcher per stream (the config ensures mappings into one stream agree on
        # columns and error handling, so the first mapping speaks for the stream).
        self._batchers: dict[str, StreamBatcher] = {}
        self._stream_mapping: dict[str, MappingConfig] = {}
        self._targets: list[tuple[Mapper, StreamBatcher]] = []
        for mapper in self._mappers:
            if mapper.stream not in self._batchers:
                self._batchers[mapper.stream] = StreamBatcher(mapper.stream, mapper.columns, limits)
                self._stream_mapping[mapper.stream] = mapper.mapping
            self._targets.append((mapper, self._batchers[mapper.stream]))
        self._routes: dict[str, Route] = {}
        self._awaiting_letters: list[tuple[Segment, Batch]] = []
        self._stopping = False
        self._fatal: ConnectorError | None = None
        self._paused = False
        self._draining = False
        self._closed = False
        self._assigned: set[TP] = set()
        self._ever_assigned = False
        self._until_caught_up = until_caught_up
        self._targets_end: dict[TP, int] = {}
        # --until-caught-up in a group: the end offsets of every subscribed partition at
        # the first assignment, which the group's committed offsets must reach.
        self._group_targets: dict[TP, int] | None = None
        self._next_group_check = 0.0
        self._last_commit = clock()

    # -- public -------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish: flush, commit, close (safe from a signal handler)."""
        self._stopping = True

    def run(self) -> Stats:
        """Consume until stopped or caught up; raise FatalError on a fatal failure."""
        self._source.subscribe(self.config.subscription(), self._on_assign, self._on_revoke, self._on_lost)
        try:
            while not self._stopping:
                self._step()
                if self._until_caught_up and self._caught_up():
                    log.info("caught up with the end offsets seen at assignment; stopping")
                    break
        finally:
            try:
                self._drain(self._assigned_list())
            finally:
                # Closing the consumer revokes its partitions: the drain above already did
                # their work, and a second one would wait out drain_timeout_s again.
                self._closed = True
                self._sender.close()
                self._source.close()
                log.info(
                    "stopped: %d messages, %d rows in %d batches, %d rejected rows, %d dead letters, "
                    "%d skipped, %d commits; consume-to-ack latency %s",
                    self.stats.messages,
                    self.stats.rows,
                    self.stats.batches,
                    self.stats.rejected_rows,
                    self.stats.dead_letters,
                    self.stats.skipped,
                    self.stats.commits,
                    self.stats.latency.summary(),
                )
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    # -- the loop -----------------------------------------------------------

    def _step(self) -> None:
        if self._dead_letters is not None:
            self._dead_letters.poll()
        self._collect_outcomes()
        if self._fatal is not None:
            raise self._fatal
        self._apply_backpressure()
        # Wake up in time for the next linger deadline, so latency stays near linger_ms.
        timeout = self.tuning.poll_timeout_s
        for batcher in self._batchers.values():
            due_at = batcher.due_at()
            if due_at is not None:
                timeout = min(timeout, max(0.0, due_at - self._clock()))
        messages = self._source.consume(self.tuning.poll_messages, timeout)
        now = self._clock()
        if messages:
            self._process(messages, now)
        for batcher in self._batchers.values():
            if batcher.due(now):
                self._send(batcher.take())
        if now - self._last_commit >= self.tuning.commit_interval_s:
            self._commit(asynchronous=True)

    def _process(self, messages: list[MessageLike], now: float) -> None:
        """Map one poll's messages into their streams' batchers. The hot path: keep per-message work minimal.

        Offsets are looked at only where the partition changes: a segment's ``last``
        is the offset of the message before the change.
        """
        segments: dict[TP, Segment] = {}
        max_bytes = self.config.max_message_bytes
        last_topic: str | None = None
        last_partition: int | None = -1
        segment: Segment | None = None
        previous: MessageLike | None = None
        route = Route((), None)
        only: Target | None = None
        value_bytes = 0
        try:
            for message in messages:
                topic = message.topic()
                partition = message.partition()
                if partition != last_partition or topic != last_topic:
                    if segment is not None and previous is not None:
                        segment.last = previous.offset() or 0
                    last_topic, last_partition = topic, partition
                    segment, route = self._enter((topic or "", partition or 0), message, segments)
                    only = route.only
                    if only is not None:
                        fmt, build, add_row, add_message = (
                            only.mapper.format,
                            only.build,
                            only.add_row,
                            only.add_message,
                        )
                previous = message
                value = message.value()
                size = len(value) if value is not None else 0
                value_bytes += size
                if size > max_bytes:
                    too_large = DataError(f"value of {size} bytes is over max_message_bytes ({max_bytes})")
                    for _, targets in route.groups:
                        for target in targets:
                            self._bad_message(too_large, target.mapper.mapping, message, segment)
                    continue
                if only is not None:
                    # One mapping reads this topic (the common case): no loops over formats and targets.
                    try:
                        row = build(message, decode_value(value, fmt))
                    except DataError as exc:
                        self._bad_message(exc, only.mapper.mapping, message, segment)
                        continue
                    add_row(row)
                    add_message(message)
                    continue
                for group_format, targets in route.groups:
                    try:
                        decoded = decode_value(value, group_format)
                    except DataError as exc:
                        for target in targets:
                            self._bad_message(exc, target.mapper.mapping, message, segment)
                        continue
                    for target in targets:
                        try:
                            row = target.build(message, decoded)
                        except DataError as exc:
                            self._bad_message(exc, target.mapper.mapping, message, segment)
                            continue
                        target.add_row(row)
                        target.add_message(message)
            if segment is not None and previous is not None:
                segment.last = previous.offset() or 0
        except BaseException:
            # Its segments are never sealed, so nothing of this poll is committed.
            for batcher in self._batchers.values():
                batcher.discard_poll()
            raise
        bytes_per_row = value_bytes / len(messages) if messages else 0.0
        for batcher in self._batchers.values():
            if batcher.polled_segments:
                for full in batcher.end_poll(now, bytes_per_row):
                    self._send(full)
        for open_segment in segments.values():
            open_segment.sealed = True
        self.stats.messages += len(messages)

    def _enter(self, tp: TP, message: MessageLike, segments: dict[TP, Segment]) -> tuple[Segment, Route]:
        """Start (or resume) the poll's segment of ``tp`` at ``message``; the topic's route."""
        segment = segments.get(tp)
        if segment is None:
            segment = segments[tp] = self._tracker.open(tp[0], tp[1], message.offset() or 0)
        route = self._routes.get(tp[0]) or self._route_for(tp[0])
        for _, targets in route.groups:
            for target in targets:
                target.batcher.note_segment(segment)
        return segment, route

    def _bad_message(
        self, error: DataError, mapping: MappingConfig, message: MessageLike, segment: Segment | None
    ) -> None:
        """A message the hot loop could not turn into a row: locate the error, apply on_error."""
        assert segment is not None
        if error.offset is None:
            error.topic, error.partition, error.offset = message.topic(), message.partition(), message.offset()
        self._data_error(error, mapping, message, segment)

    def _route_for(self, topic: str) -> Route:
        route = self._routes[topic] = _route([(m, b) for m, b in self._targets if m.mapping.matches(topic)])
        if not route.groups:
            log.warning("topic %s matches the subscription but no mapping; its messages are passed over", topic)
        return route

    def _data_error(
        self,
        error: DataError,
        mapping: MappingConfig,
        message: MessageLike,
        segment: Segment,
        *,
        rejected: bool = False,
    ) -> None:
        """Apply the mapping's on_error to one bad message; ``segment`` waits for a dead letter."""
        error.stream = error.stream or mapping.stream
        if mapping.on_error == "fail":
            raise FatalError(f"{mapping.where} (on_error: fail): {error}")
        if mapping.on_error == "skip" or self._dead_letters is None or mapping.dlq_topic is None:
            self.stats.skipped += 1
            log.warning("skipped message (on_error: skip): %s", error)
            return
        letter = dead_letter(
            message,
            error,
            dlq_topic=mapping.dlq_topic,
            stream=mapping.stream,
            error_class=REJECTED if rejected else DECODE_OR_MAP,
        )
        tracker = self._tracker
        tracker.hold(segment)

        def delivered(failure: str | None) -> None:
            if failure is None:
                tracker.release(segment)
                self.stats.dead_letters += 1
                log.warning("dead-lettered %s", letter.describe)
            elif self._fatal is None:
                self._fatal = FatalError(f"dead letter {letter.describe} not delivered: {failure}")
                self._stopping = True

        self._dead_letters.send(letter, delivered)

    def _send(self, batch: Batch | None) -> None:
        if batch is None or not batch.rows:
            return
        self.stats.batches += 1
        self.stats.rows += len(batch)
        self._sender.submit(batch)

    def _collect_outcomes(self, timeout: float | None = None) -> None:
        outcomes = self._sender.outcomes
        try:
            outcome = outcomes.get(timeout=timeout) if timeout else outcomes.get_nowait()
        except queue.Empty:
            return
        while True:
            self._sender.settled(outcome)
            if outcome.error is None:
                batch = outcome.batch
                self._batchers[batch.stream].observe(batch.estimated_bytes, outcome.encoded_bytes)
                for read_at, rows in batch.reads:
                    self.stats.latency.add(outcome.answered_at - read_at, rows)
                self._settle_rejected(outcome)
            elif self._draining and isinstance(outcome.error, RetriableError):
                # Shutdown gave up retrying: not a failure of the process, and not committed.
                log.debug("%s; left uncommitted for the next run", outcome.error)
            elif self._fatal is None:
                # Not released: its offsets stay uncommitted, so a restart re-reads the rows.
                log.error("%s; stopping without committing its rows", outcome.error)
                self._fatal = (
                    outcome.error
                    if isinstance(outcome.error, FatalError)
                    else FatalError(f"batch of {len(outcome.batch)} rows not delivered: {outcome.error}")
                )
                self._stopping = True
            try:
                outcome = outcomes.get_nowait()
            except queue.Empty:
                return

    def _settle_rejected(self, outcome: Outcome) -> None:
        """Handle rows Timeplus refused in an otherwise delivered batch, then release it."""
        batch = outcome.batch
        if outcome.rejected:
            mapping = self._stream_mapping[batch.stream]
            # The batch holds its segments until every rejected row is dead-lettered:
            # hold a stand-in segment for those letters and release the batch with it.
            settled = Segment(batch.stream, -1, 0)
            settled.sealed = True
            for index, reason in outcome.rejected:
                message = batch.messages[index]
                error = DataError(
                    f"rejected by Timeplus: {reason}",
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    stream=batch.stream,
                )
                self.stats.rejected_rows += 1
                self._data_error(error, mapping, message, settled, rejected=True)
            if not settled.done:
                self._awaiting_letters.append((settled, batch))
                return
        batch.release()

    def _release_settled(self) -> None:
        """Release batches whose rejected rows are all dead-lettered now."""
        if self._awaiting_letters:
            waiting = []
            for settled, batch in self._awaiting_letters:
                if settled.done:
                    batch.release()
                else:
                    waiting.append((settled, batch))
            self._awaiting_letters = waiting

    def _buffered_bytes(self) -> int:
        return self._sender.in_flight_bytes + sum(b.buffered_bytes for b in self._batchers.values())

    def _apply_backpressure(self) -> None:
        """Pause every partition while Timeplus is failing or too much is buffered."""
        buffered = self._buffered_bytes()
        outage = self._sender.in_outage
        if not self._paused and (outage or buffered > self._max_buffered):
            self._paused = True
            self._source.pause(self._assigned_list())
            reason = "Timeplus is failing" if outage else f"{buffered} bytes buffered or in flight"
            log.info("paused %d partition(s): %s", len(self._assigned), reason)
        elif self._paused and not outage and buffered <= self._max_buffered // 2:
            self._paused = False
            self._source.resume(self._assigned_list())
            log.info("resumed %d partition(s)", len(self._assigned))

    # -- commits, rebalances, shutdown ---------------------------------------

    def _commit(self, *, asynchronous: bool, only: set[TP] | None = None) -> None:
        self._last_commit = self._clock()
        self._release_settled()
        offsets = self._tracker.committable(unchanged_too=not asynchronous)
        if only is not None:
            offsets = {tp: o for tp, o in offsets.items() if tp in only}
        else:
            offsets = {tp: o for tp, o in offsets.items() if tp in self._assigned}
        if offsets and self._source.commit(offsets, asynchronous=asynchronous):
            self._tracker.mark_committed(offsets)
            self.stats.commits += 1
            log.debug("committed %s", offsets)

    def _drain(self, partitions: list[TP]) -> None:
        """Flush every batch, wait for deliveries (bounded), commit ``partitions`` synchronously."""
        self._draining = True
        if self._fatal is None:  # after a fatal answer, sending more would only fail again
            for batcher in self._batchers.values():
                self._send(batcher.take())
        deadline = self._clock() + self.config.drain_timeout_s
        while self._sender.in_flight and self._clock() < deadline:
            self._collect_outcomes(timeout=min(0.1, max(0.001, deadline - self._clock())))
            if self._dead_letters is not None:
                self._dead_letters.poll()
        if self._dead_letters is not None:
            unacknowledged = self._dead_letters.flush(max(0.0, deadline - self._clock()))
            if unacknowledged:
                log.warning("%d dead letter(s) unacknowledged; their offsets stay uncommitted", unacknowledged)
        if self._sender.in_flight:
            log.warning(
                "drain timeout (%.0f s): %d batch(es) undelivered; their offsets stay uncommitted",
                self.config.drain_timeout_s,
                self._sender.in_flight,
            )
            if self._stopping:
                self._sender.abandon()
            # On a revoke they keep retrying: if they land later, the new owner's copy is a duplicate.
        self._collect_outcomes()
        self._draining = False
        self._commit(asynchronous=False, only=set(partitions))

    def _assigned_list(self) -> list[TP]:
        return sorted(self._assigned)

    def _on_assign(self, partitions: list[TP]) -> None:
        log.info("assigned %s", _show(partitions))
        if self._closed:
            # Closing served a rebalance still pending: nothing is read from these
            # partitions, which go straight back to the group; the group's offsets may
            # no longer be fetchable, and there is no backlog here to wait for.
            return
        self._ever_assigned = True
        self._assigned.update(partitions)
        # Anything left over from an earlier ownership is stale.
        self._tracker.forget(partitions)
        if self._paused:
            self._source.pause(partitions)
        if self._until_caught_up:
            if self._group_targets is None:
                subscribed = [
                    tp for tp in self._source.topic_partitions() if any(m.mapping.matches(tp[0]) for m in self._mappers)
                ]
                self._group_targets = self._backlog(subscribed)
            self._targets_end.update(self._backlog(partitions))

    def _backlog(self, partitions: list[TP]) -> dict[TP, int]:
        """The end offset of each of ``partitions`` that has messages past the group's committed offset."""
        if not partitions:
            return {}
        committed = self._source.committed(partitions)
        ends = self._source.end_offsets(partitions)
        return {tp: high for tp, (low, high) in ends.items() if max(committed.get(tp, low), low) < high}

    def _on_revoke(self, partitions: list[TP]) -> None:
        if not self._closed:
            log.info("revoking %s: flushing and committing", _show(partitions))
            self._drain(partitions)
        self._forget(partitions)

    def _on_lost(self, partitions: list[TP]) -> None:
        log.warning(
            "lost %s without a chance to commit; another member will re-read them",
            _show(partitions),
        )
        self._forget(partitions)

    def _forget(self, partitions: list[TP]) -> None:
        self._assigned.difference_update(partitions)
        self._tracker.forget(partitions)
        for tp in partitions:
            self._targets_end.pop(tp, None)

    def _caught_up(self) -> bool:
        if not self._ever_assigned:
            return False
        waiting = [tp for tp in self._targets_end if tp in self._assigned]
        if waiting:
            positions = self._source.positions(waiting)
            for tp in waiting:
                if positions.get(tp, -1) < self._targets_end[tp] or not self._tracker.is_idle(tp):
                    return False
                self._targets_end.pop(tp)
        return self._group_caught_up()

    def _group_caught_up(self) -> bool:
        """This member's partitions are delivered; is the whole group's backlog committed?

        Other members may still deliver theirs, or leave and hand them over to this one,
        so a member (even one assigned nothing) stops only when the group's committed
        offsets reach the end offsets seen at its first assignment. Checked at most once
        per commit interval, after committing this member's own offsets.
        """
        now = self._clock()
        if now < self._next_group_check:
            return False
        self._next_group_check = now + self.tuning.commit_interval_s
        self._commit(asynchronous=False)
        targets = self._group_targets or {}
        committed = self._source.committed(list(targets))
        return all(committed.get(tp, -1) >= end for tp, end in targets.items())


def _show(partitions: list[TP]) -> str:
    return ", ".join(f"{t}[{p}]" for t, p in sorted(partitions)) or "nothing"
