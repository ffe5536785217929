"""``run --workers 2`` through a real broker: two connector processes in one group deliver a
backlog with nothing lost, commit it all, and both stop cleanly on the supervisor's SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    STREAM_COLUMNS,
    committed,
    delivery,
    produce_ids,
    wait_until,
    write_fault_config,
)
from tests.support.services import end_offsets

PARTITIONS = 4
BACKLOG = 20_000


def start(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "connector.cli", "run", "-c", str(config), "--workers", "2", *extra]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def summaries(log: str) -> list[int]:
    """The message count of each worker's closing summary."""
    return [int(n) for n in re.findall(r"stopped: (\d+) messages", log)]


def setup(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path, name: str
) -> tuple[str, str, str, Path]:
    """A topic with a backlog of ``BACKLOG`` ids, a stream, and a config reading one into the other."""
    topic, stream, group = f"{name}-{unique}", f"{name}_{unique}", f"g-{name}-{unique}"
    kafka.create_topic(topic, PARTITIONS)
    emulator.create_stream(stream, STREAM_COLUMNS)
    config = write_fault_config(
        tmp_path / "c.yaml", bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG))
    return topic, stream, group, config


def test_two_workers_deliver_a_backlog_with_nothing_lost(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic, stream, group, config = setup(kafka, emulator, unique, tmp_path, "workers")
    log = tmp_path / "run.log"
    supervisor = start(config, log, "--until-caught-up")
    try:
        code = supervisor.wait(timeout=300)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()  # only the process this test started
            supervisor.wait()
    text = log.read_text(errors="replace")
    assert code == 0, text[-4000:]
    assert "started 2 workers" in text
    counts = summaries(text)
    print(f"messages per worker: {counts}")
    assert len(counts) == 2 and sum(counts) >= BACKLOG, counts  # both ran, and stopped with a summary
    delivery(emulator, stream, range(BACKLOG)).assert_nothing_lost()
    assert committed(kafka.bootstrap, group, topic, PARTITIONS) == end_offsets(kafka.bootstrap, topic, PARTITIONS)


def test_sigterm_to_the_supervisor_stops_every_worker_cleanly(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic, stream, group, config = setup(kafka, emulator, unique, tmp_path, "stopping")
    log = tmp_path / "run.log"
    supervisor = start(config, log)
    try:

        def delivered() -> bool:
            assert supervisor.poll() is None, log.read_text(errors="replace")[-4000:]
            return emulator.count(stream) >= BACKLOG

        wait_until(delivered, 300, f"{BACKLOG:,} rows", lambda: log.read_text(errors="replace"))
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=120)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()  # only the process this test started
            supervisor.wait()
    text = log.read_text(errors="replace")
    assert code == 0, text[-4000:]
    assert "received SIGTERM: stopping 2 workers" in text
    assert len(summaries(text)) == 2, text[-4000:]
    delivery(emulator, stream, range(BACKLOG)).assert_nothing_lost()
    assert committed(kafka.bootstrap, group, topic, PARTITIONS) == end_offsets(kafka.bootstrap, topic, PARTITIONS)
