"""Bad messages and rejected rows: dead-lettered whole, with reasons, before offsets move."""

import math
import textwrap

import orjson
import pytest

from connector.config import Config, parse_config
from connector.errors import FatalError, IngestRejected
from connector.pipeline import Tuning, build_pipeline
from connector.records import Record
from tests.unit.fakes import FakeDeadLetters, FakeSink, FakeSource, json_records

FAST = Tuning(poll_messages=50, poll_timeout_s=0.0, commit_interval_s=0.0)


def config(max_rows: int = 10_000) -> Config:
    return parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: 'http://unused:3218', retry_backoff_s: 0.001}}
            batch: {{max_rows: {max_rows}, linger_ms: 0}}
            mappings:
              - topic: orders
                stream: orders
                dlq_topic: orders.dlq
                columns:
                  id: {{from: value.id, type: int64}}
                  note: {{from: value.note, default: ''}}
            """
        ),
        env={},
    )


def header(letter_headers: list[tuple[str, str | bytes | None]], name: str) -> bytes:
    value = dict(letter_headers)[f"kafka-timeplus.error.{name}"]
    assert isinstance(value, bytes), f"header {name} is {value!r}, not bytes"
    return value


def test_bad_messages_are_dead_lettered_whole_with_the_reason() -> None:
    records = json_records("orders", 0, [{"id": 1}, {"id": "x"}, {"id": 3}])
    records.append(Record("orders", 0, 3, None, key_=b"k3"))  # a tombstone
    records.append(Record("orders", 0, 4, b"\xff\xfe", key_=b"k4", headers_=[("trace", b"\x80raw")]))
    source, sink, letters = FakeSource({("orders", 0): records}), FakeSink(), FakeDeadLetters()
    stats = build_pipeline(config(), source, sink, dead_letters=letters, until_caught_up=True, tuning=FAST).run()
    assert [r[0] for r in sink.rows["orders"]] == [1, 3]
    assert stats.dead_letters == 3 and stats.skipped == 0
    by_offset = {header(letter.headers, "offset"): letter for letter in letters.letters}
    assert set(by_offset) == {b"1", b"3", b"4"}
    wrong_type = by_offset[b"1"]
    assert wrong_type.topic == "orders.dlq" and wrong_type.value == orjson.dumps({"id": "x"})
    assert header(wrong_type.headers, "reason") == b"column id: 'x' is not a valid int64"
    assert header(wrong_type.headers, "class") == b"data"
    assert header(wrong_type.headers, "stream") == b"orders"
    assert header(wrong_type.headers, "topic") == b"orders"
    assert header(wrong_type.headers, "partition") == b"0"
    assert header(by_offset[b"3"].headers, "reason") == b"tombstone (null value)"
    assert by_offset[b"3"].key == b"k3" and by_offset[b"3"].value is None
    non_utf8 = by_offset[b"4"]
    assert non_utf8.value == b"\xff\xfe" and ("trace", b"\x80raw") in non_utf8.headers
    assert b"not valid JSON" in header(non_utf8.headers, "reason")
    assert source.broker_committed == {("orders", 0): 5}


def test_offsets_wait_for_the_dead_letter_acknowledgement() -> None:
    records = json_records("orders", 0, [{"id": "bad"}, {"id": 2}])
    source, sink = FakeSource({("orders", 0): records}), FakeSink()
    letters = FakeDeadLetters(failure="Broker: Topic authorization failed")
    with pytest.raises(FatalError, match="Topic authorization failed"):
        build_pipeline(config(), source, sink, dead_letters=letters, until_caught_up=True, tuning=FAST).run()
    assert source.broker_committed == {}


def test_one_rejected_row_is_isolated_by_bisection_in_about_log2_requests() -> None:
    n, poison = 1000, 617

    def reject_poison(stream: str, call: int, body: bytes) -> IngestRejected | None:
        if b'"poison"' in body:
            return IngestRejected("Cannot parse input: 'poison'", stream=stream, status=400, code=27)
        return None

    values: list[dict[str, object]] = [{"id": i} for i in range(n)]
    values[poison]["note"] = "poison"
    source, letters = FakeSource({("orders", 0): json_records("orders", 0, values)}), FakeDeadLetters()
    sink = FakeSink(reject=reject_poison)
    tuning = Tuning(poll_messages=n, poll_timeout_s=0.0, commit_interval_s=0.0)
    stats = build_pipeline(
        config(max_rows=n), source, sink, dead_letters=letters, until_caught_up=True, tuning=tuning
    ).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == [i for i in range(n) if i != poison]
    assert len(letters.letters) == 1 and stats.rejected_rows == 1
    letter = letters.letters[0]
    assert header(letter.headers, "offset") == str(poison).encode()
    assert header(letter.headers, "class") == b"rejected"
    assert b"Cannot parse input" in header(letter.headers, "reason")
    # Each halving costs one request, or two when the bad row sits in the half sent first.
    assert sink.calls <= 2 * math.ceil(math.log2(n)) + 1, sink.calls
    assert source.broker_committed == {("orders", 0): n}


def test_every_bad_row_is_found_among_many() -> None:
    bad = {3, 4, 50, 51, 52, 99}

    def reject(stream: str, call: int, body: bytes) -> IngestRejected | None:
        rows = orjson.loads(body)["data"]
        return IngestRejected("bad", stream=stream, status=400, code=6) if any(r[1] == "bad" for r in rows) else None

    values = [{"id": i, "note": "bad" if i in bad else ""} for i in range(100)]
    source, letters = FakeSource({("orders", 0): json_records("orders", 0, values)}), FakeDeadLetters()
    sink = FakeSink(reject=reject)
    build_pipeline(config(max_rows=100), source, sink, dead_letters=letters, until_caught_up=True, tuning=FAST).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == [i for i in range(100) if i not in bad]
    assert sorted(int(header(x.headers, "offset")) for x in letters.letters) == sorted(bad)


def test_bodies_over_max_bytes_are_split_and_rows_never_dropped() -> None:
    # Tiny messages that map to large rows: the estimate is far too low, so the sender
    # must split the encoded body to stay within max_bytes.
    text = textwrap.dedent(
        """
        kafka: {bootstrap.servers: 'unused:9092'}
        timeplus: {url: 'http://unused:3218'}
        batch: {max_rows: 1000, max_bytes: 2KiB, linger_ms: 0}
        mappings:
          - topic: orders
            stream: orders
            columns:
              id: {from: value.id, type: int64}
              pad: {value: PAD}
        """
    ).replace("PAD", "x" * 100)
    bodies: list[int] = []

    def record(stream: str, call: int, body: bytes) -> None:
        bodies.append(len(body))

    source, sink = (
        FakeSource({("orders", 0): json_records("orders", 0, [{"id": i} for i in range(200)])}),
        FakeSink(reject=record),
    )
    build_pipeline(parse_config(text, env={}), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == list(range(200))
    assert max(bodies) <= 2048, max(bodies)
    assert source.broker_committed == {("orders", 0): 200}


def test_a_letter_wait_releases_its_batch_after_the_last_letter() -> None:
    from connector.batching import Batch
    from connector.offsets import OffsetTracker
    from connector.on_error import LetterWait

    tracker = OffsetTracker()
    segment = tracker.open("orders", 0, 0)
    segment.hold()
    segment.seal()
    batch = Batch("orders", ["id"], 0.0)
    batch.segments.append((segment, segment.first))
    wait = LetterWait(batch)
    wait.hold()
    wait.hold()
    wait.close()
    wait.release()
    assert tracker.committable() == {}, "one letter is still unacknowledged"
    wait.release()
    assert tracker.committable() == {("orders", 0): 1}
