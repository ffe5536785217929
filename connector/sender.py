"""Delivers batches to the ingest sink on worker threads, retrying transient failures.

The consumer thread hands batches over and later collects outcomes from a queue, so
HTTP round trips overlap with consuming and mapping. Retriable failures are retried
with capped exponential backoff and full jitter, honouring ``Retry-After``; one
warning is logged per outage, not one per attempt. A batch that Timeplus rejects as
data is split in halves until the offending rows are isolated: the good rows are
delivered and the bad ones come back in the outcome, with Timeplus's reason.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from connector.batching import Batch
from connector.errors import ConnectorError, IngestRejected, RetriableError

log = logging.getLogger(__name__)


class IngestSink(Protocol):
    """Where batches go: ``TimeplusClient`` in production, fakes in unit tests."""

    def ingest(self, stream: str, body: bytes, *, idempotent_id: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for retriable failures; ``max_attempts`` None retries forever."""

    initial_s: float = 0.2
    max_s: float = 30.0
    max_attempts: int | None = None

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff, but never sooner than the server asked."""
        ceiling = min(self.max_s, self.initial_s * 2 ** min(attempt - 1, 30))
        jittered = random.uniform(0, ceiling)
        return max(jittered, min(retry_after, self.max_s)) if retry_after is not None else jittered


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one batch.

    ``error`` is None when every row was accepted except those in ``rejected``
    (row index, Timeplus's reason), which no retry can make acceptable.
    """

    batch: Batch
    error: ConnectorError | None
    rejected: tuple[tuple[int, str], ...] = ()
    #: Size of the whole batch's encoded body (0 when delivery failed).
    encoded_bytes: int = 0
    #: When the last answer for the batch arrived (the sender's clock).
    answered_at: float = 0.0


class Sender:
    """A bounded pool of delivery threads and the queue of their outcomes."""

    def __init__(
        self,
        sink: IngestSink,
        *,
        max_request_bytes: int,
        workers: int,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._max_request_bytes = max_request_bytes
        self._policy = policy or RetryPolicy()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._abandon = threading.Event()
        self._outage_lock = threading.Lock()
        self._outage_failures = 0
        self._outage_started = 0.0
        self.in_flight = 0
        self.in_flight_bytes = 0

    def submit(self, batch: Batch) -> None:
        """Encode ``batch`` and start delivering it; its outcome arrives on ``outcomes``.

        The body is encoded here, on the caller's (consumer) thread: orjson holds the
        GIL for the whole body, milliseconds for a full batch, and doing that on a
        delivery thread made the consumer wait for the GIL; the benchmark measured the
        whole pipeline ~10% slower that way.
        """
        self.in_flight += 1
        self.in_flight_bytes += batch.memory_bytes
        try:
            body = batch.body()
        except Exception as exc:  # a converter produced a value orjson cannot encode: a bug, not data
            log.exception("ingest into %s: cannot encode the batch", batch.stream)
            self.outcomes.put(Outcome(batch, ConnectorError(f"cannot encode a batch: {type(exc).__name__}: {exc}")))
            return
        self._pool.submit(self._deliver, batch, body)

    def settled(self, outcome: Outcome) -> None:
        """Account for an outcome taken off the queue (consumer thread only)."""
        self.in_flight -= 1
        self.in_flight_bytes -= outcome.batch.memory_bytes

    def abandon(self) -> None:
        """Stop retrying: batches still failing end with their last error."""
        self._abandon.set()

    def close(self) -> None:
        """Abandon retries and wait for the workers to finish."""
        self._abandon.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def in_outage(self) -> bool:
        """True while the latest attempts are failing and being retried."""
        return self._outage_failures > 0

    def _deliver(self, batch: Batch, body: bytes) -> None:
        rejected: list[tuple[int, str]] = []
        try:
            self._deliver_rows(batch, 0, len(batch), rejected, body=body)
        except ConnectorError as exc:
            self.outcomes.put(Outcome(batch, exc))
        except Exception as exc:  # a bug in a sink must not lose the batch silently
            log.exception("ingest into %s: unexpected error", batch.stream)
            self.outcomes.put(Outcome(batch, ConnectorError(f"unexpected {type(exc).__name__}: {exc}")))
        else:
            self.outcomes.put(Outcome(batch, None, tuple(rejected), len(body), self._clock()))

    def _deliver_rows(
        self,
        batch: Batch,
        start: int,
        stop: int,
        rejected: list[tuple[int, str]],
        *,
        bad: bool = False,
        body: bytes | None = None,
    ) -> bool:
        """Deliver rows start..stop, isolating rows Timeplus rejects; True if none was rejected.

        ``bad`` says the range is known to hold a rejected row (its sibling half was
        accepted), so sending it whole again would only be refused: split it at once.
        One bad row in n costs log2(n) to 2·log2(n) extra requests (two when it sits in a left half).
        """
        single = stop - start == 1
        if not bad or single:
            body = body if body is not None else batch.body(start, stop)
            if len(body) > self._max_request_bytes and not single:
                # Rows came out larger than estimated: keep requests within max_bytes.
                middle = (start + stop) // 2
                left_ok = self._deliver_rows(batch, start, middle, rejected)
                return self._deliver_rows(batch, middle, stop, rejected) and left_ok
            try:
                self._send(batch.stream, body)
                return True
            except IngestRejected as exc:
                if single:
                    rejected.append((start, exc.reason))
                    return False
                log.info("ingest into %s: %d rows rejected (%s); splitting to find the bad rows",
                         batch.stream, stop - start, exc.reason)  # fmt: skip
        middle = (start + stop) // 2
        left_ok = self._deliver_rows(batch, start, middle, rejected)
        self._deliver_rows(batch, middle, stop, rejected, bad=left_ok)
        return False

    def _send(self, stream: str, body: bytes) -> None:
        """One request, retried while the failure is retriable; raises anything else."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self._sink.ingest(stream, body)
            except RetriableError as exc:
                self._note_failure(exc)
                out_of_attempts = self._policy.max_attempts is not None and attempt >= self._policy.max_attempts
                if out_of_attempts or self._abandon.wait(self._policy.delay(attempt, exc.retry_after)):
                    raise
                continue
            except ConnectorError:
                self._note_answered()  # a refusal is an answer: Timeplus is reachable again
                raise
            self._note_answered()
            return

    def _note_failure(self, exc: RetriableError) -> None:
        with self._outage_lock:
            self._outage_failures += 1
            if self._outage_failures == 1:
                self._outage_started = time.monotonic()
                log.warning("Timeplus unavailable, retrying with backoff: %s", exc)
            elif self._outage_failures % 50 == 0:
                log.warning(
                    "Timeplus still unavailable after %d failed attempts over %.0f s: %s",
                    self._outage_failures,
                    time.monotonic() - self._outage_started,
                    exc,
                )

    def _note_answered(self) -> None:
        if not self._outage_failures:
            return
        with self._outage_lock:
            if self._outage_failures:
                log.warning(
                    "Timeplus available again after %d failed attempts over %.1f s",
                    self._outage_failures,
                    time.monotonic() - self._outage_started,
                )
                self._outage_failures = 0
