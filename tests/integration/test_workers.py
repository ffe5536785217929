"""``run --workers 2`` through a real broker: two connector processes in one group deliver a
backlog with nothing lost and commit it all; both hold partitions and deliver a share, and
both stop cleanly on the supervisor's SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

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
    return topic, stream, group, config


def members_with_partitions(bootstrap: str, group: str) -> int:
    """How many members of the group hold partitions right now (0 while it is forming)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        (description,) = [f.result(timeout=30) for f in admin.describe_consumer_groups([group]).values()]
    except KafkaException:
        return 0
    return sum(1 for m in description.members if m.assignment and m.assignment.topic_partitions)


def test_two_workers_deliver_a_backlog_with_nothing_lost(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic, stream, group, config = setup(kafka, emulator, unique, tmp_path, "workers")
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG))
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
        # Both workers hold partitions before the backlog arrives: each delivers a share of it.
        wait_until(
            lambda: members_with_partitions(kafka.bootstrap, group) == 2,
            120,
            "both workers to hold partitions",
            lambda: log.read_text(errors="replace"),
        )
        produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG))

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
    counts = summaries(text)
    print(f"messages per worker: {counts}")
    assert len(counts) == 2 and all(counts) and sum(counts) >= BACKLOG, text[-4000:]
    delivery(emulator, stream, range(BACKLOG)).assert_nothing_lost()
    assert committed(kafka.bootstrap, group, topic, PARTITIONS) == end_offsets(kafka.bootstrap, topic, PARTITIONS)
