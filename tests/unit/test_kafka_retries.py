"""Kafka's transient failures (RetriableError from the record source) are retried, as Timeplus's are.

tests/faults/test_kafka_retriable.py shows it through a real broker; these pin the
policy down against fakes: back off, one warning per outage, a stop request ends it.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable

import pytest

from connector.config import Config, parse_config
from connector.errors import RetriableError
from connector.offsets import TopicPartition as TP
from connector.pipeline import Tuning, build_pipeline
from connector.records import MessageLike
from tests.unit.fakes import FakeSink, FakeSource, json_records

FAST = Tuning(poll_messages=3, poll_timeout_s=0.0, commit_interval_s=0.0)


def config() -> Config:
    return parse_config(
        textwrap.dedent(
            """
            kafka: {bootstrap.servers: 'unused:9092'}
            timeplus: {url: 'http://unused:3218', retry_backoff_s: 0.001, retry_backoff_max_s: 0.002}
            batch: {max_rows: 10, linger_ms: 0}
            mappings:
              - topic: orders
                stream: orders
                on_error: skip
                columns:
                  id: {from: value.id, type: int64}
            """
        ),
        env={},
    )


class FlakySource(FakeSource):
    """Fails ``consume`` and ``committed`` with RetriableError a few times each."""

    def __init__(self, *args: object, consume_failures: int, committed_failures: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.consume_failures = consume_failures
        self.committed_failures = committed_failures
        self.on_failure: Callable[[FakeSource], None] | None = None

    def consume(self, max_messages: int, timeout: float) -> list[MessageLike]:
        if self.assigned and self.consume_failures:
            self.consume_failures -= 1
            if self.on_failure is not None:
                self.on_failure(self)
            raise RetriableError("kafka: consume failed: Local: Timed out")
        return super().consume(max_messages, timeout)

    def committed(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, int]:
        if self.committed_failures:
            self.committed_failures -= 1
            raise RetriableError("kafka: committed failed: Failed to get committed offsets: Local: Timed out")
        return super().committed(partitions, timeout)


def test_transient_kafka_failures_are_retried_with_one_warning_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    records = {("orders", 0): json_records("orders", 0, [{"id": i} for i in range(20)])}
    source = FlakySource(records, consume_failures=4, committed_failures=3)
    sink = FakeSink()
    with caplog.at_level(logging.WARNING):
        build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(row[0] for row in sink.rows["orders"]) == list(range(20))
    assert source.broker_committed == {("orders", 0): 20}
    assert source.consume_failures == source.committed_failures == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "connector.outage"]
    assert warnings and warnings[0].startswith("Kafka unavailable, retrying with backoff: kafka:")
    # Each outage is one warning when it starts and one when it ends.
    assert len([w for w in warnings if "unavailable" in w]) == len([w for w in warnings if "available again" in w])


def test_a_stop_request_ends_the_retries() -> None:
    records = {("orders", 0): json_records("orders", 0, [{"id": i} for i in range(5)])}
    source = FlakySource(records, consume_failures=10**9, committed_failures=0)
    pipeline = build_pipeline(config(), source, FakeSink(), tuning=FAST)
    failures_left = source.consume_failures

    def stop_after_three_failures(_fake: FakeSource) -> None:
        if failures_left - source.consume_failures >= 3:
            pipeline.stop()

    source.on_failure = stop_after_three_failures
    pipeline.run()  # returns although Kafka never recovers
    assert failures_left - source.consume_failures == 3
    assert source.closed
