"""Fixtures and hooks of the fault-injection tests (issue #4, "Nothing lost, nothing stuck").

The report is printed as a Markdown table at the end of the run (``make faults``); the README
copies it from there. The plain helpers are in ``tests/support/faults.py``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    STREAM_COLUMNS,
    Connectors,
    FaultReport,
    FaultSetup,
    SeededRandom,
    fan_out_streams,
    write_fault_config,
)

_REPORT = FaultReport()


@pytest.fixture(scope="session")
def fault_report() -> FaultReport:
    """The session's collector: ``fault_report(fault, injected, outcome)`` adds this test's row."""
    return _REPORT


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and "fault_report" in getattr(item, "fixturenames", ()):
        reason = str(call.excinfo.value).strip().splitlines()[0] if call.excinfo else report.outcome
        _REPORT.failed[item.nodeid] = reason.rstrip(":")[:200]
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORT.rows or _REPORT.failed:
        terminalreporter.write_sep("=", "fault injection: what was done and what came out")
        terminalreporter.write_line(_REPORT.table())


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> SeededRandom:
    """A seeded RNG; the seed is printed, and ``FAULT_SEED=<n>`` replays a run."""
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\n{request.node.name}: FAULT_SEED={seed}")
    return SeededRandom(seed)


@pytest.fixture
def connectors(tmp_path: Path) -> Iterator[Connectors]:
    manager = Connectors(tmp_path)
    try:
        yield manager
    finally:
        manager.cleanup()


@pytest.fixture
def fault_setup(emulator: TimeplusEmulator, unique: str, tmp_path: Path) -> FaultSetup:
    """Makes a topic, a stream, a group and a config for one fault test: (topic, stream, group, config path).

    ``fan_out=n`` also creates n more streams, named by ``fan_out_streams``, each mapped from the topic.
    """

    def setup(
        name: str,
        kafka: KafkaBroker,
        *,
        partitions: int,
        stream_columns: list[tuple[str, str]] = STREAM_COLUMNS,
        fan_out: int = 0,
        **config: Any,
    ) -> tuple[str, str, str, Path]:
        topic, stream, group = f"{name}-{unique}", f"{name}_{unique}", f"g-{name}-{unique}"
        kafka.create_topic(topic, partitions)
        extra_streams = fan_out_streams(stream, fan_out)
        for target in (stream, *extra_streams):
            emulator.create_stream(target, stream_columns)
        path = write_fault_config(
            tmp_path / "c.yaml", bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream,
            fan_out_to=extra_streams, **config,
        )  # fmt: skip
        return topic, stream, group, path

    return setup
