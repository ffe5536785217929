"""``run --workers N``: N connector processes in one consumer group on one host.

One Python process decodes and maps on one core at a time (the GIL), so a host with more
cores runs more processes. Each worker is a whole ``kafka-timeplus run`` with the same
config and group: Kafka spreads the partitions over them as over instances on separate
hosts, and each commits only what Timeplus accepted, so the delivery rules are those of
one instance.

The supervisor forwards SIGTERM/SIGINT to every worker and waits for their clean stop.
When a worker fails (exits non-zero or is killed), it stops the others cleanly and exits
with the worst code: it does not restart the worker, because a worker that failed on its
own would most likely fail again, and the orchestrator's restart policy (Docker, systemd,
Kubernetes) restarts the whole set with a back-off and shows the failure. A worker that
exits 0 (with ``--until-caught-up``, once the group caught up) leaves the others be.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from types import FrameType

from connector.config import parse_listen
from connector.errors import FatalError

log = logging.getLogger(__name__)


def worker_listen(listen: str, index: int) -> str:
    """Worker ``index``'s status server: ``listen``'s port plus the index (port 0 stays 0: the OS picks)."""
    host, port = parse_listen(listen)
    return f"{host}:{port + index if port else 0}"


def worker_argv(argv: Sequence[str], index: int, listen: str | None) -> list[str]:
    """A worker's arguments: the supervisor's, with ``--workers 1`` and its own ``--http`` after them.

    argparse keeps the last value of an option given twice, so appending (rather than
    removing the supervisor's own, perhaps abbreviated, options) leaves every other
    argument as the user wrote it.
    """
    extra = ["--workers", "1"]
    if listen:
        extra += ["--http", worker_listen(listen, index)]
    return [*argv, *extra]


def exit_code(returncode: int) -> int:
    """A worker's exit status as a shell reports it: a signal's death is 128 + the signal."""
    return 128 - returncode if returncode < 0 else returncode


class Supervisor:
    """Starts worker processes, forwards stop requests, and reports the worst exit code."""

    def __init__(self, commands: Sequence[Sequence[str]], *, stop_timeout_s: float) -> None:
        self._commands = [list(command) for command in commands]
        self._stop_timeout_s = stop_timeout_s
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        """Ask every worker to stop cleanly (safe from a signal handler)."""
        self._stop_requested.set()

    def handle_signals(self) -> None:
        """Turn SIGTERM and SIGINT into ``stop`` (call from the main thread)."""

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping %d workers", signal.Signals(signum).name, len(self._commands))
            self.stop()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def run(self) -> int:
        """Run the workers until all have exited; the worst exit code (0 when every one stopped cleanly)."""
        workers: list[subprocess.Popen[bytes]] = []
        try:
            for command in self._commands:
                workers.append(subprocess.Popen(command))
        except OSError as exc:
            self._stop_all(workers)
            raise FatalError(f"workers: cannot start {command[0]}: {exc.strerror}") from exc
        log.info("started %d workers: pids %s", len(workers), ", ".join(str(w.pid) for w in workers))
        codes: dict[int, int] = {}
        while len(codes) < len(workers):
            for index, worker in enumerate(workers):
                if index not in codes and worker.poll() is not None:
                    codes[index] = code = exit_code(worker.returncode)
                    if code != 0 and not self._stop_requested.is_set():
                        log.error("worker %d (pid %d) exited with %d: stopping the others", index, worker.pid, code)
                        self.stop()
            if self._stop_requested.is_set():
                self._stop_all([w for i, w in enumerate(workers) if i not in codes])
                for index, worker in enumerate(workers):
                    codes.setdefault(index, exit_code(worker.wait()))
            else:
                self._stop_requested.wait(0.2)
        return max(codes.values())

    def _stop_all(self, workers: list[subprocess.Popen[bytes]]) -> None:
        """SIGTERM each worker and wait for it to finish; kill one still running after the stop timeout."""
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout_s
        for worker in workers:
            try:
                worker.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker pid %d still running %.0f s after SIGTERM: killing it", worker.pid,
                          self._stop_timeout_s)  # fmt: skip
                worker.kill()
                worker.wait()
