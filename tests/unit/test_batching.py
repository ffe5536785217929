import orjson

from connector.batching import BatchLimits, StreamBatcher, encode_compact, encode_row
from connector.offsets import OffsetTracker
from connector.records import Record

MSG = Record("t", 0, 0, b"{}")


def _batcher(max_rows: int = 100, max_bytes: int = 1 << 20, linger_s: float = 0.5) -> StreamBatcher:
    return StreamBatcher("s", ["id", "name"], BatchLimits(max_rows, max_bytes, linger_s))


def test_payload_is_compact_json_in_column_order() -> None:
    body = encode_compact(["id", "name"], [encode_row([1, "a"]), encode_row([2, None])])
    assert body == b'{"columns":["id","name"],"data":[[1,"a"],[2,null]]}'
    assert orjson.loads(body) == {"columns": ["id", "name"], "data": [[1, "a"], [2, None]]}


def test_empty_payload_is_still_valid_json() -> None:
    assert orjson.loads(encode_compact(["a"], [])) == {"columns": ["a"], "data": []}


def test_flush_on_max_rows() -> None:
    batcher = _batcher(max_rows=3)
    segment = OffsetTracker().open("t", 0, 0)
    assert batcher.add(encode_row([1, "a"]), segment, MSG, 0.0) is None
    assert batcher.add(encode_row([2, "b"]), segment, MSG, 0.0) is None
    ready = batcher.add(encode_row([3, "c"]), segment, MSG, 0.0)
    assert ready is not None and [len(b) for b in ready] == [3]
    assert orjson.loads(ready[0].body())["data"] == [[1, "a"], [2, "b"], [3, "c"]]
    assert batcher.take() is None


def test_flush_on_max_bytes_never_exceeds_the_limit() -> None:
    row = encode_row([1, "x" * 90])
    limit = 400
    batcher = _batcher(max_bytes=limit)
    segment = OffsetTracker().open("t", 0, 0)
    sent = []
    for _ in range(20):
        ready = batcher.add(row, segment, MSG, 0.0)
        sent.extend(ready or ())
    assert sent, "the byte limit never triggered a flush"
    for batch in sent:
        assert len(batch.body()) <= limit
        assert batch.size + 0 <= limit


def test_a_row_larger_than_max_bytes_is_sent_alone_not_dropped() -> None:
    batcher = _batcher(max_bytes=100)
    segment = OffsetTracker().open("t", 0, 0)
    assert batcher.add(encode_row([1, "small"]), segment, MSG, 0.0) is None
    ready = batcher.add(encode_row([2, "y" * 500]), segment, MSG, 0.0)
    assert ready is not None
    assert [orjson.loads(b.body())["data"][0][0] for b in ready] == [1, 2]


def test_flush_on_linger_time() -> None:
    batcher = _batcher(linger_s=0.5)
    segment = OffsetTracker().open("t", 0, 0)
    assert not batcher.due(10.0)
    batcher.add(encode_row([1, "a"]), segment, MSG, 10.0)
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
        batcher.add(encode_row([1, "a"]), segment, MSG, 0.0)
        tracker.seal(segment)
    batch = batcher.take()
    assert batch is not None
    assert tracker.committable() == {}
    batch.release()
    assert tracker.committable() == {("t", 0): 1, ("t", 1): 1}


def test_rows_can_be_read_back_one_by_one() -> None:
    batcher = _batcher()
    segment = OffsetTracker().open("t", 0, 0)
    rows = [encode_row([i, f"n{i}"]) for i in range(3)]
    for row in rows:
        batcher.add(row, segment, MSG, 0.0)
    batch = batcher.take()
    assert batch is not None
    assert [batch.row(i) for i in range(len(batch))] == rows
    assert len(batch.body()) == batch.size - 1 + len(encode_compact(["id", "name"], []))


def test_a_slice_of_rows_is_a_complete_payload() -> None:
    batcher = _batcher()
    segment = OffsetTracker().open("t", 0, 0)
    for i in range(5):
        batcher.add(encode_row([i, "x"]), segment, MSG, 0.0)
    batch = batcher.take()
    assert batch is not None
    assert orjson.loads(batch.body(1, 3))["data"] == [[1, "x"], [2, "x"]]
    assert orjson.loads(batch.body(4, 5))["data"] == [[4, "x"]]
    assert batch.body() == batch.body(0, 5)
