"""A retried request whose rows Timeplus then rejects: the connector must not stay paused."""

from __future__ import annotations

import orjson
import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    delivery,
    ensure_running,
    stop_cleanly,
    wait_until,
)
from tests.support.services import produce

PARTITIONS = 1
BAD = 8
GOOD = 1_000


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_503_then_a_wholly_rejected_batch_does_not_leave_the_partitions_paused(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    # `name` is an int64 column: a name that is not a number is a value Timeplus rejects (400, code 27).
    topic, stream, _group, config = fault_setup(
        "rejected",
        kafka,
        partitions=PARTITIONS,
        stream_columns=[("id", "int64"), ("name", "int64")],
        on_error="skip",
        columns={"id": "{from: value.id, type: int64}", "name": "value.name"},
    )
    bad = [(0, None, orjson.dumps({"id": i, "name": f"item-{i}"})) for i in range(BAD)]
    produce(kafka.bootstrap, topic, bad)
    # The first request meets a 503; its retry is answered 400 for every row, down to single rows.
    emulator.faults.fail_next(1, status=503)
    connector = connectors.start(config, "run")

    def bad_rows_skipped() -> bool:
        ensure_running(connector)
        return connector.log().count("skipped message") >= BAD

    wait_until(bad_rows_skipped, 60, "every bad row to be rejected and skipped", connector.log)
    # Good messages now: a connector that kept its partitions paused never reads them.
    good = [(0, None, orjson.dumps({"id": i, "name": i})) for i in range(BAD, BAD + GOOD)]
    produce(kafka.bootstrap, topic, good)

    def good_rows_landed() -> bool:
        ensure_running(connector)
        return emulator.count(stream) >= GOOD

    stuck = False
    try:
        wait_until(good_rows_landed, 30, "the good messages to land after the rejected batch", connector.log)
    except pytest.fail.Exception:
        stuck = True
    stop_cleanly(connector)
    result = delivery(emulator, stream, range(BAD, BAD + GOOD))
    paused = [line for line in connector.log().splitlines() if "paused" in line or "resumed" in line]
    print("pause/resume lines:", *paused, sep="\n  ")
    fault_report(
        "retry, then rejection",
        f"503 on the first request, then Timeplus rejects every row of its batch ({BAD} bad messages, "
        f"on_error: skip); {GOOD:,} good messages after them",
        f"STUCK: {result.stored:,} of {GOOD:,} good messages delivered in 30 s, the partition stays paused"
        if stuck
        else f"{result.outcome()} good messages; {len(paused)} pause/resume lines",
    )
    assert not stuck, f"the connector stayed paused after the rejected batch (log: {'; '.join(paused)})"
    result.assert_nothing_lost()
