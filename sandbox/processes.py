"""What the sandbox's Java servers (the Kafka broker, the Schema Registry) share: a child
process with its output in a log file, started until ready, stopped politely or killed,
and a foreground CLI that runs one until SIGTERM/SIGINT."""

from __future__ import annotations

import atexit
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Light on a 2-core machine: one GC thread, no pauses from a concurrent collector, and a JVM
# that dies rather than limps on OOM. C2 stays on: the benchmark measures broker throughput.
JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


def tail(text: str, n: int) -> str:
    """The last ``n`` lines of ``text``."""
    return "\n".join(text.splitlines()[-n:])


def free_ports(n: int) -> list[int]:
    """Ports the kernel hands out, held open together so that they are distinct."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


class ChildProcess:
    """One server process: ``launch`` it, ``wait_ready``, then ``stop`` (SIGTERM) or ``kill``.

    It runs in a session of its own, so Ctrl-C on a terminal reaches the test run, not the
    JVM; ``atexit`` kills whatever a crashed run left behind.
    """

    def __init__(self, name: str, start_error: type[RuntimeError]) -> None:
        self.name = name
        self._start_error = start_error
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def launch(self, cmd: Sequence[str], output: Path, cwd: Path | None = None) -> None:
        with output.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True
            )
        atexit.register(self.kill)

    def wait_ready(self, ready: Callable[[], bool], timeout: float, log_tail: Callable[[], str]) -> None:
        """Return once ``ready()``; kill the process and raise if it dies or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                self._proc = None
                raise self._start_error(f"{self.name} exited with {code}:\n{log_tail()}")
            if ready():
                return
            time.sleep(0.1)
        self.kill()
        raise self._start_error(f"{self.name} not ready after {timeout}s:\n{log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (both servers shut down cleanly on it), then SIGKILL after ``timeout``."""
        proc = self._forget()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests."""
        proc = self._forget()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _forget(self) -> subprocess.Popen[bytes] | None:
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.kill)
        return proc


def serve_until_signal(announce: str, is_running: Callable[[], bool], log_tail: Callable[[], str]) -> int:
    """The foreground ``run`` command: print ``announce``, then wait for SIGTERM/SIGINT (0) or a death (1)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(announce, flush=True)
    while not stop.wait(0.5):
        if not is_running():
            print(f"server died:\n{log_tail()}", file=sys.stderr)
            return 1
    return 0
