"""Transaction markers and aborted messages: committed offsets follow the consumer's position past them.

tests/faults/test_transactional.py shows it through a real broker and a transactional
producer; these pin the rule down against fakes.
"""

from __future__ import annotations

import textwrap

from connector.config import Config, parse_config
from connector.offsets import OffsetTracker
from connector.offsets import TopicPartition as TP
from connector.pipeline import Tuning, build_pipeline
from connector.records import Record
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


def test_an_idle_partition_is_done_up_to_the_consumers_position() -> None:
    tracker = OffsetTracker()
    segment = tracker.open("t", 0, 0)
    segment.last = 4
    segment.hold()
    segment.seal()
    tracker.skip_to(("t", 0), 7)  # markers at 5 and 6, but rows 0..4 are still in flight
    assert tracker.committable() == {}
    segment.release()
    assert tracker.committable() == {("t", 0): 5}
    tracker.skip_to(("t", 0), 7)
    assert tracker.committable() == {("t", 0): 7}
    tracker.skip_to(("t", 0), 6)  # never backwards
    assert tracker.delivered() == {("t", 0): 7}


def test_a_partition_that_held_only_markers_is_done_up_to_the_position() -> None:
    tracker = OffsetTracker()
    tracker.skip_to(("t", 0), 3)
    assert tracker.committable() == {("t", 0): 3}


class TransactionalSource(FakeSource):
    """A partition whose records skip offsets (markers, aborted messages) and whose log ends past the last."""

    def __init__(self, records: list[Record], end: int) -> None:
        super().__init__({("orders", 0): records})
        self.end = end

    def _offset(self, tp: TP) -> int:
        records, index = self.partitions[tp], self.positions_[tp]
        return records[index].offset() if index < len(records) else self.end

    def positions(self, partitions: list[TP]) -> dict[TP, int]:
        return {tp: self._offset(tp) for tp in partitions}

    def end_offsets(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, int]]:
        return {tp: (0, self.end) for tp in partitions}


def test_until_caught_up_finishes_and_commits_past_the_markers_of_a_transactional_partition() -> None:
    # Offsets 3 (commit marker), 4-6 (an aborted transaction), 7 (abort marker), 10 and 11
    # (an aborted transaction at the end), 12 (its marker): the log ends at 13.
    records = [r for r in json_records("orders", 0, [{"id": i} for i in range(10)]) if r.offset() in (0, 1, 2, 8, 9)]
    source = TransactionalSource(records, end=13)
    sink = FakeSink()
    build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(row[0] for row in sink.rows["orders"]) == [0, 1, 2, 8, 9]
    assert source.broker_committed == {("orders", 0): 13}
