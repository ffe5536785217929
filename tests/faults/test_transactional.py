"""A topic written by a transactional producer: commits, aborts, and an abort at the very end.

Transaction markers take offsets of their own and the messages of an aborted transaction
keep theirs, so the last data message of a partition is not at high watermark - 1. Under
``isolation.level=read_committed`` (librdkafka's default) the consumer never hands out
aborted messages or markers, but its position moves past them: the connector must commit
that position, or ``--until-caught-up`` waits forever for offsets no message will ever fill.
"""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    committed,
    delivery,
)
from tests.support.services import end_offsets

PARTITIONS = 2


class Transactions:
    """A transactional producer writing ``{"id": i, "name": ...}`` messages to chosen partitions."""

    def __init__(self, bootstrap: str, topic: str, transactional_id: str) -> None:
        self.topic = topic
        self.producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id})
        self.producer.init_transactions(60)
        self.aborted: list[int] = []

    def write(self, ids: range, *, commit: bool, partitions: tuple[int, ...] = tuple(range(PARTITIONS))) -> None:
        """One transaction holding ``ids`` spread over ``partitions``; committed or aborted."""
        self.producer.begin_transaction()
        for n, i in enumerate(ids):
            value = orjson.dumps({"id": i, "name": f"item-{i}"})
            self.producer.produce(self.topic, value=value, partition=partitions[n % len(partitions)])
        # Flushed before an abort, so the aborted messages really are in the log (an abort
        # would otherwise purge them from the producer's queue and write only the marker).
        assert self.producer.flush(60) == 0, "transactional messages unacknowledged after 60 s"
        if commit:
            self.producer.commit_transaction(60)
        else:
            self.producer.abort_transaction(60)
            self.aborted.extend(ids)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_transactional_topic_is_caught_up_and_aborted_messages_never_land(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
    unique: str,
) -> None:
    topic, stream, group, config = fault_setup("txn", kafka, partitions=PARTITIONS)
    writer = Transactions(kafka.bootstrap, topic, f"txn-{unique}")
    writer.write(range(0, 1_000), commit=True)
    writer.write(range(10_000, 10_300), commit=False)
    writer.write(range(1_000, 2_000), commit=True)
    writer.write(range(11_000, 11_100), commit=False, partitions=(0,))
    writer.write(range(2_000, 2_500), commit=True)
    # Partition 1 ends with an aborted transaction: its last offsets are aborted messages and the abort marker.
    writer.write(range(12_000, 12_050), commit=False, partitions=(1,))
    committed_ids = range(0, 2_500)

    started = time.monotonic()
    first = connectors.start(config, "first", until_caught_up=True)
    try:
        code: int | None = first.process.wait(90)
    except Exception:  # subprocess.TimeoutExpired: the hang this test is about
        code = None
    took = time.monotonic() - started
    result = delivery(emulator, stream, committed_ids)
    landed_aborted = sorted(set(writer.aborted).intersection(row["id"] for row in emulator.rows(stream)))
    ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
    offsets = committed(kafka.bootstrap, group, topic, PARTITIONS)

    # A second run over more transactions: it starts from the committed positions and re-sends nothing.
    writer.write(range(2_500, 3_000), commit=True)
    writer.write(range(13_000, 13_040), commit=False)
    second_code: int | None = None
    if code == 0:
        second = connectors.start(config, "second", until_caught_up=True)
        second_code = second.wait(90)
    final = delivery(emulator, stream, range(0, 3_000))
    final_ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
    final_offsets = committed(kafka.bootstrap, group, topic, PARTITIONS)
    fault_report(
        "transactional topic",
        f"{PARTITIONS} partitions written in committed and aborted transactions ({len(writer.aborted):,} aborted "
        "messages; partition 1 ends in an aborted transaction), drained with --until-caught-up, then again "
        "after more transactions",
        (
            f"{final.outcome()}; {len(landed_aborted)} aborted messages landed; both runs exit 0, the first "
            f"{took:.0f} s after start; committed offsets = end offsets (past the markers)"
        )
        if code == 0 and second_code == 0 and final_offsets == final_ends
        else f"HANG: --until-caught-up did not finish (exit {code}); committed {offsets}, end offsets {ends}",
    )
    assert code == 0, f"--until-caught-up did not finish (exit {code}); log tail:\n{first.log()[-3000:]}"
    assert not landed_aborted, f"messages of aborted transactions landed: {landed_aborted[:20]}"
    result.assert_nothing_lost()
    assert result.duplicates == 0
    assert offsets == ends, "the committed offsets stop short of the end offsets"
    assert second_code == 0, second.log()[-3000:]
    final.assert_nothing_lost()
    assert final.duplicates == 0, "the second run re-sent rows the first had committed"
    assert final_offsets == final_ends
    assert not set(writer.aborted).intersection(row["id"] for row in emulator.rows(stream))
