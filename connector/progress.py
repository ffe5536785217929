"""``run --until-caught-up``: the backlog shrinking, per topic.

On a terminal, one tqdm bar per topic (messages, rate, time left); log lines are written
above the bars. Elsewhere (a file, a pipe, a container log), one line every few seconds.
tqdm was chosen over rich for having no dependencies of its own and a bar that needs no
layout code; the ``Progress`` port keeps either out of the pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

log = logging.getLogger(__name__)


def _rate(samples: list[tuple[float, int]]) -> float:
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class LineProgress:
    """One progress line every ``interval_s``: per topic, messages done of the backlog, percent and rate."""

    def __init__(
        self,
        write: Callable[[str], None] | None = None,
        *,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write or (lambda line: log.info("%s", line))
        self._interval_s = interval_s
        self._clock = clock
        self._started = clock()
        self._next = self._started + interval_s
        self._samples: dict[str, list[tuple[float, int]]] = {}
        self._last: Mapping[str, tuple[int, int]] = {}
        self._closed = False

    def update(self, backlog: Mapping[str, tuple[int, int]]) -> None:
        """Note the backlog; write a line when one is due."""
        now = self._clock()
        for topic, (done, _) in backlog.items():
            samples = self._samples.setdefault(topic, [(self._started, 0)])
            samples.append((now, done))
            del samples[:-2]
        self._last = backlog
        if now >= self._next:
            self._next = now + self._interval_s
            self._write(self._line())

    def close(self) -> None:
        """Write the final line."""
        if not self._closed and self._last:
            self._closed = True
            self._write(self._line())

    def _line(self) -> str:
        parts = []
        for topic, (done, total) in sorted(self._last.items()):
            percent = 100 * done / total if total else 100.0
            rate = _rate(self._samples.get(topic, [(0.0, 0)]))
            parts.append(f"{topic} {done:,}/{total:,} ({percent:.0f}%, {rate:,.0f} msg/s)")
        return "progress: " + "; ".join(parts)


class TerminalProgress:
    """A tqdm bar per topic on ``stream`` (stderr), redrawn as the backlog shrinks."""

    def __init__(self, stream: IO[str]) -> None:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self._tqdm = tqdm
        self._stream = stream
        self._bars: dict[str, Any] = {}
        # Log lines go through tqdm.write, above the bars, instead of tearing them.
        self._redirect: Any = logging_redirect_tqdm()
        self._redirect.__enter__()

    def update(self, backlog: Mapping[str, tuple[int, int]]) -> None:
        """Move each topic's bar to its messages done."""
        for topic, (done, total) in sorted(backlog.items()):
            bar = self._bars.get(topic)
            if bar is None:
                bar = self._bars[topic] = self._tqdm(
                    total=total, desc=topic, unit="msg", unit_scale=True, file=self._stream, position=len(self._bars)
                )
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

    def close(self) -> None:
        """Leave the bars as they ended."""
        if self._redirect is None:
            return
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        self._redirect.__exit__(None, None, None)
        self._redirect = None


def progress_for(stream: IO[str]) -> LineProgress | TerminalProgress:
    """Bars on a terminal, lines elsewhere."""
    return TerminalProgress(stream) if stream.isatty() else LineProgress()
