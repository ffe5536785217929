import orjson

from connector.batching import BatchLimits, StreamBatcher, encode_compact
from connector.offsets import OffsetTracker
from connector.records import Record

MSG = Record("t", 0, 0, b"{}")


def _batcher(max_rows: int = 100, max_bytes: int = 1 << 20, linger_s: float = 0.5) -> StreamBatcher:
    return StreamBatcher("s", ["id", "name"], BatchLimits(max_rows, max_bytes, linger_s))


def test_payload_is_compact_json_in_column_order() -> None:
    body = encode_compact(["id", "name"], [[1, "a"], [2, None]])
    assert body == b'{"columns":["id","name"],"data":[[1,"a"],[2,null]]}'


def test_empty_payload_is_still_valid_json() -> None:
    assert orjson.loads(encode_compact(["a"], [])) == {"columns": ["a"], "data": []}


def test_flush_on_max_rows() -> None:
    batcher = _batcher(max_rows=3)
    segment = OffsetTracker().open("t", 0, 0)
    assert batcher.add([1, "a"], segment, MSG, 10, 0.0) is None
    assert batcher.add([2, "b"], segment, MSG, 10, 0.0) is None
    full = batcher.add([3, "c"], segment, MSG, 10, 0.0)
    assert full is not None and len(full) == 3
    assert orjson.loads(full.body())["data"] == [[1, "a"], [2, "b"], [3, "c"]]
    assert batcher.take() is None


def test_flush_on_estimated_bytes() -> None:
    batcher = _batcher(max_bytes=1000)
    segment = OffsetTracker().open("t", 0, 0)
    sizes = [batcher.add([i, "x"], segment, MSG, 300, 0.0) for i in range(4)]
    assert sizes[:3] == [None, None, None]
    assert sizes[3] is not None and len(sizes[3]) == 4 and sizes[3].estimated_bytes == 1200


def test_the_byte_budget_learns_from_encoded_sizes() -> None:
    # Rows encode to twice their estimate: the budget halves, so bodies stay near max_bytes.
    batcher = _batcher(max_bytes=1000)
    batcher.observe(estimated=500, actual=1000)
    segment = OffsetTracker().open("t", 0, 0)
    assert batcher.add([1, "x"], segment, MSG, 300, 0.0) is None
    full = batcher.add([2, "x"], segment, MSG, 300, 0.0)
    assert full is not None and len(full) == 2


def test_flush_on_linger_time() -> None:
    batcher = _batcher(linger_s=0.5)
    segment = OffsetTracker().open("t", 0, 0)
    assert not batcher.due(10.0) and batcher.due_at() is None
    batcher.add([1, "a"], segment, MSG, 10, 10.0)
    assert batcher.due_at() == 10.5
    assert not batcher.due(10.4)
    assert batcher.due(10.5)
    batch = batcher.take()
    assert batch is not None and len(batch) == 1
    assert not batcher.due(11.0)


def test_batch_holds_each_segment_until_released() -> None:
    tracker = OffsetTracker()
    first, second = tracker.open("t", 0, 0), tracker.open("t", 1, 0)
    batcher = _batcher()
    for segment in (first, first, second, first):
        batcher.add([1, "a"], segment, MSG, 10, 0.0)
        tracker.seal(segment)
    batch = batcher.take()
    assert batch is not None
    assert tracker.committable() == {}
    batch.release()
    assert tracker.committable() == {("t", 0): 1, ("t", 1): 1}


def test_a_slice_of_rows_is_a_complete_payload() -> None:
    batcher = _batcher()
    segment = OffsetTracker().open("t", 0, 0)
    for i in range(5):
        batcher.add([i, "x"], segment, MSG, 10, 0.0)
    batch = batcher.take()
    assert batch is not None
    assert orjson.loads(batch.body(1, 3))["data"] == [[1, "x"], [2, "x"]]
    assert orjson.loads(batch.body(4, 5))["data"] == [[4, "x"]]
    assert batch.body() == batch.body(0, 5)
