"""The Kafka broker stops and comes back while the connector drains: nothing may be lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kafka_broker import BrokerStartError, KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    SeededRandom,
    delivery,
    ensure_running,
    fully_committed,
    pipeline_lines,
    produce_ids,
    stop_cleanly,
    wait_until,
)

PARTITIONS = 4
BEFORE = 60_000
AFTER = 20_000


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker for this test alone: restarting the session's broker would disturb the others."""
    broker = KafkaBroker(workdir=tmp_path / "kafka")
    try:
        broker.start()
    except BrokerStartError as exc:
        broker.stop()
        pytest.fail(f"the Kafka broker did not start:\n{exc}", pytrace=False)
    yield broker
    broker.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["restart", "kill-9"])
def test_broker_restart_mid_drain_loses_nothing(
    how: str,
    own_kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    kafka = own_kafka
    topic, stream, group, config = fault_setup(
        "restart",
        kafka,
        partitions=PARTITIONS,
        max_rows=500,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BEFORE))
    # ~10,000 rows/s (IN_FLIGHT 2 x 500 rows / 0.1 s): the restart comes mid-backlog.
    emulator.faults.set_latency(0.1)
    connector = connectors.start(config, "run")
    restart_after = rng.randint(10_000, 30_000)

    def landed(n: int) -> bool:
        ensure_running(connector)
        return emulator.count(stream) >= n

    wait_until(lambda: landed(restart_after), 120, f"{restart_after:,} rows to land", connector.log)
    landed_at_stop = emulator.count(stream)
    started = time.monotonic()
    if how == "restart":
        kafka.restart()  # SIGTERM (a clean broker shutdown), then start on the same port with the same data
    else:
        kafka.kill()  # a broker crash: what was written survives in the page cache, as after a process crash
        kafka.start()
    down_s = time.monotonic() - started
    print(f"broker {how}: back in {down_s:.1f} s, {landed_at_stop:,} rows had landed")
    ensure_running(connector)
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BEFORE, BEFORE + AFTER))

    def caught_up() -> bool:
        ensure_running(connector)
        return fully_committed(kafka.bootstrap, group, topic, PARTITIONS)

    took = wait_until(caught_up, 120, "the connector to catch up after the broker restart", connector.log)
    print(f"caught up {took:.1f} s after the restart and the extra messages")
    stop_cleanly(connector)

    membership = pipeline_lines(connector.log())
    print("assignment lines:", *membership, sep="\n  ")
    result = delivery(emulator, stream, range(BEFORE + AFTER))
    what = "stopped (SIGTERM) and restarted" if how == "restart" else "killed (SIGKILL) and restarted"
    fault_report(
        "Kafka broker restart" if how == "restart" else "Kafka broker crash",
        f"broker {what}, back in {down_s:.0f} s, after {landed_at_stop:,} of {BEFORE:,} rows landed; "
        f"{AFTER:,} more produced after it",
        f"{result.outcome()}; caught up {took:.0f} s later; committed offsets = end offsets",
    )
    result.assert_nothing_lost()
