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
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from connector.batching import Batch
from connector.config import BodyFormat, TimeplusConfig
from connector.encoding import IngestRequest
from connector.errors import ConnectorError, IngestRejected, RetriableError
from connector.ports import IngestSink, Metrics, NoMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for retriable failures; ``max_attempts`` None retries forever."""

    initial_s: float
    max_s: float
    max_attempts: int | None

    @classmethod
    def from_config(cls, timeplus: TimeplusConfig) -> RetryPolicy:
        """The policy the user configured under ``timeplus``."""
        return cls(timeplus.retry_backoff_s, timeplus.retry_backoff_max_s, timeplus.max_retries)

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


class _Answer(NamedTuple):
    """A delivery thread's report on one request (``ticket`` names its batch)."""

    ticket: int
    error: ConnectorError | None
    rejected: tuple[tuple[int, str], ...] = ()
    encoded_bytes: int = 0
    answered_at: float = 0.0


class Sender:
    """A bounded pool of delivery threads; batches go in, settled outcomes come out.

    ``submit``, ``settled`` and ``withdraw`` are called from the consumer thread only,
    which alone touches the batches; delivery threads see only the immutable
    ``IngestRequest``. Requests wait for a thread in the Sender's own queue, so that those
    not started yet can be taken back (``withdraw``) when their partitions are given up.
    The threads are daemons: a request hanging in a socket never holds the process past
    its shutdown.
    """

    def __init__(
        self,
        sink: IngestSink,
        *,
        max_request_bytes: int,
        workers: int,
        policy: RetryPolicy,
        body_format: BodyFormat = "compact",
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self._sink = sink
        self._metrics = metrics or NoMetrics()
        self._body_format: BodyFormat = body_format
        self._clock = clock
        self._max_request_bytes = max_request_bytes
        self._policy = policy
        self._answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        self._waiting: deque[tuple[int, IngestRequest]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._batches: dict[int, Batch] = {}
        self._next_ticket = 0
        self._in_flight_bytes = 0
        self._abandon = threading.Event()
        self._outage_lock = threading.Lock()
        self._outage_failures = 0
        self._outage_started = 0.0
        #: Requests between a retriable failure and their last attempt.
        self._retrying = 0
        for number in range(workers):
            threading.Thread(target=self._work, name=f"ingest-{number}", daemon=True).start()

    def submit(self, batch: Batch) -> None:
        """Encode ``batch`` and start delivering it; its outcome comes out of ``settled``.

        The body is encoded here, on the caller's (consumer) thread: orjson holds the
        GIL for the whole body, milliseconds for a full batch, and doing that on a
        delivery thread made the consumer wait for the GIL; the benchmark measured the
        whole pipeline ~10% slower that way.
        """
        ticket = self._next_ticket = self._next_ticket + 1
        self._batches[ticket] = batch
        self._in_flight_bytes += batch.memory_bytes
        try:
            request = IngestRequest.encode(
                batch.stream, batch.columns, batch.rows, self._body_format, batch.idempotent_id
            )
        except Exception as exc:  # a converter produced a value orjson cannot encode: a bug, not data
            log.exception("ingest into %s: cannot encode the batch", batch.stream)
            self._answers.put(_Answer(ticket, ConnectorError(f"cannot encode a batch: {type(exc).__name__}: {exc}")))
            return
        with self._ready:
            self._waiting.append((ticket, request))
            self._ready.notify()

    def withdraw(self) -> list[Batch]:
        """Take back the batches no thread has started to send, in the order they were submitted.

        They are no longer in flight; the caller submits again what it still wants sent.
        """
        with self._ready:
            waiting, self._waiting = list(self._waiting), deque()
        batches = []
        for ticket, _ in waiting:
            batch = self._batches.pop(ticket)
            self._in_flight_bytes -= batch.memory_bytes
            batches.append(batch)
        return batches

    def unsettled(self) -> list[Batch]:
        """The batches submitted whose outcome ``settled`` has not returned yet."""
        return list(self._batches.values())

    def is_unsettled(self, batch: Batch) -> bool:
        """Whether ``batch``'s outcome is still to come out of ``settled``."""
        return any(b is batch for b in self._batches.values())

    def settled(self, timeout: float | None = None) -> Iterator[Outcome]:
        """The outcomes of the batches answered so far, in answer order, one at a time.

        Waits up to ``timeout`` seconds for the first one (not at all when None). A batch
        counts as in flight until its outcome is yielded; outcomes the caller does not
        take (it raised) stay queued for the next call.
        """
        answers = self._answers
        try:
            answer = answers.get(timeout=timeout) if timeout else answers.get_nowait()
        except queue.Empty:
            return
        while True:
            batch = self._batches.pop(answer.ticket)
            self._in_flight_bytes -= batch.memory_bytes
            yield Outcome(batch, answer.error, answer.rejected, answer.encoded_bytes, answer.answered_at)
            try:
                answer = answers.get_nowait()
            except queue.Empty:
                return

    @property
    def in_flight(self) -> int:
        """Batches submitted whose outcome ``settled`` has not returned yet."""
        return len(self._batches)

    @property
    def in_flight_bytes(self) -> int:
        """Estimated memory of the batches in flight."""
        return self._in_flight_bytes

    def abandon(self) -> None:
        """Stop retrying: batches still failing end with their last error."""
        self._abandon.set()

    def close(self) -> None:
        """Abandon retries and let the threads end; never waits for a request in flight.

        Requests not started are dropped: their batches' offsets were not committed.
        """
        self._abandon.set()
        with self._ready:
            self._closed = True
            self._waiting.clear()
            self._ready.notify_all()

    @property
    def in_outage(self) -> bool:
        """True while a request waits to be retried (not once every retrying request gave up)."""
        return self._retrying > 0

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                ticket, request = self._waiting.popleft()
            self._deliver(ticket, request)

    def _deliver(self, ticket: int, request: IngestRequest) -> None:
        rejected: list[tuple[int, str]] = []
        try:
            self._deliver_rows(request, 0, len(request), rejected)
        except ConnectorError as exc:
            self._answers.put(_Answer(ticket, exc))
        except Exception as exc:  # a bug in a sink must not lose the batch silently
            log.exception("ingest into %s: unexpected error", request.stream)
            self._answers.put(_Answer(ticket, ConnectorError(f"unexpected {type(exc).__name__}: {exc}")))
        else:
            self._answers.put(_Answer(ticket, None, tuple(rejected), len(request.body), self._clock()))

    def _deliver_rows(
        self, request: IngestRequest, start: int, stop: int, rejected: list[tuple[int, str]], *, bad: bool = False
    ) -> bool:
        """Deliver rows start..stop, isolating rows Timeplus rejects; True if none was rejected.

        ``bad`` says the range is known to hold a rejected row (its sibling half was
        accepted), so sending it whole again would only be refused: split it at once.
        One bad row in n costs log2(n) to 2·log2(n) extra requests (two when it sits in a left half).
        """
        if bad and stop - start > 1:
            return self._bisect(request, start, stop, rejected)
        all_ok = True
        # Rows may come out larger than estimated: requests are kept within max_bytes.
        for part_start, part_stop, body in request.fitting(start, stop, self._max_request_bytes):
            all_ok = self._deliver_part(request, part_start, part_stop, body, rejected) and all_ok
        return all_ok

    def _deliver_part(
        self, request: IngestRequest, start: int, stop: int, body: bytes, rejected: list[tuple[int, str]]
    ) -> bool:
        try:
            self._send(request.stream, body, request.part_id(start, stop))
            return True
        except IngestRejected as exc:
            if stop - start == 1:
                rejected.append((start, exc.reason))
                return False
            log.info("ingest into %s: %d rows rejected (%s); splitting to find the bad rows",
                     request.stream, stop - start, exc.reason)  # fmt: skip
        return self._bisect(request, start, stop, rejected)

    def _bisect(self, request: IngestRequest, start: int, stop: int, rejected: list[tuple[int, str]]) -> bool:
        """Deliver the halves of a rejected range; False (the range held a rejected row)."""
        middle = (start + stop) // 2
        left_ok = self._deliver_rows(request, start, middle, rejected)
        self._deliver_rows(request, middle, stop, rejected, bad=left_ok)
        return False

    def _send(self, stream: str, body: bytes, idempotent_id: str | None) -> None:
        """One request, retried while the failure is retriable (with the same id); raises anything else."""
        attempt = 0
        retrying = False
        clock, record = self._clock, self._metrics.request
        try:
            while True:
                attempt += 1
                started = clock()
                try:
                    self._sink.ingest(stream, body, idempotent_id)
                except RetriableError as exc:
                    record(stream, "retriable", clock() - started, len(body))
                    self._note_failure(exc)
                    if not retrying:
                        retrying = True
                        with self._outage_lock:
                            self._retrying += 1
                    if self._policy.max_attempts is not None and attempt >= self._policy.max_attempts:
                        raise
                    self._metrics.retry(exc.reason)
                    if self._abandon.wait(self._policy.delay(attempt, exc.retry_after)):
                        raise
                    continue
                except ConnectorError as exc:
                    outcome = "rejected" if isinstance(exc, IngestRejected) else "fatal"
                    record(stream, outcome, clock() - started, len(body))
                    self._note_answered()  # a refusal is an answer: Timeplus is reachable again
                    raise
                record(stream, "ok", clock() - started, len(body))
                self._note_answered()
                return
        finally:
            if retrying:
                with self._outage_lock:
                    self._retrying -= 1

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
