from typing import Any

from connector.batching import ROW_OVERHEAD_BYTES, Batch, BatchLimits, StreamBatcher
from connector.offsets import OffsetTracker, Segment
from connector.records import Record

MSG = Record("t", 0, 0, b"{}")


def _batcher(max_rows: int = 100, max_bytes: int = 1 << 20, linger_s: float = 0.5) -> StreamBatcher:
    return StreamBatcher("s", ["id", "name"], BatchLimits(max_rows, max_bytes, linger_s))


def _poll(
    batcher: StreamBatcher, rows: list[list[Any]], segment: Segment, *, at: float = 0.0, size: float = 10
) -> list[Batch]:
    """What the pipeline does for one poll: note the segment, append the rows, end the poll."""
    batcher.note_segment(segment)
    for row in rows:
        batcher.polled_rows.append(row)
        batcher.polled_messages.append(MSG)
    return batcher.end_poll(at, size)


def test_flush_on_max_rows() -> None:
    batcher = _batcher(max_rows=3)
    segment = OffsetTracker().open("t", 0, 0)
    assert _poll(batcher, [[1, "a"], [2, "b"]], segment) == []
    [full] = _poll(batcher, [[3, "c"]], segment)
    assert len(full) == 3
    assert full.rows == [[1, "a"], [2, "b"], [3, "c"]]
    assert batcher.take() is None


def test_a_poll_larger_than_max_rows_is_cut_exactly() -> None:
    batcher = _batcher(max_rows=3)
    segment = OffsetTracker().open("t", 0, 0)
    assert _poll(batcher, [[0, "x"]], segment) == []
    full = _poll(batcher, [[i, "x"] for i in range(1, 8)], segment)
    assert [[row[0] for row in batch.rows] for batch in full] == [[0, 1, 2], [3, 4, 5]]
    assert [len(batch.messages) for batch in full] == [3, 3]
    rest = batcher.take()
    assert rest is not None and [row[0] for row in rest.rows] == [6, 7]


def test_flush_on_estimated_bytes() -> None:
    batcher = _batcher(max_bytes=1000)
    segment = OffsetTracker().open("t", 0, 0)
    assert _poll(batcher, [[i, "x"] for i in range(3)], segment, size=300) == []
    [full] = _poll(batcher, [[3, "x"], [4, "x"]], segment, size=300)
    assert len(full) == 4 and full.estimated_bytes == 1200
    rest = batcher.take()
    assert rest is not None and len(rest) == 1


def test_the_byte_budget_learns_from_encoded_sizes() -> None:
    # Rows encode to twice their estimate: the budget halves, so bodies stay near max_bytes.
    batcher = _batcher(max_bytes=1000)
    batcher.observe(estimated=500, actual=1000)
    segment = OffsetTracker().open("t", 0, 0)
    [full] = _poll(batcher, [[1, "x"], [2, "x"], [3, "x"]], segment, size=300)
    assert len(full) == 2


def test_flush_on_linger_time() -> None:
    batcher = _batcher(linger_s=0.5)
    segment = OffsetTracker().open("t", 0, 0)
    assert not batcher.due(10.0) and batcher.due_at() is None
    _poll(batcher, [[1, "a"]], segment, at=10.0)
    assert batcher.due_at() == 10.5
    assert not batcher.due(10.4)
    assert batcher.due(10.5)
    batch = batcher.take()
    assert batch is not None and len(batch) == 1 and batch.reads == [(10.0, 1)]
    assert not batcher.due(11.0)


def test_a_poll_without_rows_holds_nothing_and_opens_no_batch() -> None:
    tracker = OffsetTracker()
    segment = tracker.open("t", 0, 0)
    batcher = _batcher()
    assert _poll(batcher, [], segment) == []
    segment.seal()
    assert batcher.take() is None
    assert tracker.committable() == {("t", 0): 1}


def test_batch_holds_each_segment_until_released() -> None:
    tracker = OffsetTracker()
    first, second = tracker.open("t", 0, 0), tracker.open("t", 1, 0)
    batcher = _batcher()
    for segment in (first, second):
        batcher.note_segment(segment)
        batcher.polled_rows.append([1, "a"])
        batcher.polled_messages.append(MSG)
    batcher.end_poll(0.0, 10)
    first.seal()
    second.seal()
    batch = batcher.take()
    assert batch is not None
    assert tracker.committable() == {}
    batch.release()
    assert tracker.committable() == {("t", 0): 1, ("t", 1): 1}


def test_every_batch_cut_from_a_poll_holds_its_segments() -> None:
    tracker = OffsetTracker()
    segment = tracker.open("t", 0, 0)
    batcher = _batcher(max_rows=2)
    first, second = _poll(batcher, [[i, "x"] for i in range(5)], segment)
    segment.seal()
    rest = batcher.take()
    assert rest is not None
    for batch in (first, rest):
        batch.release()
    assert tracker.committable() == {}
    second.release()
    assert tracker.committable() == {("t", 0): 1}


def test_a_batch_holds_only_the_segments_its_rows_came_from() -> None:
    # One poll read partition 0 then partition 1; the first batch took only partition 0's rows,
    # so its delivery alone lets partition 0's offsets be committed.
    tracker = OffsetTracker()
    zero, one = tracker.open("t", 0, 0), tracker.open("t", 1, 0)
    batcher = _batcher(max_rows=3)
    for segment, rows in ((zero, 3), (one, 2)):
        batcher.note_segment(segment)
        for i in range(rows):
            batcher.polled_rows.append([i, "x"])
            batcher.polled_messages.append(Record("t", segment.partition, i, b"{}"))
        segment.last = rows - 1
    [first] = batcher.end_poll(0.0, 10)
    zero.seal()
    one.seal()
    first.release()
    assert tracker.committable() == {("t", 0): 3}
    rest = batcher.take()
    assert rest is not None
    rest.release()
    assert tracker.committable() == {("t", 0): 3, ("t", 1): 2}


def test_a_poll_split_over_batches_commits_batch_by_batch() -> None:
    tracker = OffsetTracker()
    segment = tracker.open("t", 0, 0)
    batcher = _batcher(max_rows=2)
    batcher.note_segment(segment)
    for i in range(5):
        batcher.polled_rows.append([i, "x"])
        batcher.polled_messages.append(Record("t", 0, i, b"{}"))
    segment.last = 4
    first, second = batcher.end_poll(0.0, 10)
    segment.seal()
    first.release()
    assert tracker.committable() == {("t", 0): 2}
    second.release()
    assert tracker.committable() == {("t", 0): 4}, "offset 4 waits in the open batch"


def test_dropping_a_partitions_rows_never_commits_them() -> None:
    tracker = OffsetTracker()
    zero, one = tracker.open("t", 0, 0), tracker.open("t", 1, 0)
    batcher = _batcher()
    for segment in (zero, one):
        batcher.note_segment(segment)
        for i in range(3):
            batcher.polled_rows.append([i, "x"])
            batcher.polled_messages.append(Record("t", segment.partition, i, b"{}"))
        segment.last = 2
    batcher.end_poll(0.0, 10)
    zero.seal()
    one.seal()
    assert batcher.drop_partitions({("t", 0)}) == 3
    batch = batcher.take()
    assert batch is not None and len(batch) == 3
    batch.release()
    assert tracker.committable() == {("t", 1): 3}, "partition 0's rows were not sent"


def test_discarding_a_poll_keeps_the_open_batch() -> None:
    batcher = _batcher()
    segment = OffsetTracker().open("t", 0, 0)
    _poll(batcher, [[1, "a"]], segment)
    batcher.note_segment(segment)
    batcher.polled_rows.append([2, "b"])
    batcher.discard_poll()
    assert batcher.end_poll(1.0, 10) == []
    batch = batcher.take()
    assert batch is not None and batch.rows == [[1, "a"]] and segment.pending == 1


def test_buffered_memory_counts_each_row_beyond_its_value_bytes() -> None:
    # Tiny values must not let millions of rows through a byte bound on value sizes alone.
    batcher = _batcher()
    _poll(batcher, [[i, "x"] for i in range(3)], OffsetTracker().open("t", 0, 0), size=2)
    assert batcher.buffered_bytes == 3 * 2 + 3 * ROW_OVERHEAD_BYTES
