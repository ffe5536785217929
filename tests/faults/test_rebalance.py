"""Instances join and leave the consumer group while messages flow: nothing may be lost."""

from __future__ import annotations

import os
import re
import signal
import time
from functools import partial

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    Flow,
    SeededRandom,
    delivery,
    ensure_running,
    fully_committed,
    owns_partitions,
    pipeline_lines,
    stop_cleanly,
    wait_until,
)
from tests.support.services import ConnectorProcess

PARTITIONS = 6


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_instances_join_and_leave_while_messages_flow_and_lose_nothing(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "rebalance",
        kafka,
        partitions=PARTITIONS,
    )
    flow = Flow(kafka.bootstrap, topic, PARTITIONS).start()  # ~4,000 messages/s
    try:
        instances = {name: connectors.start(config, name) for name in ("a", "b")}
        for name, process in instances.items():
            wait_until(partial(owns_partitions, process), 60, f"instance {name} to own partitions", process.log)

        def more_rows_land(n: int) -> None:
            target = emulator.count(stream) + n
            wait_until(lambda: emulator.count(stream) >= target, 60, f"{n:,} more rows to land")

        more_rows_land(rng.randint(2_000, 8_000))
        instances["c"] = connectors.start(config, "c")
        wait_until(lambda: owns_partitions(instances["c"]), 60, "instance c to own partitions", instances["c"].log)
        more_rows_land(rng.randint(2_000, 8_000))

        leaver = rng.choice(sorted(instances))
        stop_cleanly(instances[leaver])
        print(f"instance {leaver} left with SIGTERM after {emulator.count(stream):,} rows landed")
        remaining = {name: p for name, p in instances.items() if name != leaver}
        more_rows_land(rng.randint(2_000, 8_000))
    finally:
        produced = flow.stop()
    print(f"{produced:,} messages produced while the group changed")

    def caught_up() -> bool:
        for process in remaining.values():
            ensure_running(process)
        return fully_committed(kafka.bootstrap, group, topic, PARTITIONS)

    took = wait_until(caught_up, 120, "the two remaining instances to commit everything")
    for process in remaining.values():
        stop_cleanly(process)
    final = connectors.start(config, "final", until_caught_up=True)
    code = final.wait(120)
    assert code == 0, f"the final --until-caught-up run exited with {code}:\n{final.log()[-4000:]}"

    for name, process in instances.items():
        print(f"instance {name}:", *pipeline_lines(process.log()), sep="\n  ")
    result = delivery(emulator, stream, range(produced))
    fault_report(
        "consumer-group rebalance",
        f"2 instances, a 3rd joins, instance {leaver} leaves (SIGTERM), {produced:,} messages flowing, "
        f"{PARTITIONS} partitions, cooperative-sticky (seed {rng.seed_value})",
        f"{result.outcome()}; the other two committed everything {took:.0f} s after the flow stopped",
    )
    result.assert_nothing_lost()
    assert fully_committed(kafka.bootstrap, group, topic, PARTITIONS)


# A frozen member (SIGSTOP) must be evicted when its session expires, 6 s after its last
# heartbeat (the broker's minimum; librdkafka's default is 45 s), so the test stays short.
FAST_EVICTION = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}


def assignments(process: ConnectorProcess) -> int:
    """How many non-empty assignments the instance's log shows."""
    ensure_running(process)
    return sum(1 for line in pipeline_lines(process.log()) if re.search(r" assigned (?!nothing)", line))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_frozen_instance_is_evicted_and_rejoins_without_losing_anything(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "frozen",
        kafka,
        partitions=PARTITIONS,
        kafka_extra=FAST_EVICTION,
    )
    flow = Flow(kafka.bootstrap, topic, PARTITIONS).start()  # ~4,000 messages/s
    try:
        frozen, other = connectors.start(config, "frozen"), connectors.start(config, "other")
        for name, process in (("frozen", frozen), ("other", other)):
            wait_until(partial(owns_partitions, process), 60, f"instance {name} to own partitions", process.log)
        target = emulator.count(stream) + rng.randint(2_000, 8_000)
        wait_until(lambda: emulator.count(stream) >= target, 60, "rows to land")

        other_before = assignments(other)
        os.kill(frozen.process.pid, signal.SIGSTOP)  # a long GC pause, a VM stall, a debugger
        stopped_at = time.monotonic()
        wait_until(lambda: assignments(other) > other_before, 60, "the other instance to take over", other.log)
        evicted_in = time.monotonic() - stopped_at
        target = emulator.count(stream) + 2_000
        wait_until(lambda: emulator.count(stream) >= target, 60, "rows to land while one is frozen")
        frozen_before = assignments(frozen)
        os.kill(frozen.process.pid, signal.SIGCONT)
        frozen_for = time.monotonic() - stopped_at
        print(f"frozen for {frozen_for:.1f} s; the other instance took over after {evicted_in:.1f} s")

        wait_until(lambda: assignments(frozen) > frozen_before, 60, "the frozen one to rejoin", frozen.log)
        target = emulator.count(stream) + 2_000
        wait_until(lambda: emulator.count(stream) >= target, 60, "rows to land after it rejoined")
    finally:
        produced = flow.stop()

    def caught_up() -> bool:
        ensure_running(frozen)
        ensure_running(other)
        return fully_committed(kafka.bootstrap, group, topic, PARTITIONS)

    took = wait_until(caught_up, 120, "both instances to commit everything")
    for process in (frozen, other):
        stop_cleanly(process)
    final = connectors.start(config, "final", until_caught_up=True)
    code = final.wait(120)
    assert code == 0, f"the final --until-caught-up run exited with {code}:\n{final.log()[-4000:]}"

    for name, process in (("frozen", frozen), ("other", other)):
        print(f"instance {name}:", *pipeline_lines(process.log()), sep="\n  ")
    result = delivery(emulator, stream, range(produced))
    fault_report(
        "frozen instance",
        f"1 of 2 instances SIGSTOPped for {frozen_for:.0f} s (session.timeout.ms 6000) while {produced:,} "
        f"messages flowed, then SIGCONT (seed {rng.seed_value})",
        f"{result.outcome()}; evicted after {evicted_in:.0f} s, rejoined, everything committed "
        f"{took:.0f} s after the flow stopped",
    )
    result.assert_nothing_lost()
