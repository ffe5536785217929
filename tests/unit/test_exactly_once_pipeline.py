"""``delivery: exactly_once`` through the real pipeline objects, against the fakes.

The fake sink drops a request whose id it accepted before, as Timeplus does, so a
replay after a crash at any step must end with every row there exactly once.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pytest

from connector.config import Config, ConfigError, parse_config
from connector.errors import FatalError, RetriableError
from connector.exactly_once import request_id, stream_fingerprint
from connector.offsets import TopicPartition as TP
from connector.pipeline import Tuning, build_pipeline
from connector.records import Record
from connector.state import Stats
from tests.unit.fakes import FakeSink, FakeSource, json_records

FAST = Tuning(poll_messages=7, poll_timeout_s=0.0, commit_interval_s=0.0)
ID = re.compile(r"^kt1-[0-9a-f]{12}-orders-(\d+)-(\d+)-(\d+)(/\d+-\d+)?$")


def config(
    max_rows: int = 10, linger_ms: int = 0, delivery: str = "exactly_once", audit_id: str = "value.id"
) -> Config:
    return parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: 'http://unused:3218', retry_backoff_s: 0.001}}
            batch: {{max_rows: {max_rows}, linger_ms: {linger_ms}}}
            delivery: {delivery}
            mappings:
              - topic: orders
                stream: orders
                on_error: skip
                columns:
                  id: {{from: value.id, type: int64}}
              - topic: orders
                stream: audit
                on_error: skip
                columns:
                  id: {audit_id}
            """
        ),
        env={},
    )


def orders(n: int, partitions: int = 2) -> dict[tuple[str, int], list[Record]]:
    return {
        ("orders", p): json_records("orders", p, [{"id": p * 1000 + i} for i in range(n)]) for p in range(partitions)
    }


def expected(n: int, partitions: int = 2) -> list[int]:
    return sorted(p * 1000 + i for p in range(partitions) for i in range(n))


def test_delivery_is_validated_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"delivery: expected one of at_least_once, exactly_once, got 'once'"):
        config(delivery="once")
    assert config(delivery="at_least_once").delivery == "at_least_once"


def test_every_row_once_with_ids_per_partition_and_window() -> None:
    source, sink = FakeSource(orders(25)), FakeSink()
    build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == expected(25)
    assert sorted(r[0] for r in sink.rows["audit"]) == expected(25)
    assert source.broker_committed == {("orders", 0): 25, ("orders", 1): 25}
    bounds = sorted((int(m[1]), int(m[2]), int(m[3])) for m in map(ID.match, sink.ids) if m)
    assert len(bounds) == len(sink.ids)
    # Each stream: windows 0..9 and 10..19, then 20..24 cut at the end of the log.
    assert bounds == sorted([(p, a, b) for p in (0, 1) for a, b in ((0, 9), (10, 19), (20, 24))] * 2)
    metadata = orjson.loads(source.broker_metadata[("orders", 0)])
    assert metadata["v"] == 1 and set(metadata["s"]) == {"orders", "audit"}


# -- a crash at each step, then a replay ------------------------------------------------------

START, TOTAL = 15, 40  # records per partition before the run, and in the end


class Crashed(FatalError):
    """The member died: nothing it does from now on reaches Kafka or Timeplus."""


class Member:
    """One incarnation over the shared log, group offsets and Timeplus (a sink that drops repeated ids).

    The log grows by 3 records per partition whenever the member has read all of it, so
    it works at the live head, where linger cuts requests and records the cuts in the
    commit metadata. ``trigger`` sees each event (a consume, a commit about to be sent, a
    synchronous commit accepted, a request stored) and may kill the member there: from then
    on nothing it does reaches Kafka or Timeplus.
    """

    def __init__(self, log: dict[tuple[str, int], list[Record]], world: World, previous: FakeSource | None) -> None:
        self.log = log
        self.world = world
        self.dead = False
        produced = {tp: records[: len(previous.partitions[tp]) if previous else START] for tp, records in log.items()}
        self.source = FakeSource(produced, previous.broker_committed if previous else None)
        if previous is not None:
            self.source.broker_metadata = dict(previous.broker_metadata)
        self.source.before_consume = self._consume
        self.stats = Stats()
        self.idle = 0
        self.consumes = 0
        self.trigger: Callable[[Member, str], bool] = lambda member, event: False

    def event(self, what: str) -> None:
        """Something happens: die here if the trigger says so (raising ``Crashed``)."""
        if self.dead:
            raise Crashed("the member is dead")
        if self.trigger(self, what):
            self.dead = True
            self.source.refuse_commits = "the member is dead"
            raise Crashed(f"died at: {what}")

    def _consume(self, source: FakeSource) -> None:
        self.consumes += 1
        self.event("consume")
        caught_up = all(source.positions_[tp] == len(records) for tp, records in source.partitions.items())
        # Produce more only once every request sent so far was stored: the steps then come in
        # the same order on every run, whatever the delivery threads' timing.
        if caught_up and len(self.world.ids) + self.world.repeated_ids >= self.stats.batches:
            if all(len(records) == len(self.log[tp]) for tp, records in source.partitions.items()):
                self.idle += 1
                assert self.idle < 10_000, "the log was delivered whole and the crash point never came"
            for tp, records in source.partitions.items():
                records.extend(self.log[tp][len(records) : len(records) + 3])

    def run(self, *, until_caught_up: bool) -> None:
        commit = self.source.commit

        def commit_with_events(offsets: Mapping[TP, int], *, asynchronous: bool, metadata: Any = None) -> bool:
            self.event(f"commit {orjson.dumps(sorted((metadata or {}).values())).decode()}")
            accepted = commit(offsets, asynchronous=asynchronous, metadata=metadata)
            if accepted and not asynchronous:
                self.event("sync commit accepted")
            return accepted

        self.source.commit = commit_with_events  # type: ignore[method-assign]
        self.world.member = self
        pipeline = build_pipeline(config(), self.source, self.world, until_caught_up=until_caught_up, tuning=FAST)
        self.stats = pipeline.stats
        try:
            pipeline.run()
        except Crashed:
            assert self.dead


class World(FakeSink):
    """Timeplus: stores a request's rows unless its id was seen; a dead member's requests never arrive."""

    member: Member
    #: Runs after a request is stored and before it is answered (on its delivery thread).
    before_answer: Callable[[str | None], None] = staticmethod(lambda idempotent_id: None)

    def ingest(self, stream: str, body: bytes, idempotent_id: str | None = None) -> None:
        if self.member.dead:
            raise Crashed("the member is dead")
        super().ingest(stream, body, idempotent_id)
        self.before_answer(idempotent_id)
        self.member.event(f"stored {idempotent_id}")  # raises when the member dies before the answer


def cut_requests(ids: list[str]) -> list[tuple[int, int]]:
    """(partition, last offset) of the requests among ``ids`` that end at a linger cut, not a window end."""
    found = [ID.match(i) for i in ids]
    return [(int(m[1]), int(m[3])) for m in found if m is not None and (int(m[3]) + 1) % 10]


def acknowledged_cut(member: Member, event: str) -> bool:
    """A commit is about to say that a stored cut request was accepted (its stream's next is past it)."""
    if not event.startswith("commit "):
        return False
    nexts = [next_ for text in orjson.loads(event[7:]) for _, next_, _ in orjson.loads(text)["s"].values()]
    return any(next_ > last for _, last in cut_requests(member.world.ids) for next_ in nexts)


def revoke_with_a_cut_stored(member: Member, event: str) -> bool:
    """A cut request was stored: the group takes the partitions back, refusing the revoke's commit; then die."""
    if event != "consume" or not cut_requests(member.world.ids):
        return False
    source = member.source
    assert source.callbacks is not None
    source.refuse_commits = "the group is rebalancing"
    source.callbacks[1](list(source.assignment))
    return True


CRASH_POINTS: dict[str, Callable[[Member, str], bool]] = {
    # A linger cut was committed (after an earlier one was stored); the request it ends is not sent yet.
    "before send": lambda member, event: event == "sync commit accepted" and bool(cut_requests(member.world.ids)),
    # Timeplus stored a request cut by linger; its answer never comes back.
    "after send, before ack": lambda member, event: bool(cut_requests([event.removeprefix("stored ")])),
    # A cut request was acknowledged; the commit that would record it is lost.
    "after ack, before commit": acknowledged_cut,
    "during a revoke": revoke_with_a_cut_stored,
}


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
def test_a_crash_at_each_step_replays_every_row_exactly_once(point: str) -> None:
    log, world = orders(TOTAL), World()
    first = Member(log, world, None)
    first.trigger = CRASH_POINTS[point]
    first.run(until_caught_up=False)
    assert first.dead, f"the crash point {point!r} was never reached"
    replay = Member(log, world, first.source)
    replay.source.partitions = {tp: list(records) for tp, records in log.items()}
    replay.run(until_caught_up=True)
    for stream in ("orders", "audit"):
        assert sorted(r[0] for r in world.rows[stream]) == expected(TOTAL), (point, stream)
    if point in ("after send, before ack", "after ack, before commit"):
        assert world.repeated_ids > 0, "the replay re-sent nothing that had reached Timeplus"


def test_the_committed_offset_stays_at_the_start_of_a_request_whose_first_rows_were_skipped() -> None:
    """orders skips offsets 0..4 (not an int64), so its request 0..9 holds rows 5..9 only.

    Once audit's 0..9 is accepted, every message below 5 is done; committing 5 would make
    the replay start orders at 5 and send 5..9 under another id. The commit stays at 0.
    """
    values = [{"id": "not a number"}] * 5 + [{"id": i} for i in range(5, TOTAL)]
    log = {("orders", 0): json_records("orders", 0, values)}
    world = World()
    first = Member(log, world, None)
    mappings = config().mappings
    orders_0_9, audit_0_9 = (
        request_id(stream_fingerprint([m for m in mappings if m.stream == stream]), "orders", 0, 0, 9)
        for stream in ("orders", "audit")
    )

    def hold_orders_until_audit_is_committed_past(idempotent_id: str | None) -> None:
        if idempotent_id != orders_0_9:
            return
        # Answer only once audit's 0..9 was answered and the loop went round a few times more
        # (each round commits what the answers allow), then die before answering.
        deadline = time.monotonic() + 30
        while audit_0_9 not in world.ids and time.monotonic() < deadline:
            time.sleep(0.001)
        seen = first.consumes
        while first.consumes < seen + 5 and time.monotonic() < deadline:
            time.sleep(0.001)
        first.dead = True
        first.source.refuse_commits = "the member is dead"
        raise Crashed("stored orders 0..9, died before the answer")

    world.before_answer = hold_orders_until_audit_is_committed_past
    first.run(until_caught_up=False)
    assert first.dead
    assert first.source.broker_committed.get(("orders", 0), 0) == 0
    world.before_answer = lambda idempotent_id: None
    replay = Member(log, world, first.source)
    replay.source.partitions = {tp: list(records) for tp, records in log.items()}
    replay.run(until_caught_up=True)
    assert sorted(r[0] for r in world.rows["orders"]) == list(range(5, TOTAL))
    assert sorted(str(r[0]) for r in world.rows["audit"]) == sorted(str(v["id"]) for v in values)


def test_a_warning_when_partitions_times_requests_in_flight_exceed_the_id_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # max_in_flight 8: 111 partitions x 9 = 999 fit in Timeplus's 1000 ids, 112 do not.
    for partitions, warned in ((111, False), (112, True)):
        caplog.clear()
        source = FakeSource({("orders", p): [] for p in range(partitions)})
        build_pipeline(config(), source, FakeSink(), until_caught_up=True, tuning=FAST).run()
        lines = [r.getMessage() for r in caplog.records if "max_idempotent_ids" in r.getMessage()]
        assert len(lines) == (2 if warned else 0), lines  # one per stream: orders and audit
        if warned:
            assert "stream audit is fed by 112 partitions with max_in_flight 8" in lines[0]
            assert "partitions * (max_in_flight + 1) <= 1000" in lines[0]


def test_a_changed_mapping_is_a_warning_naming_partition_and_offsets(caplog: pytest.LogCaptureFixture) -> None:
    log = orders(TOTAL, partitions=1)
    first = Member(log, World(), None)
    first.trigger = CRASH_POINTS["after ack, before commit"]
    first.run(until_caught_up=False)
    committed = first.source.broker_committed[("orders", 0)]
    replay = FakeSource(log, first.source.broker_committed)
    replay.broker_metadata = dict(first.source.broker_metadata)
    caplog.clear()
    sink = FakeSink()
    audit_typed = config(audit_id="{from: value.id, type: int64}")
    build_pipeline(audit_typed, replay, sink, until_caught_up=True, tuning=FAST).run()
    (warning,) = [r.getMessage() for r in caplog.records if "changed" in r.getMessage()]
    assert warning.startswith(f"exactly-once: orders[0] (committed offset {committed}, end offset {TOTAL}; ")
    assert f"offsets {committed}..{TOTAL - 1} may be stored twice" in warning
    assert "the mapping of stream audit changed" in warning
    # audit starts again at the committed offset (its requests since then go again, under new ids).
    assert sorted(r[0] for r in sink.rows["audit"]) == list(range(committed, TOTAL))


def test_partitions_wait_paused_until_their_metadata_can_be_read(caplog: pytest.LogCaptureFixture) -> None:
    source, sink = FakeSource(orders(25)), FakeSink()
    read = source.committed_metadata
    failures = iter(range(3))

    def flaky(partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, str]]:
        if next(failures, None) is not None:
            assert source.paused == {("orders", 0), ("orders", 1)}, "read before the metadata was restored"
            raise RetriableError("kafka: committed failed: Local: Timed out")
        return read(partitions, timeout)

    source.committed_metadata = flaky  # type: ignore[method-assign]
    build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == expected(25)
    lines = [r.getMessage() for r in caplog.records if "commit metadata" in r.getMessage()]
    assert len(lines) == 2 and "cannot read" in lines[0] and "Timed out" in lines[0], lines


def test_messages_the_consumer_hands_out_again_are_not_added_twice() -> None:
    """The consumer may rewind a partition to where its fetching started (librdkafka's pause/resume and
    offset-validation races), handing out again messages already read. They must not join the open
    request a second time: it would carry them twice under one id, stored once (the kill -9 fault
    test's doubled offsets 25800..25966: from an incarnation's start to mid-window, both streams)."""
    source, sink = FakeSource(orders(25)), FakeSink()
    rewound: list[bool] = []

    def rewind_once(source: FakeSource) -> None:
        if not rewound and source.positions_[("orders", 0)] == 7:  # mid-window 0..9
            source.positions_[("orders", 0)] = 0
            rewound.append(True)

    source.before_consume = rewind_once
    build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert rewound
    assert sorted(r[0] for r in sink.rows["orders"]) == expected(25)
    assert sorted(r[0] for r in sink.rows["audit"]) == expected(25)
    assert source.broker_committed == {("orders", 0): 25, ("orders", 1): 25}
