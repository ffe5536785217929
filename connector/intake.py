"""The hot loop's work on each poll: messages → decoded values → rows → per-stream batches.

Per-message work is kept minimal: offsets are looked at only where the partition
changes, a value is decoded once however many mappings read it, and a topic read by
one mapping (the common case) takes a path without loops over formats and targets.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from connector.batching import Batch, BatchLimits, StreamBatcher
from connector.config import MappingConfig
from connector.errors import DataError, FatalError
from connector.mapping import Decode, Mapper, decode_value
from connector.offsets import OffsetTracker, Segment
from connector.offsets import TopicPartition as TP
from connector.on_error import OnError
from connector.ports import Metrics, NoMetrics
from connector.records import MessageLike
from connector.sender import Sender
from connector.state import Stats

log = logging.getLogger(__name__)


class Target(NamedTuple):
    """One mapping of a topic, with what the hot loop calls for each of its rows."""

    build: Callable[[MessageLike, Any], list[Any]]
    #: Decodes and builds in one step (``Mapper.build_value``, or ``build`` after the format's decoder).
    build_value: Callable[[MessageLike, bytes | None], list[Any]]
    add_row: Callable[[list[Any]], None]
    add_message: Callable[[MessageLike], None]
    mapper: Mapper
    batcher: StreamBatcher


class Route(NamedTuple):
    """Where a topic's messages go."""

    #: The topic's targets grouped by how the value is decoded, so it is decoded once.
    groups: tuple[tuple[str, Decode, tuple[Target, ...]], ...]
    #: The target, when exactly one mapping reads the topic (the hot loop has a fast path for it).
    only: Target | None


def _route(targets: list[tuple[Mapper, StreamBatcher]], decoders: Mapping[str, Decode]) -> Route:
    by_format: dict[str, list[Target]] = {}
    for mapper, batcher in targets:
        add_row, add_message = batcher.polled_rows.append, batcher.polled_messages.append
        decoder = decoders.get(mapper.format)
        build_value = mapper.build_value if decoder is None else mapper.decoding_with(decoder)
        target = Target(mapper.build, build_value, add_row, add_message, mapper, batcher)
        by_format.setdefault(mapper.format, []).append(target)
    groups = tuple((fmt, decoders.get(fmt, decode_value), tuple(group)) for fmt, group in by_format.items())
    return Route(groups, groups[0][2][0] if len(targets) == 1 else None)


class Intake:
    """Maps polled messages into their streams' batches and hands full or due batches to the Sender."""

    def __init__(
        self,
        mappers: Sequence[Mapper],
        limits: BatchLimits,
        *,
        max_message_bytes: int,
        tracker: OffsetTracker,
        sender: Sender,
        on_error: OnError,
        stats: Stats,
        metrics: Metrics | None = None,
        decoders: Mapping[str, Decode] | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        #: Decoders of formats that ``decode_value`` does not know (avro, protobuf, json_schema).
        self._decoders = dict(decoders or {})
        self._max_message_bytes = max_message_bytes
        self._tracker = tracker
        self._sender = sender
        self._on_error = on_error
        self._stats = stats
        # One batcher per stream (the config ensures mappings into one stream agree on
        # columns and error handling, so the first mapping speaks for the stream).
        self.batchers: dict[str, StreamBatcher] = {}
        #: The mapping that speaks for each stream.
        self.stream_mappings: dict[str, MappingConfig] = {}
        self._targets: list[tuple[Mapper, StreamBatcher]] = []
        for mapper in mappers:
            if mapper.stream not in self.batchers:
                self.batchers[mapper.stream] = self._new_batcher(mapper, limits)
                self.stream_mappings[mapper.stream] = mapper.mapping
            self._targets.append((mapper, self.batchers[mapper.stream]))
        self._routes: dict[str, Route] = {}

    def _new_batcher(self, mapper: Mapper, limits: BatchLimits) -> StreamBatcher:
        """The batcher of ``mapper``'s stream (the first mapping into it speaks for it)."""
        return StreamBatcher(mapper.stream, mapper.columns, limits)

    def process(self, messages: list[MessageLike], now: float) -> None:
        """Map one poll's messages into their streams' batchers. The hot path: keep per-message work minimal.

        Offsets are looked at only where the partition changes: a segment's ``last``
        is the offset of the message before the change. The poll's segments are sealed
        once its rows are in batches; if mapping fails, they never are, so nothing of
        the poll is committed.
        """
        segments: dict[TP, Segment] = {}
        max_bytes = self._max_message_bytes
        bad_message = self._on_error.bad_message
        last_topic: str | None = None
        last_partition: int | None = -1
        segment: Segment | None = None
        previous: MessageLike | None = None
        route = Route((), None)
        only: Target | None = None
        value_bytes = 0
        topics: set[str | None] = set()
        try:
            for message in messages:
                topic = message.topic()
                partition = message.partition()
                if partition != last_partition or topic != last_topic:
                    if segment is not None and previous is not None:
                        segment.last = previous.offset() or 0
                    last_topic, last_partition = topic, partition
                    topics.add(topic)
                    segment, route = self._enter((topic or "", partition or 0), message, segments)
                    only = route.only
                    if only is not None:
                        build_value, add_row, add_message = only.build_value, only.add_row, only.add_message
                previous = message
                value = message.value()
                size = len(value) if value is not None else 0
                value_bytes += size
                if size > max_bytes:
                    too_large = DataError(f"value of {size} bytes is over max_message_bytes ({max_bytes})")
                    for _, _, targets in route.groups:
                        for target in targets:
                            bad_message(too_large, target.mapper.mapping, message, segment)
                    continue
                if only is not None:
                    # One mapping reads this topic (the common case): no loops over formats and targets.
                    try:
                        row = build_value(message, value)
                    except DataError as exc:
                        bad_message(exc, only.mapper.mapping, message, segment)
                        continue
                    add_row(row)
                    add_message(message)
                    continue
                for group_format, group_decode, targets in route.groups:
                    try:
                        decoded = group_decode(value, group_format)
                    except DataError as exc:
                        for target in targets:
                            bad_message(exc, target.mapper.mapping, message, segment)
                        continue
                    for target in targets:
                        try:
                            row = target.build(message, decoded)
                        except DataError as exc:
                            bad_message(exc, target.mapper.mapping, message, segment)
                            continue
                        target.add_row(row)
                        target.add_message(message)
            if segment is not None and previous is not None:
                segment.last = previous.offset() or 0
        except BaseException:
            for batcher in self.batchers.values():
                batcher.discard_poll()
            raise
        bytes_per_row = value_bytes / len(messages) if messages else 0.0
        for batcher in self.batchers.values():
            if batcher.polled_segments:
                for full in batcher.end_poll(now, bytes_per_row):
                    self._send(full)
        for open_segment in segments.values():
            open_segment.seal()
        self._stats.messages += len(messages)
        # Counted per poll: the messages of a one-topic poll need no look at each.
        if len(topics) == 1:
            self._metrics.consumed({last_topic or "": len(messages)})
        else:
            self._metrics.consumed(Counter(m.topic() or "" for m in messages))

    def send_due(self, now: float) -> None:
        """Send every batch that has lingered long enough."""
        for batcher in self.batchers.values():
            if batcher.due(now):
                self._send(batcher.take())

    def send_open(self) -> None:
        """Send every open batch now, however short it has lingered (exactly-once's requests
        are cut only by ``send_due``: their batchers give none)."""
        for batcher in self.batchers.values():
            self._send(batcher.take())

    def drop_partitions(self, partitions: AbstractSet[TP]) -> int:
        """Remove the open batches' rows of ``partitions`` (given up unsent); how many went."""
        return sum(batcher.drop_partitions(partitions) for batcher in self.batchers.values())

    def wait_s(self, limit: float, now: float) -> float:
        """How long the next poll may wait: at most ``limit``, and not past the next linger deadline."""
        timeout = limit
        for batcher in self.batchers.values():
            due_at = batcher.due_at()
            if due_at is not None:
                timeout = min(timeout, max(0.0, due_at - now))
        return timeout

    @property
    def buffered_bytes(self) -> int:
        """Estimated memory of the open batches."""
        return sum(b.buffered_bytes for b in self.batchers.values())

    def _enter(self, tp: TP, message: MessageLike, segments: dict[TP, Segment]) -> tuple[Segment, Route]:
        """Start (or resume) the poll's segment of ``tp`` at ``message``; the topic's route."""
        segment = segments.get(tp)
        if segment is None:
            segment = segments[tp] = self._tracker.open(tp[0], tp[1], message.offset() or 0)
        route = self._routes.get(tp[0]) or self._route_for(tp[0])
        for _, _, targets in route.groups:
            for target in targets:
                target.batcher.note_segment(segment)
        return segment, route

    def _route_for(self, topic: str) -> Route:
        targets = [(m, b) for m, b in self._targets if m.mapping.matches(topic)]
        route = self._routes[topic] = _route(targets, self._decoders)
        if not route.groups:
            # Passing its messages over would commit their offsets undelivered: stop first.
            raise FatalError(
                f"topic {topic} was subscribed but no mapping reads it (the subscription and the mappings "
                "disagree); stopping before any of its offsets is committed"
            )
        return route

    def _send(self, batch: Batch | None) -> None:
        if batch is None or not batch.rows:
            return
        self._stats.batches += 1
        self._stats.rows += len(batch)
        self._sender.submit(batch)
