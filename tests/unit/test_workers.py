"""``run --workers N``'s supervisor with real child processes (small Python scripts, no Kafka):
stop requests reach every worker, a failing worker stops the others, the exit code is the
worst worker's. tests/integration/test_workers.py runs real connectors through a broker."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from connector.workers import Supervisor, exit_code, worker_argv, worker_listen
from tests.support.faults import wait_until

#: A worker that says it is ready, stops cleanly on SIGTERM (writing how), and otherwise waits.
STOPS_ON_SIGTERM = """
import signal, sys, time
from pathlib import Path
ready, stopped = Path(sys.argv[1]), Path(sys.argv[2])
signal.signal(signal.SIGTERM, lambda *_: (stopped.write_text("SIGTERM"), sys.exit(0)))
ready.write_text("ready")
while True:
    time.sleep(0.05)
"""
#: A worker that fails with the given code once the file named has appeared.
FAILS_AFTER = """
import sys, time
from pathlib import Path
while not Path(sys.argv[1]).exists():
    time.sleep(0.05)
sys.exit(int(sys.argv[2]))
"""
#: A worker that ignores SIGTERM.
IGNORES_SIGTERM = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGTERM, signal.SIG_IGN)
Path(sys.argv[1]).write_text("ready")
while True:
    time.sleep(0.05)
"""


def script(code: str, *args: Path | str) -> list[str]:
    return [sys.executable, "-c", code, *map(str, args)]


def test_a_worker_gets_the_same_arguments_with_one_worker_and_its_own_port() -> None:
    argv = ["--log-level", "DEBUG", "run", "-c", "c.yaml", "--workers", "3", "--until-caught-up"]
    assert worker_argv(argv, 2, ":9108") == [*argv, "--workers", "1", "--http", "0.0.0.0:9110"]
    assert worker_argv(argv, 1, None) == [*argv, "--workers", "1"]
    assert worker_listen("127.0.0.1:0", 5) == "127.0.0.1:0"


def test_exit_codes_read_as_a_shell_reads_them() -> None:
    assert [exit_code(0), exit_code(2), exit_code(-9), exit_code(-15)] == [0, 2, 137, 143]


def test_a_failing_worker_stops_the_others_cleanly_and_its_code_is_the_exit_code(tmp_path: Path) -> None:
    ready, stopped = tmp_path / "ready", tmp_path / "stopped"
    supervisor = Supervisor(
        [script(STOPS_ON_SIGTERM, ready, stopped), script(FAILS_AFTER, ready, "3")], stop_timeout_s=60
    )
    assert supervisor.run() == 3
    assert stopped.read_text() == "SIGTERM"


def test_a_stop_request_reaches_every_worker(tmp_path: Path) -> None:
    workers = [(tmp_path / f"ready-{i}", tmp_path / f"stopped-{i}") for i in range(3)]
    supervisor = Supervisor([script(STOPS_ON_SIGTERM, r, s) for r, s in workers], stop_timeout_s=60)

    def stop_once_ready() -> None:
        wait_until(lambda: all(r.exists() for r, _ in workers), 60, "every worker ready")
        supervisor.stop()  # what SIGTERM / SIGINT to the supervisor does

    stopper = threading.Thread(target=stop_once_ready)
    stopper.start()
    assert supervisor.run() == 0
    stopper.join()
    assert [s.read_text() for _, s in workers] == ["SIGTERM"] * 3


def test_a_worker_that_does_not_stop_is_killed_after_the_stop_timeout(tmp_path: Path) -> None:
    stubborn, ready, stopped = tmp_path / "stubborn", tmp_path / "ready", tmp_path / "stopped"
    supervisor = Supervisor(
        [script(IGNORES_SIGTERM, stubborn), script(STOPS_ON_SIGTERM, ready, stopped)], stop_timeout_s=1
    )

    def stop_once_ready() -> None:
        wait_until(lambda: stubborn.exists() and ready.exists(), 60, "both workers ready")
        supervisor.stop()

    stopper = threading.Thread(target=stop_once_ready)
    stopper.start()
    assert supervisor.run() == 137  # SIGKILL: the worst of 0 and 128 + 9
    stopper.join()
    assert stopped.read_text() == "SIGTERM"


def test_a_worker_that_cannot_start_is_fatal(tmp_path: Path) -> None:
    ready, stopped = tmp_path / "ready", tmp_path / "stopped"
    supervisor = Supervisor([script(STOPS_ON_SIGTERM, ready, stopped), [str(tmp_path / "missing")]], stop_timeout_s=60)
    with pytest.raises(Exception, match="workers: cannot start") as error:
        supervisor.run()
    assert type(error.value).__name__ == "FatalError"
