"""What a revoke leaves behind (issue #11): the partitions it gives up are never committed again."""

from __future__ import annotations

import textwrap
import threading

import pytest

from connector.config import Config, parse_config
from connector.errors import FatalError, IngestRejected
from connector.pipeline import Tuning, build_pipeline
from tests.unit.fakes import FakeSink, FakeSource, json_records

REVOKED = ("orders", 0)
KEPT = ("orders", 1)


def fail_on_bad_rows() -> Config:
    return parse_config(
        textwrap.dedent(
            """
            kafka: {bootstrap.servers: 'unused:9092'}
            timeplus: {url: 'http://unused:3218', retry_backoff_s: 0.001}
            batch: {max_rows: 5, linger_ms: 0}
            mappings:
              - {topic: orders, stream: orders, on_error: fail, columns: {id: value.id}}
            """
        ),
        env={},
    )


@pytest.mark.timeout(30)
def test_a_fatal_error_while_revoking_still_gives_the_partitions_up() -> None:
    # Partition 0 delivers a first batch, then a batch with a row Timeplus rejects is in flight
    # when partition 0 is revoked (on_error: fail makes that fatal). The broker accepts a
    # member's commit for any partition of the group, even one another member owns now (seen
    # on Kafka 4.1 with both group protocols), so a stop that still counted partition 0 as its
    # own would overwrite the new owner's committed offset.
    values = [{"id": i} for i in range(5)] + [{"id": "bad"}] + [{"id": i} for i in range(6, 10)]
    partitions = {REVOKED: json_records("orders", 0, values), KEPT: json_records("orders", 1, [{"id": 100}])}
    revoking = threading.Event()

    def reject_bad_rows_once_revoking(stream: str, call: int, body: bytes) -> IngestRejected | None:
        if b'"bad"' not in body:
            return None
        revoking.wait(10)  # the batch is in flight while the revoke waits for it
        return IngestRejected("Cannot parse input", stream=stream, status=400, code=27)

    source = FakeSource(partitions)
    sink = FakeSink(reject=reject_bad_rows_once_revoking)
    tuning = Tuning(poll_messages=5, poll_timeout_s=0.0, commit_interval_s=0.0)
    pipeline = build_pipeline(fail_on_bad_rows(), source, sink, tuning=tuning)
    # How many commits there were when the revoke callback returned (or raised).
    revoked_at: list[int] = []

    def revoke_partition_0_once_read(fake: FakeSource) -> None:
        first_batch_committed = fake.broker_committed.get(REVOKED, 0) >= 5
        if fake.positions_[REVOKED] == 10 and first_batch_committed and not revoked_at:
            assert fake.callbacks is not None
            revoking.set()
            fake.assignment = [KEPT]
            try:
                fake.callbacks[1]([REVOKED])
            finally:
                revoked_at.append(len(fake.commits))

    source.before_consume = revoke_partition_0_once_read
    with pytest.raises(FatalError, match="Cannot parse input"):
        pipeline.run()
    assert revoked_at, "the revoke never happened"
    after_revoke = source.commits[revoked_at[0] :]
    assert all(REVOKED not in offsets for offsets, _ in after_revoke), (
        f"partition 0 was committed after it was given up: {after_revoke}"
    )
