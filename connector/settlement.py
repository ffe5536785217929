"""The way back from Timeplus: settles each batch the Sender reports on, and hands partitions back.

A delivered batch releases its offsets (after the dead letters of any rows Timeplus
rejected); a batch that could not be delivered stops the run without releasing them,
so a restart re-reads its rows. When partitions leave this member (revoke, shutdown),
their rows not sent yet are left to the next owner and their requests in flight awaited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connector.errors import FatalError
from connector.intake import Intake
from connector.offsets import TopicPartition as TP
from connector.on_error import OnError
from connector.ports import Metrics, NoMetrics
from connector.sender import Outcome, Sender
from connector.state import RunState, Stats

log = logging.getLogger(__name__)


class Settlement:
    """Asks the Sender for settled outcomes and settles their batches; hands partitions back."""

    def __init__(
        self,
        sender: Sender,
        intake: Intake,
        *,
        on_error: OnError,
        stats: Stats,
        state: RunState,
        drain_timeout_s: float,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._sender = sender
        self._intake = intake
        self._batchers = intake.batchers
        self._stream_mappings = intake.stream_mappings
        self._on_error = on_error
        self._stats = stats
        self._state = state
        self._drain_timeout_s = drain_timeout_s
        self._clock = clock

    def collect(self, timeout: float | None = None) -> None:
        """Settle every batch answered so far, waiting up to ``timeout`` s for the first answer."""
        for outcome in self._sender.settled(timeout):
            self._settle(outcome)

    def hand_back(self, partitions: list[TP]) -> None:
        """Let ``partitions`` go: drop their unsent rows, await their requests in flight (drain_timeout_s).

        Rows not sent yet are not delivered now: the partitions' next owner reads them again
        from the offset committed next, so sending them would only delay the handover and,
        if they landed after it, duplicate them. A request in flight may have stored its
        rows already, so it is awaited, as are dead letters. The caller commits afterwards;
        what is still unanswered then stays uncommitted.
        """
        gone = set(partitions)
        if not gone:
            return
        sender, clock = self._sender, self._clock
        dropped = self._intake.drop_partitions(gone)
        for batch in sender.withdraw():
            rows = batch.drop_partitions(gone)
            dropped += rows
            self._stats.rows -= rows
            if batch.rows:
                sender.submit(batch)
            else:
                self._stats.batches -= 1
                batch.release()
        if dropped:
            log.info("left %d unsent row(s) of %s to their next owner", dropped, _show(partitions))
        deadline = clock() + self._drain_timeout_s
        carrying = [batch for batch in sender.unsettled() if batch.has_rows_of(gone)]
        unacknowledged = self._on_error.flush(0)
        while (carrying or unacknowledged) and self._state.fatal is None and clock() < deadline:
            self.collect(timeout=min(0.1, max(0.001, deadline - clock())))
            carrying = [batch for batch in carrying if sender.is_unsettled(batch)]
            unacknowledged = self._on_error.flush(0)
        if (carrying or unacknowledged) and self._state.fatal is None:
            log.warning(
                "drain timeout (%.0f s): %d request(s) with rows of %s and %d dead letter(s) unanswered; "
                "their offsets stay uncommitted (rows Timeplus stores later are sent again by the next owner)",
                self._drain_timeout_s,
                len(carrying),
                _show(partitions),
                unacknowledged,
            )

    def _settle(self, outcome: Outcome) -> None:
        batch, error = outcome.batch, outcome.error
        if error is None:
            self._batchers[batch.stream].observe(batch.estimated_bytes, outcome.encoded_bytes)
            latency, answered_at = self._stats.latency, outcome.answered_at
            latencies = [(answered_at - read_at, rows) for read_at, rows in batch.reads]
            for seconds, rows in latencies:
                latency.add(seconds, rows)
            self._metrics.ingested(batch.stream, len(batch) - len(outcome.rejected), latencies)
            if outcome.rejected:
                self._on_error.rejected_rows(batch, outcome.rejected, self._stream_mappings[batch.stream])
            else:
                batch.release()
        elif self._state.fatal is None:
            # Not released: its offsets stay uncommitted, so a restart re-reads the rows.
            log.error("%s; stopping without committing its rows", error)
            self._state.fail(
                error
                if isinstance(error, FatalError)
                else FatalError(f"batch of {len(batch)} rows not delivered: {error}")
            )


def _show(partitions: list[TP]) -> str:
    return ", ".join(f"{t}[{p}]" for t, p in sorted(partitions)) or "nothing"
