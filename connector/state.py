"""What the roles of one run share: its counters, and whether (and why) it is stopping.

Everything here is touched on the consumer thread only, except ``RunState.stop``,
which a signal handler may call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.errors import ConnectorError
from connector.latency import LatencyHistogram


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


class RunState:
    """Whether the run is stopping, and the failure that stops it."""

    __slots__ = ("fatal", "stopping")

    def __init__(self) -> None:
        self.stopping = False
        self.fatal: ConnectorError | None = None

    def stop(self) -> None:
        """Finish the run: await requests in flight, commit, close (safe from a signal handler)."""
        self.stopping = True

    def fail(self, error: ConnectorError) -> None:
        """Stop the run with ``error``, unless an earlier failure already did (the first is reported)."""
        if self.fatal is None:
            self.fatal = error
            self.stopping = True
