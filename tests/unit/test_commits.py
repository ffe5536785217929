"""When offsets are committed (issues #11, #12): as acknowledgements arrive, again when refused, on revoke."""

from __future__ import annotations

import textwrap
import threading
import time
from dataclasses import replace

import pytest

from connector.assignment import Assignment
from connector.config import Config, parse_config
from connector.errors import FatalError, RetriableError
from connector.offsets import OffsetTracker
from connector.pipeline import Tuning, build_pipeline
from connector.records import Record
from connector.state import Stats
from tests.unit.fakes import FakeSink, FakeSource, json_records

TP0, TP1 = ("orders", 0), ("orders", 1)
REBALANCING = "Broker: Group rebalance in progress"
# Commits never wait for a timer: the group check of --until-caught-up is the only one.
NO_TIMER = Tuning(poll_messages=5, poll_timeout_s=0.0, commit_interval_s=3600.0)


def config(max_rows: int = 5, linger_ms: int = 0, max_retries: int | None = None) -> Config:
    retries = "null" if max_retries is None else max_retries
    return parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: 'http://unused:3218', retry_backoff_s: 0.001, max_retries: {retries}}}
            batch: {{max_rows: {max_rows}, linger_ms: {linger_ms}}}
            drain_timeout_s: 5
            mappings:
              - {{topic: orders, stream: orders, on_error: skip, columns: {{id: value.id}}}}
            """
        ),
        env={},
    )


def records(n: int, partition: int = 0) -> list[Record]:
    return json_records("orders", partition, [{"id": partition * 1000 + i} for i in range(n)])


def test_commits_follow_acknowledgements_asynchronously() -> None:
    # One request at a time, and each is answered only once the broker holds the offsets of
    # the one before: a connector committing on a timer would never get there.
    source = FakeSource({TP0: records(30)})

    def answer_after_the_previous_commit(stream: str, call: int) -> FatalError | None:
        deadline = time.monotonic() + 10
        while source.broker_committed.get(TP0, 0) < 5 * (call - 1):
            if time.monotonic() > deadline:
                return FatalError(f"request {call}: the previous batch was never committed")
            time.sleep(0.001)
        return None

    cfg = config()
    cfg = replace(cfg, timeplus=replace(cfg.timeplus, max_in_flight=1))
    build_pipeline(
        cfg, source, FakeSink(fail=answer_after_the_previous_commit), until_caught_up=True, tuning=NO_TIMER
    ).run()
    asynchronous = [offsets[TP0] for offsets, is_async in source.commits if is_async]
    assert asynchronous[:5] == [5, 10, 15, 20, 25]
    assert source.broker_committed == {TP0: 30}


def test_a_commit_refused_while_the_group_rebalances_is_sent_again() -> None:
    source = FakeSource({TP0: records(10)})
    consumes = 0

    def refuse_for_a_while(fake: FakeSource) -> None:
        nonlocal consumes
        consumes += 1
        fake.refuse_commits = REBALANCING if consumes <= 6 else None

    source.before_consume = refuse_for_a_while
    source.refuse_commits = REBALANCING
    build_pipeline(config(), source, FakeSink(), until_caught_up=True, tuning=NO_TIMER).run()
    assert source.broker_committed == {TP0: 10}
    refused_then_sent = [offsets for offsets, _ in source.commits if offsets.get(TP0) == 10]
    assert len(refused_then_sent) >= 1


def test_a_final_commit_refused_by_a_rebalance_is_made_in_the_revoke_closing_performs() -> None:
    source, sink = FakeSource({TP0: records(5)}), FakeSink()
    source.refuse_commits = REBALANCING  # every commit before closing, the stop's own included
    pipeline = build_pipeline(config(), source, sink, tuning=NO_TIMER)

    def stop_once_delivered(fake: FakeSource) -> None:
        if len(sink.rows.get("orders", [])) == 5 and any(is_async for _, is_async in fake.commits):
            pipeline.stop()

    def revoke_while_closing(fake: FakeSource) -> None:
        fake.refuse_commits = None  # inside the revoke the generation is valid again
        assert fake.callbacks is not None
        fake.callbacks[1](list(fake.assignment))

    source.before_consume = stop_once_delivered
    source.on_close = revoke_while_closing
    pipeline.run()
    assert source.broker_committed == {TP0: 5}
    assert source.commits[-1] == ({TP0: 5}, False), "the closing revoke must commit synchronously"
    assert sum(1 for offsets, is_async in source.commits if not is_async) == 2, "refused once, then made"


@pytest.mark.timeout(30)  # the bug this guards against leaves the member paused forever
def test_a_batch_out_of_retries_while_revoking_stops_the_connector() -> None:
    # timeplus.max_retries: a request still failing after its attempts stops the connector,
    # during a revoke as anywhere else (it used to be left unreleased, and the member stalled).
    revoking = threading.Event()

    def fail_once_revoking(stream: str, call: int) -> RetriableError | None:
        revoking.wait(10)
        return RetriableError("connection refused")

    source = FakeSource({TP0: records(5), TP1: records(5, 1)})
    tuning = Tuning(poll_messages=10, poll_timeout_s=0.0)
    pipeline = build_pipeline(
        config(max_rows=10, max_retries=2), source, FakeSink(fail=fail_once_revoking), tuning=tuning
    )

    def revoke_once_sent(fake: FakeSource) -> None:
        if fake.positions_[TP0] == 5 and fake.callbacks is not None and TP0 in fake.assignment:
            fake.assignment = [TP1]
            revoking.set()
            fake.callbacks[1]([TP0])

    source.before_consume = revoke_once_sent
    with pytest.raises(FatalError, match="not delivered"):
        pipeline.run()
    assert source.broker_committed == {}


def test_no_synchronous_commit_while_an_asynchronous_one_awaits_its_answer() -> None:
    """librdkafka may retry an asynchronous commit: landing after a synchronous one (an exactly-once
    cut's, --until-caught-up's check), it would put back an older offset and metadata without the cut."""
    source = FakeSource({TP0: records(20)})
    tracker = OffsetTracker()
    assignment = Assignment(
        source, tracker, hand_back=lambda partitions: None, stats=Stats(), answer_timeout_s=60.0, clock=time.monotonic
    )
    assignment.subscribe(["orders"])
    source.consume(0, 0.0)  # the assignment
    for first, last in ((0, 9), (10, 19)):
        segment = tracker.open("orders", 0, first)
        segment.last = last
        segment.seal()
        if first == 0:
            assignment.tick(time.monotonic())  # asynchronous, offset 10: its answer comes with the next consume
    assert source.commits == [({TP0: 10}, True)]
    assert assignment.commit_now() is False
    assert source.commits == [({TP0: 10}, True)]
    source.consume(0, 0.0)  # serves the answer
    assert assignment.commit_now() is True
    assert source.commits == [({TP0: 10}, True), ({TP0: 20}, False)]
