"""One outage of a dependency: back off between attempts and say so once, not per attempt.

The Timeplus sender, the Kafka consumer loop and the dead-letter producer meet
transient failures of their own; each keeps an ``Outage`` so that all three follow one
policy: exponential backoff with full jitter (never sooner than a ``Retry-After``), one
warning when the dependency starts failing, a reminder every ``remind_every`` failures,
and one line when it answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Backoff(Protocol):
    """How long to wait before attempt ``attempt + 1`` (``RetryPolicy`` is one)."""

    def delay(self, attempt: int, retry_after: float | None) -> float: ...


class Outage:
    """Failures of one dependency since it last answered; not thread-safe (one owner thread)."""

    def __init__(
        self,
        what: str,
        backoff: Backoff,
        *,
        remind_every: int = 50,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.what = what
        self._backoff = backoff
        self._remind_every = remind_every
        self._clock = clock
        self._log = logger
        self.failures = 0
        self._started = 0.0

    @property
    def active(self) -> bool:
        """True while the latest attempts failed."""
        return self.failures > 0

    def failed(self, error: Exception, retry_after: float | None = None) -> float:
        """Count a failed attempt; the seconds to wait before the next one."""
        self.failures += 1
        if self.failures == 1:
            self._started = self._clock()
            self._log.warning("%s unavailable, retrying with backoff: %s", self.what, error)
        elif self.failures % self._remind_every == 0:
            self._log.warning(
                "%s still unavailable after %d failed attempts over %.0f s: %s",
                self.what,
                self.failures,
                self._clock() - self._started,
                error,
            )
        return self._backoff.delay(self.failures, retry_after)

    def answered(self) -> None:
        """The dependency answered: end the outage, if one was going on."""
        if self.failures:
            self._log.warning(
                "%s available again after %d failed attempts over %.1f s",
                self.what,
                self.failures,
                self._clock() - self._started,
            )
            self.failures = 0
