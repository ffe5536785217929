"""Faults on demand: the ways a real Timeplus (or the network before it) lets a client down.

One-shot faults (fail, drop, slow ack) queue up in the order they are asked for and
each applies to one ingest request. Latency applies to every request until changed.
An outage closes the listening socket, so clients see "connection refused", and
reopens it on the same port when the window ends.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, Protocol

FaultKind = Literal["fail", "drop", "slow_ack"]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaultAction:
    """What to do to the next ingest request."""

    kind: FaultKind
    status: int = 503
    code: int | None = None
    retry_after: int | str | None = None
    message: str | None = None
    delay: float = 0.0


class OutageControl(Protocol):
    """The listener: stop accepting and drop connections, or listen again."""

    def go_down(self) -> None: ...

    def come_up(self) -> None: ...


class Faults:
    """The fault plan of one emulator; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[FaultAction] = deque()
        self._latency = 0.0
        self._ddl_delay = 0.0
        self._outage: OutageControl | None = None
        self._timer: threading.Timer | None = None
        self._up = threading.Event()
        self._up.set()

    def attach(self, outage: OutageControl) -> None:
        """Connect the listener that ``down_for`` closes and reopens."""
        self._outage = outage

    # --- asking for faults ---------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int = 503,
        code: int | None = None,
        retry_after: int | str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``n`` ingest requests with ``status`` and store nothing.

        With ``code`` the body is a Proton error carrying it (and the
        ``x-timeplus-exception-code`` header); without, a plain-text body as a proxy or
        load balancer would send. ``retry_after`` adds a ``Retry-After`` header (use
        ``status=429`` for throttling).
        """
        _check_count(n)
        if not 100 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP status")
        action = FaultAction("fail", status=status, code=code, retry_after=retry_after, message=message)
        with self._lock:
            self._queue.extend([action] * n)

    def drop_next(self, n: int) -> None:
        """Close the connection of the next ``n`` ingest requests halfway through their body."""
        _check_count(n)
        with self._lock:
            self._queue.extend([FaultAction("drop")] * n)

    def slow_ack_next(self, n: int, delay: float) -> None:
        """Store the rows of the next ``n`` ingest requests, then answer only after ``delay`` s.

        A client whose timeout is shorter gives up although the rows were stored: the
        classic duplicate maker when it retries without an idempotent id.
        """
        _check_count(n)
        if delay < 0:
            raise ValueError("delay must be >= 0")
        with self._lock:
            self._queue.extend([FaultAction("slow_ack", delay=delay)] * n)

    def set_latency(self, seconds: float) -> None:
        """Wait ``seconds`` before handling every request (0 turns it off)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = seconds

    def set_ddl_delay(self, seconds: float) -> None:
        """Make streams created over HTTP appear only ``seconds`` later (Proton creates them asynchronously)."""
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        with self._lock:
            self._ddl_delay = seconds

    def down_for(self, seconds: float) -> None:
        """Stop listening (connection refused) and drop open connections for ``seconds``.

        Returns once the port is closed; the emulator listens again on the same port
        when the window ends (see ``wait_until_up``) or on ``clear()``.
        """
        if seconds <= 0:
            raise ValueError("an outage must last > 0 s")
        if self._outage is None:
            raise RuntimeError("the emulator is not started")
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._up.clear()
            self._outage.go_down()
            self._timer = threading.Timer(seconds, self._restore)
            self._timer.daemon = True
            self._timer.start()

    def clear(self) -> None:
        """Cancel every fault: queued ones, latency, DDL delay, and an outage in progress."""
        with self._lock:
            self._queue.clear()
            self._latency = 0.0
            self._ddl_delay = 0.0
            outage_running = self._timer is not None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if outage_running:
            self._restore()

    def cancel(self) -> None:
        """Forget every fault without reopening the port (the emulator is stopping)."""
        with self._lock:
            self._queue.clear()
            self._latency = 0.0
            self._ddl_delay = 0.0
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._up.set()

    def wait_until_up(self, timeout: float) -> bool:
        """Block until an outage is over; False if still down after ``timeout`` s."""
        return self._up.wait(timeout)

    @property
    def is_down(self) -> bool:
        return not self._up.is_set()

    # --- used by the server --------------------------------------------------------

    def latency(self) -> float:
        with self._lock:
            return self._latency

    def ddl_delay(self) -> float:
        with self._lock:
            return self._ddl_delay

    def next_ingest_action(self) -> FaultAction | None:
        """Take the fault planned for this ingest request, if any."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "queued": [a.kind for a in self._queue],
                "latency": self._latency,
                "ddl_delay": self._ddl_delay,
                "down": not self._up.is_set(),
            }

    def _restore(self) -> None:
        with self._lock:
            self._timer = None
            if self._outage is not None:
                try:
                    self._outage.come_up()
                except OSError:  # the port was taken meanwhile: stay down, say why
                    log.exception("the Timeplus emulator cannot listen again after its outage")
                    return
            self._up.set()

    def apply_json(self, spec: dict[str, Any]) -> None:
        """The admin endpoint's form: ``{"kind": "fail_next", "n": 3, "status": 429, ...}``."""
        kind = spec.get("kind")
        args = {k: v for k, v in spec.items() if k != "kind"}
        actions = {
            "fail_next": self.fail_next,
            "drop_next": self.drop_next,
            "slow_ack_next": self.slow_ack_next,
            "latency": self.set_latency,
            "ddl_delay": self.set_ddl_delay,
            "down_for": self.down_for,
            "clear": self.clear,
        }
        if kind not in actions:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(actions)}")
        try:
            actions[kind](**args)  # type: ignore[operator]
        except TypeError as exc:
            raise ValueError(f"bad arguments for {kind}: {exc}") from None


def _check_count(n: int) -> None:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, not {n!r}")
