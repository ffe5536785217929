"""Consume-to-ack latency: from the poll that read a message to Timeplus's answer for its row.

Kept as a histogram of whole milliseconds (exact below ``LatencyHistogram.LIMIT_MS``,
one overflow bucket above), so recording costs one list update per poll's share of a
batch, not one per row, and memory stays fixed however long the connector runs.
"""

from __future__ import annotations


class LatencyHistogram:
    """Counts of latencies in 1 ms buckets; percentiles read from the counts."""

    LIMIT_MS = 60_000

    def __init__(self) -> None:
        self._counts = [0] * (self.LIMIT_MS + 1)
        self.count = 0
        self.max_ms = 0.0

    def add(self, seconds: float, count: int = 1) -> None:
        """Record ``count`` rows that took ``seconds`` each."""
        ms = max(0.0, seconds * 1000)
        self._counts[min(int(ms), self.LIMIT_MS)] += count
        self.count += count
        self.max_ms = max(self.max_ms, ms)

    def percentile(self, fraction: float) -> float | None:
        """The upper edge (ms) of the bucket holding the ``fraction`` quantile; None if empty."""
        if not self.count:
            return None
        rank = fraction * self.count
        seen = 0
        for ms, n in enumerate(self._counts):
            seen += n
            if n and seen >= rank:
                # The overflow bucket's only known bound is the maximum.
                return self.max_ms if ms == self.LIMIT_MS else min(float(ms + 1), self.max_ms)
        return self.max_ms

    def summary(self) -> str:
        """``p50 … ms, p99 … ms, max … ms`` for logs."""
        if not self.count:
            return "no rows acknowledged"
        p50, p99 = self.percentile(0.5), self.percentile(0.99)
        return f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {self.max_ms:.0f} ms"
