"""The way back from Timeplus: settles each batch the Sender reports on.

A delivered batch releases its offsets (after the dead letters of any rows Timeplus
rejected); a batch that could not be delivered stops the run without releasing them,
so a restart re-reads its rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connector.errors import FatalError, RetriableError
from connector.intake import Intake
from connector.on_error import OnError
from connector.ports import Metrics, NoMetrics
from connector.sender import Outcome, Sender
from connector.state import RunState, Stats

log = logging.getLogger(__name__)


class Settlement:
    """Asks the Sender for settled outcomes and settles their batches; drains on revoke and shutdown."""

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

    def drain(self) -> None:
        """Send every open batch and settle deliveries and dead letters, within drain_timeout_s.

        The caller commits afterwards; what is still undelivered then stays uncommitted.
        """
        state, sender, clock = self._state, self._sender, self._clock
        state.draining = True
        if state.fatal is None:  # after a fatal answer, sending more would only fail again
            self._intake.send_all()
        deadline = clock() + self._drain_timeout_s
        while sender.in_flight and clock() < deadline:
            self.collect(timeout=min(0.1, max(0.001, deadline - clock())))
            self._on_error.poll()
        unacknowledged = self._on_error.flush(max(0.0, deadline - clock()))
        if unacknowledged:
            log.warning("%d dead letter(s) unacknowledged; their offsets stay uncommitted", unacknowledged)
        if sender.in_flight:
            log.warning(
                "drain timeout (%.0f s): %d batch(es) undelivered; their offsets stay uncommitted",
                self._drain_timeout_s,
                sender.in_flight,
            )
            if state.stopping:
                sender.abandon()
            # On a revoke they keep retrying: if they land later, the new owner's copy is a duplicate.
        self.collect()
        state.draining = False

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
        elif self._state.draining and isinstance(error, RetriableError):
            # Shutdown gave up retrying: not a failure of the process, and not committed.
            log.debug("%s; left uncommitted for the next run", error)
        elif self._state.fatal is None:
            # Not released: its offsets stay uncommitted, so a restart re-reads the rows.
            log.error("%s; stopping without committing its rows", error)
            self._state.fail(
                error
                if isinstance(error, FatalError)
                else FatalError(f"batch of {len(batch)} rows not delivered: {error}")
            )
