"""A mapping's ``on_error`` policy: dead-letter, skip, or fail on a bad message or rejected row.

A dead letter must be acknowledged before the offset of its message may be
committed, so whatever holds those offsets is held until then: the message's
segment for a message the connector could not map, and the batch (through a
``LetterWait``) for rows Timeplus rejected from it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from connector.batching import Batch
from connector.config import MappingConfig
from connector.dead_letters import DECODE_OR_MAP, REJECTED, dead_letter
from connector.errors import DataError, FatalError
from connector.offsets import Segment
from connector.ports import DeadLetterSink, Metrics, NoMetrics
from connector.records import MessageLike
from connector.state import RunState, Stats

log = logging.getLogger(__name__)


class Holder(Protocol):
    """Something that waits for dead letters: ``hold`` for each, ``release`` as each is acknowledged."""

    def hold(self) -> None: ...
    def release(self) -> None: ...


class LetterWait:
    """Keeps a delivered batch from releasing its offsets until its rejected rows are dead-lettered."""

    __slots__ = ("_batch", "_pending")

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._pending = 1  # the wait itself, until ``close``

    def hold(self) -> None:
        """One more dead letter to wait for."""
        self._pending += 1

    def release(self) -> None:
        """One dead letter acknowledged; the last one releases the batch."""
        self._pending -= 1
        if self._pending == 0:
            self._batch.release()

    def close(self) -> None:
        """Every letter was sent: release the batch now, or when the last is acknowledged."""
        self.release()


class OnError:
    """Applies each mapping's ``on_error`` and owns the dead-letter sink."""

    def __init__(
        self,
        mappings: Sequence[MappingConfig],
        dead_letters: DeadLetterSink | None,
        stats: Stats,
        state: RunState,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        if dead_letters is None and any(m.on_error == "dlq" for m in mappings):
            raise FatalError("a mapping dead-letters (on_error: dlq) but no dead-letter producer was given")
        self._sink = dead_letters
        self._stats = stats
        self._state = state

    def bad_message(
        self, error: DataError, mapping: MappingConfig, message: MessageLike, segment: Segment | None
    ) -> None:
        """A message the hot loop could not turn into a row; ``segment`` (its own) waits for its dead letter."""
        assert segment is not None  # the hot loop enters a segment before its first message
        located = error.located(
            topic=message.topic(), partition=message.partition(), offset=message.offset(), stream=mapping.stream
        )
        self._apply(located, mapping, message, segment, DECODE_OR_MAP)

    def rejected_rows(self, batch: Batch, rejected: tuple[tuple[int, str], ...], mapping: MappingConfig) -> None:
        """Rows Timeplus refused in an otherwise delivered ``batch`` (index, reason); then release the batch.

        The batch keeps holding its segments until every rejected row is dead-lettered.
        """
        wait = LetterWait(batch)
        for index, reason in rejected:
            message = batch.messages[index]
            error = DataError(
                f"rejected by Timeplus: {reason}",
                topic=message.topic(),
                partition=message.partition(),
                offset=message.offset(),
                stream=batch.stream,
            )
            self._stats.rejected_rows += 1
            self._metrics.bad_message("rejected", message.topic() or "", batch.stream)
            self._apply(error, mapping, message, wait, REJECTED)
        wait.close()

    def poll(self) -> None:
        """Serve dead-letter acknowledgements (their holders are released now)."""
        if self._sink is not None:
            self._sink.poll()

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for every dead letter; how many are still unacknowledged."""
        return self._sink.flush(timeout) if self._sink is not None else 0

    def _apply(
        self, error: DataError, mapping: MappingConfig, message: MessageLike, holder: Holder, error_class: str
    ) -> None:
        if mapping.on_error == "fail":
            raise FatalError(f"{mapping.where} (on_error: fail): {error}")
        if mapping.on_error == "skip" or self._sink is None or mapping.dlq_topic is None:
            self._stats.skipped += 1
            self._metrics.bad_message("skipped", message.topic() or "", mapping.stream)
            log.warning("skipped message (on_error: skip): %s", error)
            return
        letter = dead_letter(
            message, error, dlq_topic=mapping.dlq_topic, stream=mapping.stream, error_class=error_class
        )
        holder.hold()
        stats, state, metrics = self._stats, self._state, self._metrics

        def delivered(failure: str | None) -> None:
            if failure is None:
                holder.release()
                stats.dead_letters += 1
                metrics.bad_message("dead_lettered", message.topic() or "", mapping.stream)
                log.warning("dead-lettered %s", letter.describe)
            else:
                state.fail(FatalError(f"dead letter {letter.describe} not delivered: {failure}"))

        self._sink.send(letter, delivered)
