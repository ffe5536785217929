"""The pieces of the fault-injection tests (issue #4, "Nothing lost, nothing stuck").

Every test runs the real CLI as a subprocess against a real Kafka broker and the Timeplus
emulator, injects one fault, and records one row in the fault report (``FaultReport``), which
``tests/faults/conftest.py`` prints as a Markdown table at the end of the run (``make faults``).
"""

from __future__ import annotations

import os
import random
import re
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.services import ConnectorProcess, committed_offsets, end_offsets, produce

# The stream every fault test writes into: one unique id per Kafka message.
STREAM_COLUMNS = [("id", "int64"), ("name", "string")]
MAPPING_COLUMNS = {"id": "{from: value.id, type: int64}", "name": "value.name"}
# Requests in flight: the tests that slow Timeplus down derive the connector's rate from it
# (rows per batch x IN_FLIGHT / latency), so that their faults land mid-backlog.
IN_FLIGHT = 2


# -- the report ------------------------------------------------------------------------------


@dataclass(slots=True)
class FaultRow:
    """One line of the report: which fault, what was injected, what came out."""

    test: str
    fault: str
    injected: str
    outcome: str


@dataclass(slots=True)
class FaultReport:
    """Collects one row per test; a test that fails after recording is marked in the table."""

    rows: list[FaultRow] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def __call__(self, fault: str, injected: str, outcome: str) -> None:
        """Record the row of the running test (call it before the assertions that may fail)."""
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        self.rows.append(FaultRow(test, fault, injected, outcome))

    def table(self) -> str:
        lines = ["| fault | injected | outcome |", "|---|---|---|"]
        for row in sorted(self.rows, key=_report_position):
            outcome = row.outcome
            if row.test in self.failed:
                outcome = f"**FAILED**: {self.failed[row.test]}; {outcome}"
            lines.append(f"| {_cell(row.fault)} | {_cell(row.injected)} | {_cell(outcome)} |")
        recorded = {row.test for row in self.rows}
        for test, reason in self.failed.items():
            if test not in recorded:
                lines.append(
                    f"| {_cell(test.rsplit('::', 1)[-1])} | (failed before recording) | **FAILED**: {_cell(reason)} |"
                )
        return "\n".join(lines)


# The table lists faults in this order of test modules (the run's order is alphabetical).
REPORT_ORDER = (
    "test_crash",
    "test_outage",
    "test_slow_ack",
    "test_broker_restart",
    "test_rebalance",
    "test_handover",
    "test_revoke_edges",
)


def _report_position(row: FaultRow) -> int:
    module = row.test.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return REPORT_ORDER.index(module) if module in REPORT_ORDER else len(REPORT_ORDER)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- randomness ------------------------------------------------------------------------------


class SeededRandom(random.Random):
    """``random.Random`` that remembers its seed, so a report can name it."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seed_value = seed


# -- connectors ------------------------------------------------------------------------------


class Connectors:
    """Starts ``kafka-timeplus run`` subprocesses and kills the ones a failed test left behind."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[ConnectorProcess] = []

    def start(self, config: Path, name: str, *, until_caught_up: bool = False, check: bool = True) -> ConnectorProcess:
        """``check=False`` skips run's start-up check (for a member started while Timeplus is down)."""
        process = ConnectorProcess(
            config, until_caught_up=until_caught_up, log_path=self.logs / f"{name}.log", check=check
        )
        self.started.append(process)
        return process

    def cleanup(self) -> None:
        for process in self.started:
            if process.process.poll() is None:
                process.kill()  # only processes this fixture started, by their own handle
            process.wait(30)  # reaps it and closes its log file


def kill_9(process: ConnectorProcess) -> None:
    """SIGKILL: no flush, no commit, no LeaveGroup — a crash."""
    process.kill()
    process.wait(30)


def ensure_running(process: ConnectorProcess) -> None:
    """Fail at once, with the log, if the connector exited when it should still be working."""
    code = process.process.poll()
    if code is not None:
        pytest.fail(f"connector exited with {code} while it should be running; log tail:\n{process.log()[-4000:]}")


def stop_cleanly(process: ConnectorProcess, timeout: float = 60) -> None:
    """SIGTERM and expect exit code 0."""
    process.terminate()
    code = process.wait(timeout)
    assert code == 0, f"connector exited with {code} after SIGTERM; log tail:\n{process.log()[-4000:]}"


def pipeline_lines(log: str) -> list[str]:
    """The connector's assignment lines: assigned, revoking, lost."""
    return [line for line in log.splitlines() if re.search(r"connector\.pipeline: (assigned|revoking|lost) ", line)]


def owns_partitions(process: ConnectorProcess) -> bool:
    """Whether the instance's log shows an assignment of at least one partition."""
    ensure_running(process)
    return any(re.search(r"connector\.pipeline: assigned (?!nothing)", line) for line in pipeline_lines(process.log()))


# -- config and data -------------------------------------------------------------------------


class FaultSetup(Protocol):
    def __call__(
        self,
        name: str,
        kafka: KafkaBroker,
        *,
        partitions: int,
        stream_columns: list[tuple[str, str]] = ...,
        fan_out: int = ...,
        **config: Any,
    ) -> tuple[str, str, str, Path]: ...


def write_fault_config(
    path: Path,
    *,
    bootstrap: str,
    group: str,
    url: str,
    topic: str,
    stream: str,
    kafka_extra: Mapping[str, str] | None = None,
    timeout_s: float = 5,
    max_rows: int = 1000,
    linger_ms: int = 100,
    drain_timeout_s: float = 10,
    max_in_flight: int = IN_FLIGHT,
    on_error: str | None = None,
    columns: Mapping[str, str] = MAPPING_COLUMNS,
    delivery: str | None = None,
    fan_out_to: Sequence[str] = (),
) -> Path:
    """A connector config: one topic into one stream (``STREAM_COLUMNS`` unless told otherwise).

    ``delivery`` sets the top-level key (absent: the default, at-least-once); each stream of
    ``fan_out_to`` gets a mapping of its own reading the same topic with the same columns.
    """
    kafka_lines = "".join(f'  {key}: "{value}"\n' for key, value in (kafka_extra or {}).items())
    column_lines = "".join(f"      {name}: {source}\n" for name, source in columns.items())
    on_error_line = f"    on_error: {on_error}\n" if on_error else ""
    delivery_line = f"delivery: {delivery}\n" if delivery else ""
    mappings = "".join(
        f'  - topic: "{topic}"\n    stream: "{target}"\n{on_error_line}    columns:\n{column_lines}'
        for target in (stream, *fan_out_to)
    )
    path.write_text(
        textwrap.dedent(
            f"""\
            kafka:
              bootstrap.servers: "{bootstrap}"
              group.id: "{group}"
            """
        )
        + kafka_lines
        + textwrap.dedent(
            f"""\
            timeplus:
              url: "{url}"
              timeout_s: {timeout_s}
              max_in_flight: {max_in_flight}
            batch: {{max_rows: {max_rows}, max_bytes: 1MiB, linger_ms: {linger_ms}}}
            drain_timeout_s: {drain_timeout_s}
            """
        )
        + delivery_line
        + "mappings:\n"
        + mappings
    )
    return path


def fan_out_streams(stream: str, fan_out: int) -> tuple[str, ...]:
    """The names of the extra streams ``fault_setup(..., fan_out=n)`` creates beside ``stream``."""
    return tuple(f"{stream}_fan{k}" for k in range(1, fan_out + 1))


def produce_ids(bootstrap: str, topic: str, partitions: int, ids: range) -> int:
    """Produce ``{"id": i, "name": "item-i"}`` for every ``i``, round-robin over partitions."""
    return produce(
        bootstrap,
        topic,
        ((i % partitions, None, orjson.dumps({"id": i, "name": f"item-{i}"})) for i in ids),
    )


class Flow:
    """Produces chunks of ids on a thread until stopped; ``produced`` is how many went out.

    Ids continue from ``first``, so a flow can follow a pre-produced backlog of ids ``0..first-1``.
    """

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, *, chunk: int = 1_000, every_s: float = 0.25, first: int = 0
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.chunk = chunk
        self.every_s = every_s
        self.first = first
        self.produced = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flow", daemon=True)

    def start(self) -> Flow:
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop producing (a flow never started produced nothing); return how many went out."""
        self._stop.set()
        if self._thread.ident is None:
            return self.produced
        self._thread.join(120)
        assert not self._thread.is_alive(), "the producer did not stop"
        if self.error is not None:
            raise self.error
        return self.produced

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                start = self.first + self.produced
                produce_ids(self.bootstrap, self.topic, self.partitions, range(start, start + self.chunk))
                self.produced += self.chunk
                self._stop.wait(self.every_s)
        except BaseException as exc:  # re-raised in the test's thread by stop()
            self.error = exc


def _patiently(read: Callable[[], dict[int, int]], timeout: float = 60) -> dict[int, int]:
    """Retry a read that a broker may refuse for a while (coordinator moving or still loading)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read()
        except KafkaException as exc:
            error = exc.args[0]
            transient = error.retriable() or error.code() in _TRANSIENT
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


_TRANSIENT = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError._TIMED_OUT)


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset per partition, retried while the coordinator is not ready."""
    return _patiently(lambda: committed_offsets(bootstrap, group, topic, partitions))


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """The sum of the group's committed offsets (0 for partitions without a commit)."""
    return sum(committed(bootstrap, group, topic, partitions).values())


def fully_committed(bootstrap: str, group: str, topic: str, partitions: int) -> bool:
    """Whether the group's committed offsets equal the end offsets on every partition."""
    ends = _patiently(lambda: end_offsets(bootstrap, topic, partitions))
    return committed(bootstrap, group, topic, partitions) == ends


def wait_until(condition: Callable[[], bool], timeout: float, what: str, log: Callable[[], str] | None = None) -> float:
    """Poll ``condition`` (every 0.2 s) until true; return the seconds it took, fail after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            tail = f"\nconnector log tail:\n{log()[-4000:]}" if log is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(0.2)
    return time.monotonic() - started


# -- what landed -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the stream holds compared with the ids that were produced."""

    expected: int
    stored: int
    missing: tuple[int, ...]
    duplicates: int  # rows beyond the first copy of each id
    unexpected: tuple[int, ...]
    duplicated: tuple[int, ...] = ()  # the ids stored more than once

    def outcome(self) -> str:
        text = f"{len(self.missing):,} lost, {self.duplicates:,} duplicates of {self.expected:,}"
        return text + (f", {len(self.unexpected):,} unexpected ids" if self.unexpected else "")

    def assert_nothing_lost(self) -> None:
        assert not self.missing, f"{len(self.missing)} ids never reached Timeplus, e.g. {list(self.missing[:20])}"
        assert not self.unexpected, f"ids that were never produced: {list(self.unexpected[:20])}"

    def assert_exactly_once(self, partitions: int) -> None:
        """Every id exactly once; a failure names the Kafka offsets that were stored twice."""
        self.assert_nothing_lost()
        assert not self.duplicates, (
            f"{self.duplicates:,} extra rows, {len(self.duplicated):,} ids stored more than once; "
            f"their offsets: {offset_runs(self.duplicated, partitions)}"
        )


def offset_runs(ids: Sequence[int], partitions: int, limit: int = 20) -> str:
    """Where ids written by ``produce_ids`` sit in Kafka, as runs: ``p1 @100-499, p3 @0-99``.

    ``produce_ids`` writes id ``i`` to partition ``i % partitions``, in order, so its offset is
    ``i // partitions`` when ids start at 0 and none is skipped.
    """
    runs: list[list[int]] = []  # [partition, first offset, last offset]
    for i in sorted(ids, key=lambda i: (i % partitions, i)):
        partition, offset = i % partitions, i // partitions
        if runs and runs[-1][0] == partition and runs[-1][2] == offset - 1:
            runs[-1][2] = offset
        else:
            runs.append([partition, offset, offset])
    shown = ", ".join(f"p{p} @{a}-{b}" for p, a, b in runs[:limit])
    return shown + (f", … ({len(runs) - limit} more runs)" if len(runs) > limit else "")


def delivery(emu: TimeplusEmulator, stream: str, ids: range) -> Delivery:
    """Count every id in ``stream``: which are missing, how many rows are extra copies."""
    counts = Counter(row["id"] for row in emu.rows(stream))
    expected = set(ids)
    missing = tuple(sorted(expected.difference(counts)))
    unexpected = tuple(sorted(set(counts).difference(expected)))
    duplicates = sum(n - 1 for n in counts.values())
    duplicated = tuple(sorted(i for i, n in counts.items() if n > 1))
    result = Delivery(len(ids), sum(counts.values()), missing, duplicates, unexpected, duplicated)
    print(f"delivery into {stream}: {result.outcome()} ({result.stored:,} rows stored)")
    return result


# -- memory ----------------------------------------------------------------------------------


class RssSampler:
    """Samples a process's VmRSS from /proc every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024

    def _run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stop.is_set():
            try:
                text = status.read_text()
            except OSError:  # the process is gone
                return
            match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
            if match:
                self.peak_kib = max(self.peak_kib, int(match.group(1)))
                self.samples += 1
            self._stop.wait(self.interval)
