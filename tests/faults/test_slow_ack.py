"""Timeplus stores a batch but answers after the client gave up: a duplicate, never a loss."""

from __future__ import annotations

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    delivery,
    fully_committed,
    produce_ids,
)

MESSAGES = 20_000
PARTITIONS = 4
TIMEOUT_S = 2
ACK_DELAY_S = 5


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ack_after_client_timeout_duplicates_but_loses_nothing(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "slowack",
        kafka,
        partitions=PARTITIONS,
        timeout_s=TIMEOUT_S,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(MESSAGES))
    # The first insert is stored at once but answered only after the client's read timeout.
    emulator.faults.slow_ack_next(1, ACK_DELAY_S)
    connector = connectors.start(config, "run", until_caught_up=True)
    code = connector.wait(150)
    assert code == 0, f"exit code {code}:\n{connector.log()[-4000:]}"

    slow = [r for r in emulator.requests() if r.outcome == "slow_ack"]
    result = delivery(emulator, stream, range(MESSAGES))
    fault_report(
        "slow acknowledgement",
        f"first insert stored, answered after {ACK_DELAY_S} s; client timeout {TIMEOUT_S} s ({MESSAGES:,} messages)",
        f"{result.outcome()} (the re-sent batch of {slow[0].rows if slow else 0:,} rows)",
    )
    assert len(slow) == 1, "the slow acknowledgement was not applied"
    result.assert_nothing_lost()
    # No idempotent id is sent, so the retry of the stored batch lands again: that is the
    # at-least-once price, and the test makes it visible rather than pretending it away.
    assert result.duplicates >= 1, "the timed-out batch was stored, so its retry should have duplicated it"
    assert result.duplicates == slow[0].rows, "only the slow-acknowledged batch may arrive twice"
    assert "no answer within the timeout" in connector.log()
    assert fully_committed(kafka.bootstrap, group, topic, PARTITIONS)
