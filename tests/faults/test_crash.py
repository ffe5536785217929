"""kill -9 the connector again and again while it drains a backlog: nothing may be lost."""

from __future__ import annotations

import time
from functools import partial

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    SeededRandom,
    committed_total,
    delivery,
    ensure_running,
    fully_committed,
    kill_9,
    produce_ids,
    wait_until,
)
from tests.support.services import ConnectorProcess, end_offsets

MESSAGES = 200_000
PARTITIONS = 4
KILLS = 10
# A member killed with SIGKILL sends no LeaveGroup: the coordinator only learns it is gone when
# its session expires (librdkafka's default session.timeout.ms is 45 s), and the rebalance that
# the restarted instance starts waits for the dead member until then. 6 s is the broker's
# minimum (group.min.session.timeout.ms); heartbeats must come well within it.
FAST_EVICTION = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
# Timeplus answering each insert in 0.1 s caps the connector near 8,000 rows/s (IN_FLIGHT
# 2 x 400 rows / 0.1 s), so the backlog outlasts ten short incarnations and every kill
# lands while rows are in flight and offsets uncommitted.
LATENCY_S = 0.1
MAX_ROWS = 400


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_kill_9_ten_times_while_draining_loses_nothing(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "crash",
        kafka,
        partitions=PARTITIONS,
        kafka_extra=FAST_EVICTION,
        max_rows=MAX_ROWS,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(MESSAGES))
    emulator.faults.set_latency(LATENCY_S)

    def committed() -> int:
        return committed_total(kafka.bootstrap, group, topic, PARTITIONS)

    def progressed(process: ConnectorProcess, landed_at_start: int, committed_at_start: int, threshold: int) -> bool:
        ensure_running(process)
        if emulator.count(stream) - landed_at_start < threshold:
            return False
        return committed() > committed_at_start

    for k in range(1, KILLS + 1):
        process = connectors.start(config, f"run{k}")
        landed_at_start, committed_at_start = emulator.count(stream), committed()
        # Kill after a random number of new rows landed, and only once this incarnation has
        # committed something: each kill then cuts a different point of real progress.
        threshold = rng.randint(2_000, 10_000)
        took = wait_until(
            partial(progressed, process, landed_at_start, committed_at_start, threshold),
            90,
            f"incarnation {k} to land {threshold} rows and commit",
            process.log,
        )
        time.sleep(rng.uniform(0, 1.0))  # and somewhere between two commits (they come every second)
        ensure_running(process)
        at_kill = committed()
        kill_9(process)
        print(
            f"kill {k}: after {took:.1f} s, {emulator.count(stream) - landed_at_start:,} rows landed "
            f"(threshold {threshold:,}), committed {at_kill:,} of {MESSAGES:,}"
        )
        assert at_kill < MESSAGES, f"kill {k} came after everything was committed: not a mid-work crash"

    emulator.faults.set_latency(0)
    final = connectors.start(config, "final", until_caught_up=True)
    code = final.wait(180)
    assert code == 0, f"the final --until-caught-up run exited with {code}:\n{final.log()[-4000:]}"

    result = delivery(emulator, stream, range(MESSAGES))
    caught_up = fully_committed(kafka.bootstrap, group, topic, PARTITIONS)
    fault_report(
        "connector crash",
        f"kill -9 at {KILLS} random points mid-drain of {MESSAGES:,} messages, 4 partitions (seed {rng.seed_value})",
        f"{result.outcome()}; committed offsets {'=' if caught_up else '≠'} end offsets",
    )
    result.assert_nothing_lost()
    assert caught_up, (
        f"committed {committed()} != end {sum(end_offsets(kafka.bootstrap, topic, PARTITIONS).values())}:\n"
        f"{final.log()[-3000:]}"
    )
