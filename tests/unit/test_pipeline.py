import textwrap
import threading
from dataclasses import replace

import pytest

from connector.config import Config, parse_config
from connector.errors import ConnectorError, FatalError, RetriableError
from connector.pipeline import Tuning, build_pipeline
from connector.records import MessageLike, Record
from tests.unit.fakes import FakeSink, FakeSource, json_records

FAST = Tuning(poll_messages=7, poll_timeout_s=0.0, commit_interval_s=0.0)


def config(on_error: str = "skip", max_rows: int = 10, retry_backoff_max_s: float = 30) -> Config:
    return parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: 'http://unused:3218', retry_backoff_s: 0.001, retry_backoff_max_s: {retry_backoff_max_s}}}
            batch: {{max_rows: {max_rows}, linger_ms: 0}}
            mappings:
              - topic: orders
                stream: orders
                on_error: {on_error}
                columns:
                  id: {{from: value.id, type: int64}}
                  offset: offset
              - topic: orders
                stream: audit
                on_error: skip
                columns:
                  id: value.id
            """
        ),
        env={},
    )


def orders(n: int, partitions: int = 2) -> dict[tuple[str, int], list[Record]]:
    return {
        ("orders", p): json_records("orders", p, [{"id": p * 1000 + i} for i in range(n)]) for p in range(partitions)
    }


def test_fan_out_delivers_every_row_once_and_commits_the_end() -> None:
    source, sink = FakeSource(orders(25)), FakeSink()
    stats = build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    expected = sorted(p * 1000 + i for p in range(2) for i in range(25))
    assert sorted(r[0] for r in sink.rows["orders"]) == expected
    assert sorted(r[0] for r in sink.rows["audit"]) == expected
    assert source.broker_committed == {("orders", 0): 25, ("orders", 1): 25}
    assert source.commits[-1][1] is False, "the last commit on shutdown must be synchronous"
    assert source.closed
    assert stats.messages == 50 and stats.rows == 100


def test_fatal_sink_error_stops_without_committing_undelivered_rows() -> None:
    sink = FakeSink(fail=lambda stream, call: FatalError("auth failed") if stream == "audit" else None)
    source = FakeSource(orders(5, partitions=1))
    with pytest.raises(FatalError, match="auth failed"):
        build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert source.broker_committed == {}
    assert source.closed


def test_retriable_failures_are_retried_until_delivered() -> None:
    sink = FakeSink(fail=lambda stream, call: RetriableError("503") if call <= 3 else None)
    source = FakeSource(orders(12, partitions=1))
    build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == list(range(12))
    assert source.broker_committed == {("orders", 0): 12}


def test_bad_message_is_skipped_counted_and_committed_past(caplog: pytest.LogCaptureFixture) -> None:
    records = json_records("orders", 0, [{"id": 1}, {"id": "not a number"}, {"id": 3}])
    records.append(Record("orders", 0, 3, b"{not json"))
    source, sink = FakeSource({("orders", 0): records}), FakeSink()
    stats = build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert [r[0] for r in sink.rows["orders"]] == [1, 3]
    # The untyped audit stream takes the string id, but not the undecodable message.
    assert [r[0] for r in sink.rows["audit"]] == [1, "not a number", 3]
    assert stats.skipped == 3  # id for orders, and the non-JSON message for both streams
    assert source.broker_committed == {("orders", 0): 4}
    messages = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("orders[0]@1" in m and "column id" in m for m in messages), messages
    assert any("orders[0]@3" in m and "JSON" in m for m in messages), messages


def test_on_error_fail_stops_before_the_bad_message() -> None:
    records = json_records("orders", 0, [{"id": 1}, {"id": 2}, {"id": "x"}, {"id": 4}])
    source, sink = FakeSource({("orders", 0): records}), FakeSink()
    tuning = Tuning(poll_messages=1, poll_timeout_s=0.0, commit_interval_s=0.0)
    with pytest.raises(FatalError, match=r"on_error: fail.*orders\[0\]@2"):
        build_pipeline(config(on_error="fail"), source, sink, until_caught_up=True, tuning=tuning).run()
    # What was delivered before it may be committed (the stop leaves rows not sent yet to the
    # next run); nothing from the bad message on.
    committed = source.broker_committed.get(("orders", 0), 0)
    assert committed <= 2
    assert [r[0] for r in sink.rows.get("orders", [])][:committed] == [1, 2][:committed]


def test_revoke_leaves_unsent_rows_to_the_next_owner() -> None:
    source, sink = FakeSource(orders(3)), FakeSink()
    # Batches of 100 rows never fill and linger is long: the revoked partition's rows are unsent.
    cfg = config(max_rows=100)
    cfg = replace(cfg, batch=replace(cfg.batch, linger_ms=60_000))
    pipeline = build_pipeline(cfg, source, sink, tuning=FAST)

    def revoke_once_all_is_read(fake: FakeSource) -> None:
        if fake.positions_[("orders", 0)] == 3 and ("orders", 0) in fake.assignment:
            assert fake.callbacks is not None
            fake.assignment = [("orders", 1)]
            fake.callbacks[1]([("orders", 0)])
            assert not sink.rows, "rows of the revoked partition were sent"
            pipeline.stop()

    source.before_consume = revoke_once_all_is_read
    pipeline.run()
    assert not sink.rows, "stopping sends no unsent rows either: the next owner reads them"
    assert source.broker_committed == {}


def test_revoke_awaits_the_requests_in_flight_and_commits_them_synchronously() -> None:
    answer = threading.Event()
    sink = FakeSink(fail=lambda stream, call: None if answer.wait(10) else RetriableError("never answered"))
    source = FakeSource(orders(3, partitions=1))
    pipeline = build_pipeline(config(max_rows=3), source, sink, tuning=FAST)

    def revoke_once_sent(fake: FakeSource) -> None:
        # Once the request reached Timeplus (a request still waiting for a thread is not sent at all).
        if sink.calls and fake.callbacks is not None and fake.assignment:
            fake.assignment = []
            threading.Timer(0.2, answer.set).start()  # answered while the revoke waits
            fake.callbacks[1]([("orders", 0)])
            assert len(sink.rows["orders"]) == 3
            assert fake.commits[-1] == ({("orders", 0): 3}, False), "the revoke must commit synchronously"
            pipeline.stop()

    source.before_consume = revoke_once_sent
    pipeline.run()
    assert source.broker_committed == {("orders", 0): 3}


def test_backpressure_pauses_all_partitions_while_too_much_is_buffered() -> None:
    gate_open = False

    def fail_until_open(stream: str, call: int) -> RetriableError | None:
        return None if gate_open else RetriableError("down")

    source, sink = FakeSource(orders(50)), FakeSink(fail=fail_until_open)
    tuning = Tuning(poll_messages=10, poll_timeout_s=0.0, commit_interval_s=0.0, max_buffered_bytes=200)
    pipeline = build_pipeline(
        config(max_rows=5, retry_backoff_max_s=0.005), source, sink, until_caught_up=True, tuning=tuning
    )
    seen_paused: list[bool] = []

    def observe(fake: FakeSource) -> None:
        nonlocal gate_open
        if fake.paused:
            seen_paused.append(True)
            gate_open = True  # Timeplus comes back once the pipeline has paused

    source.before_consume = observe
    pipeline.run()
    assert seen_paused, "partitions were never paused while Timeplus was down"
    assert not source.paused
    assert len(sink.rows["orders"]) == 100
    assert source.broker_committed == {("orders", 0): 50, ("orders", 1): 50}


@pytest.mark.timeout(30)  # the bug this guards against hangs the pipeline, paused forever
def test_a_refusal_after_retries_ends_the_pause() -> None:
    # 503 first, then Timeplus rejects every row: it answered, so consumption must resume.
    from connector.errors import IngestRejected

    def fail_then_reject(stream: str, call: int, body: bytes) -> RetriableError | IngestRejected | None:
        if call == 1:
            return RetriableError("503")
        if b'"bad"' in body:
            return IngestRejected("Cannot parse input", stream=stream, status=400, code=27)
        return None

    records = json_records("orders", 0, [{"id": "bad"} for _ in range(3)] + [{"id": i} for i in range(3, 40)])
    cfg = parse_config(
        textwrap.dedent(
            """
            kafka: {bootstrap.servers: 'unused:9092'}
            timeplus: {url: 'http://unused:3218', retry_backoff_s: 0.001}
            batch: {max_rows: 3, linger_ms: 0}
            mappings:
              - {topic: orders, stream: orders, on_error: skip, columns: {id: value.id}}
            """
        ),
        env={},
    )
    source, sink = FakeSource({("orders", 0): records}), FakeSink(reject=fail_then_reject)
    tuning = Tuning(poll_messages=3, poll_timeout_s=0.0, commit_interval_s=0.0)
    stats = build_pipeline(cfg, source, sink, until_caught_up=True, tuning=tuning).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == list(range(3, 40))
    assert stats.skipped == 3 and not source.paused
    assert source.broker_committed == {("orders", 0): 40}


def test_until_caught_up_waits_for_the_partitions_other_members_hold() -> None:
    # Assigned nothing (cooperative rebalancing's first round, or more members than
    # partitions): this member may stop only once the group has committed the backlog.
    source = FakeSource(orders(5), assignment=[])
    consumes = []

    def another_member_delivers(fake: FakeSource) -> None:
        consumes.append(1)
        if len(consumes) == 3:
            fake.broker_committed[("orders", 0)] = 5
        if len(consumes) == 6:
            fake.broker_committed[("orders", 1)] = 5

    source.before_consume = another_member_delivers
    stats = build_pipeline(config(), source, FakeSink(), until_caught_up=True, tuning=FAST).run()
    assert len(consumes) == 6
    assert stats.messages == 0


def test_until_caught_up_alone_stops_without_waiting_for_a_commit_tick() -> None:
    source = FakeSource(orders(5))
    slow_ticks = replace(FAST, commit_interval_s=3600.0)
    stats = build_pipeline(config(), source, FakeSink(), until_caught_up=True, tuning=slow_ticks).run()
    assert stats.messages == 10
    assert source.broker_committed == {("orders", 0): 5, ("orders", 1): 5}


def test_until_caught_up_sends_the_last_rows_once_the_backlog_is_read_not_after_linger() -> None:
    cfg = config(max_rows=10)
    cfg = replace(cfg, batch=replace(cfg.batch, linger_ms=600_000))
    source, sink = FakeSource(orders(13, partitions=1)), FakeSink()  # a batch of 10, and 3 rows left open
    now = 0.0

    def clock() -> float:
        nonlocal now
        now += 0.05
        return now

    build_pipeline(cfg, source, sink, until_caught_up=True, tuning=FAST, clock=clock).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == list(range(13))
    assert sorted(r[0] for r in sink.rows["audit"]) == list(range(13))
    assert source.broker_committed == {("orders", 0): 13}
    assert now < 600  # the 3 rows did not linger for their 10 minutes


def test_until_caught_up_waits_for_answers_not_for_messages_once_the_backlog_is_read() -> None:
    # Waiting in consume for messages that will not come held the stop up to a poll
    # timeout after the last answer; the loop waits on the answers instead.
    source, answer = FakeSource(orders(13, partitions=1)), threading.Event()
    read: list[bool] = []
    timeouts_after_read: list[float] = []
    consume = source.consume

    def consume_noting_timeouts(max_messages: int, timeout: float) -> list[MessageLike]:
        if read:
            timeouts_after_read.append(timeout)
        out = consume(max_messages, timeout)
        if source.positions_[("orders", 0)] == 13 and not read:
            read.append(True)
            answer.set()  # Timeplus answers once everything is read
        return out

    source.consume = consume_noting_timeouts  # type: ignore[method-assign]
    sink = FakeSink(fail=lambda stream, call: None if answer.wait(10) else ConnectorError("never answered"))
    tuning = Tuning(poll_messages=7, poll_timeout_s=30.0, commit_interval_s=0.0)
    build_pipeline(config(max_rows=10), source, sink, until_caught_up=True, tuning=tuning).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == list(range(13))
    assert source.broker_committed == {("orders", 0): 13}
    assert timeouts_after_read and set(timeouts_after_read) == {0.0}


def test_until_caught_up_asks_the_last_poll_of_the_backlog_for_what_is_left() -> None:
    # librdkafka's consume waits out its timeout for a full batch: asked for 7 when 6 are left,
    # the backlog's last poll would wait for one that never comes.
    source = FakeSource(orders(13, partitions=1))
    asked: list[int] = []
    consume = source.consume

    def consume_noting_asks(max_messages: int, timeout: float) -> list[MessageLike]:
        asked.append(max_messages)
        return consume(max_messages, timeout)

    source.consume = consume_noting_asks  # type: ignore[method-assign]
    build_pipeline(config(max_rows=10), source, FakeSink(), until_caught_up=True, tuning=FAST).run()
    assert asked[:2] == [7, 6]  # the first poll comes before the backlog is known
    assert source.broker_committed == {("orders", 0): 13}


def test_max_in_flight_requests_are_sent_at_once_and_no_more() -> None:
    cfg = config()
    cfg = replace(cfg, timeplus=replace(cfg.timeplus, max_in_flight=3))
    lock, three_met, gave_up = threading.Lock(), threading.Event(), threading.Event()
    in_flight, most = 0, 0

    def hold_until_three(stream: str, call: int) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == 3:
                three_met.set()
        if not three_met.wait(3):  # fewer delivery threads: three never meet
            gave_up.set()
            three_met.set()
        with lock:
            in_flight -= 1

    sink = FakeSink(fail=hold_until_three)
    build_pipeline(cfg, FakeSource(orders(25)), sink, until_caught_up=True, tuning=FAST).run()
    assert not gave_up.is_set() and most == 3
    assert sorted(r[0] for r in sink.rows["orders"]) == sorted(p * 1000 + i for p in range(2) for i in range(25))


def test_an_assignment_served_while_closing_does_not_fail_a_clean_stop() -> None:
    # Another member left mid-rebalance: closing the consumer serves the assignment of its
    # partitions, and the group's offsets cannot be fetched any more. Nothing is read from
    # them (they go straight back to the group), so the stop stays clean.
    source = FakeSource(orders(5), assignment=[("orders", 0)], committed={("orders", 1): 5})

    def assign_the_leavers_partition(fake: FakeSource) -> None:
        assert fake.callbacks is not None
        fake.callbacks[0]([("orders", 1)])
        fake.callbacks[1]([("orders", 0), ("orders", 1)])

    source.on_close = assign_the_leavers_partition
    stats = build_pipeline(config(), source, FakeSink(), until_caught_up=True, tuning=FAST).run()
    assert stats.messages == 5
    assert source.broker_committed == {("orders", 0): 5, ("orders", 1): 5}
