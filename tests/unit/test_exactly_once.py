"""Exactly-once's pure core: request bounds, commit metadata, and replay after a crash at any step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import parse_config
from connector.exactly_once import (
    MAX_METADATA_BYTES,
    Cutter,
    PartitionCuts,
    Request,
    fingerprint,
    request_id,
    window_end,
)

STREAMS = ("a", "b")
PRINTS = {"a": "fa", "b": "fb"}


def test_requests_end_at_window_ends_without_any_record() -> None:
    cuts = PartitionCuts(window=10, committed=3, fingerprints=PRINTS)
    cutter = Cutter(cuts, "a")
    done: list[Request] = []
    for offset in range(3, 25):
        done += cutter.add(offset, offset)
    done += cutter.passed(25)
    assert [(r.first, r.last, r.recorded) for r in done] == [(3, 9, False), (10, 19, False)]
    assert cuts.metadata() == '{"v":1,"s":{"a":["fa",3,[]],"b":["fb",3,[]]}}'


def test_a_linger_cut_is_recorded_and_the_replay_cuts_there_too() -> None:
    cuts = PartitionCuts(window=100, committed=0, fingerprints=PRINTS)
    cutter = Cutter(cuts, "a")
    for offset in range(7):
        cutter.add(offset, offset)
    (request,) = cutter.cut(7)
    assert (request.first, request.last, request.recorded) == (0, 6, True)
    metadata = cuts.metadata()
    replayed, problems = PartitionCuts.restore(metadata, 100, 0, PRINTS, horizon=7)
    assert problems == []
    again = Cutter(replayed, "a")
    done: list[Request] = []
    for offset in range(12):
        done += again.add(offset, offset)
    assert [(r.first, r.last) for r in done] == [(0, 6)]


def test_accepted_requests_advance_next_in_order_and_drop_their_cuts() -> None:
    cuts = PartitionCuts(window=100, committed=0, fingerprints=PRINTS)
    cuts.record("a", 4)
    cuts.record("a", 9)
    cuts.accepted("a", 5, 9)  # out of order: waits for 0..4
    assert cuts.start("a") == 0
    cuts.accepted("a", 0, 4)
    assert cuts.start("a") == 10
    assert '"a":["fa",10,[]]' in cuts.metadata()


def test_rows_below_the_stream_start_are_skipped_on_replay() -> None:
    metadata = '{"v":1,"s":{"a":["fa",20,[25]],"b":["fb",10,[]]}}'
    cuts, problems = PartitionCuts.restore(metadata, 100, 10, PRINTS, horizon=30)
    assert problems == []
    cutter = Cutter(cuts, "a")
    assert cutter.add(15, "accepted already") == []
    assert cutter.pending_rows == 0
    cutter.add(21, "x")
    (request,) = cutter.passed(30)
    assert (request.first, request.last) == (20, 25)


def test_a_changed_mapping_or_foreign_metadata_is_reported_and_not_trusted() -> None:
    metadata = '{"v":1,"s":{"a":["old",20,[25]],"b":["fb",30,[]]}}'
    cuts, problems = PartitionCuts.restore(metadata, 100, 10, PRINTS, horizon=30)
    assert cuts.start("a") == 10 and cuts.start("b") == 30
    assert len(problems) == 1 and "stream a changed" in problems[0]
    for foreign in ("", "{}", "not json", '{"v":1,"s":{"a":[1,2,3]}}', '{"v":2,"s":{}}'):
        restored, problems = PartitionCuts.restore(foreign, 100, 10, PRINTS, horizon=10)
        assert restored.start("a") == 10
        assert bool(problems) == bool(foreign)


def test_no_cut_is_made_once_the_metadata_is_full() -> None:
    cuts = PartitionCuts(window=10**9, committed=0, fingerprints=PRINTS)
    cutter = Cutter(cuts, "a")
    offset = 0
    while cuts.may_cut(offset + 1):
        cutter.add(offset, offset)
        assert cutter.cut(offset + 1)
        offset += 1
    cutter.add(offset, offset)
    assert cutter.cut(offset + 1) == []
    assert cutter.pending_rows == 1
    assert len(cuts.metadata()) < MAX_METADATA_BYTES + 20


def test_fingerprint_follows_what_decides_the_rows() -> None:
    def mapping(column_type: str) -> Any:
        text = f"""
kafka: {{bootstrap.servers: "k:9092", group.id: g}}
timeplus: {{url: "http://t:3218"}}
mappings:
  - topic: t
    stream: s
    columns: {{id: {{from: value.id, type: {column_type}}}}}
"""
        return parse_config(text, env={}).mappings[0]

    assert fingerprint(mapping("int64")) == fingerprint(mapping("int64"))
    assert fingerprint(mapping("int64")) != fingerprint(mapping("int32"))
    assert request_id("ab", "t", 2, 10, 19) == "kt1-ab-t-2-10-19"
    assert window_end(10, 10) == 19 and window_end(19, 10) == 19 and window_end(0, 7) == 6


# -- replay after a crash at any step ------------------------------------------------


@dataclass
class Timeplus:
    """Drops a request whose id it has seen; remembers every row it stored."""

    ids: dict[str, tuple[tuple[int, Any], ...]] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=lambda: {s: [] for s in STREAMS})

    def ingest(self, request: Request) -> None:
        key = request_id(PRINTS[request.stream], "t", 0, request.first, request.last)
        if key in self.ids:
            assert self.ids[key] == request.rows, f"id {key} replayed with other rows"
            return
        self.ids[key] = request.rows
        self.rows[request.stream] += [offset for offset, _ in request.rows]


@dataclass
class Member:
    """One owner of partition t[0], driven step by step; ``log[:produced[0]]`` exists so far."""

    log: list[dict[str, int] | None]
    produced: list[int]
    committed: tuple[int, str | None]
    window: int
    timeplus: Timeplus
    cuts: PartitionCuts = field(init=False)
    cutters: dict[str, Cutter] = field(init=False)
    position: int = field(init=False)
    waiting_commit: list[Request] = field(default_factory=list)
    in_flight: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        offset, metadata = self.committed
        self.cuts, _ = PartitionCuts.restore(metadata, self.window, offset, PRINTS, horizon=self.produced[0])
        self.cutters = {s: Cutter(self.cuts, s) for s in STREAMS}
        self.position = offset

    def poll(self, count: int) -> None:
        for offset in range(self.position, min(self.produced[0], self.position + count)):
            message = self.log[offset]
            if message is not None:  # None: a transaction marker or an aborted record
                for stream, value in message.items():
                    self.send(self.cutters[stream].add(offset, value))
            self.position = offset + 1
        for cutter in self.cutters.values():
            self.send(cutter.passed(self.position))

    def linger(self, stream: str) -> None:
        self.send(self.cutters[stream].cut(self.position))

    def send(self, requests: list[Request]) -> None:
        for request in requests:
            if request.recorded:
                self.waiting_commit.append(request)
            else:
                self.timeplus.ingest(request)  # reached Timeplus; the answer may never come back
                self.in_flight.append(request)

    def ack(self, pick: int) -> None:
        if self.in_flight:
            request = self.in_flight.pop(pick % len(self.in_flight))
            self.cuts.accepted(request.stream, request.first, request.last)

    def commit(self, group: list[tuple[int, str | None]], *, fails: bool) -> None:
        if fails:
            return  # e.g. a refused generation: nothing recorded, nothing waiting is sent
        group[0] = (min(self.cuts.start(s) for s in STREAMS), self.cuts.metadata())
        self.cuts.confirmed()
        waiting, self.waiting_commit = self.waiting_commit, []
        self.send([Request(r.stream, r.first, r.last, r.rows) for r in waiting])


step = st.one_of(
    st.tuples(st.just("poll"), st.integers(1, 9)),
    st.tuples(st.just("linger"), st.sampled_from(STREAMS)),
    st.tuples(st.just("ack"), st.integers(0, 50)),
    st.tuples(st.just("commit"), st.booleans()),
    st.tuples(st.just("crash"), st.just(0)),
    st.tuples(st.just("produce"), st.integers(1, 9)),
)
message = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(STREAMS), st.integers(0, 9)),
)


@settings(max_examples=500, deadline=None)
@given(
    log=st.lists(message, max_size=60),
    steps=st.lists(step, max_size=80),
    window=st.integers(1, 12),
    backlog=st.integers(0, 60),
)
def test_replays_carry_the_same_ids_and_every_row_lands_once(
    log: list[dict[str, int] | None], steps: list[tuple[str, Any]], window: int, backlog: int
) -> None:
    timeplus = Timeplus()
    group: list[tuple[int, str | None]] = [(0, None)]
    produced = [min(backlog, len(log))]
    member = Member(log, produced, group[0], window, timeplus)
    for action, argument in steps:
        if action == "poll":
            member.poll(argument)
        elif action == "linger":
            member.linger(argument)
        elif action == "ack":
            member.ack(argument)
        elif action == "commit":
            member.commit(group, fails=argument)
        elif action == "produce":
            produced[0] = min(len(log), produced[0] + argument)
        else:
            member = Member(log, produced, group[0], window, timeplus)  # kill -9: only Kafka and Timeplus remember
    _finish(member, group, len(log))
    for stream in STREAMS:
        expected = [offset for offset, m in enumerate(log) if m is not None and stream in m]
        assert sorted(timeplus.rows[stream]) == expected, f"stream {stream}: lost or doubled rows"


def _finish(member: Member, group: list[tuple[int, str | None]], end: int) -> None:
    """Everything is produced; the owner reads to the end and delivers it all."""
    member.produced[0] = end
    member.poll(end + 1)
    for stream in STREAMS:
        member.linger(stream)
    member.commit(group, fails=False)


def test_no_cut_before_the_horizon_an_earlier_owner_may_have_read_to() -> None:
    """Found by the property above: a replay cut inside a window an earlier owner had sent whole."""
    log: list[dict[str, int] | None] = [{"a": i} for i in range(9)]
    timeplus = Timeplus()
    group: list[tuple[int, str | None]] = [(0, None)]
    member = Member(log, [9], group[0], 5, timeplus)
    member.poll(5)  # sends 0..4, its window's end; the answer never comes back
    member = Member(log, [9], group[0], 5, timeplus)
    member.poll(4)
    member.linger("a")  # position 4 < horizon 9: no cut inside 0..4
    assert member.waiting_commit == [] and member.cutters["a"].pending_rows == 4
    _finish(member, group, 9)
    assert sorted(timeplus.rows["a"]) == list(range(9))


@pytest.mark.parametrize("window", [1, 3, 10])
def test_a_crash_after_each_step_of_a_linger_cut(window: int) -> None:
    """Before send, after send before ack, after ack before commit, after commit: each replays once."""
    log: list[dict[str, int] | None] = [{"a": i, "b": i} for i in range(8)]
    for crash_after in range(5):
        timeplus = Timeplus()
        group: list[tuple[int, str | None]] = [(0, None)]
        produced = [5]  # the live head: 5 messages so far, 3 more come after the crash
        member = Member(log, produced, group[0], window, timeplus)
        for stage in range(crash_after + 1):
            _linger_cut_stage(member, group, stage)
        produced[0] = 8
        member = Member(log, produced, group[0], window, timeplus)
        _finish(member, group, 8)
        for stream in STREAMS:
            assert sorted(timeplus.rows[stream]) == list(range(8)), (window, crash_after, stream)


def _linger_cut_stage(member: Member, group: list[tuple[int, str | None]], stage: int) -> None:
    if stage == 0:
        member.poll(5)
    elif stage == 1:
        member.linger("a")
        member.linger("b")
    elif stage in (2, 4):
        member.commit(group, fails=False)  # records the cuts, then sends what waited for them
    else:
        for _ in range(10):
            member.ack(0)


def test_a_window_end_request_after_an_uncommitted_cut_waits_for_the_commit() -> None:
    """A request that starts after a cut no commit holds yet would be rebuilt with other bounds."""
    log: list[dict[str, int] | None] = [{"a": i} for i in range(20)]
    timeplus = Timeplus()
    group: list[tuple[int, str | None]] = [(0, None)]
    produced = [5]
    member = Member(log, produced, group[0], 10, timeplus)
    member.poll(5)
    member.linger("a")  # cuts 0..4; its commit has not happened yet
    produced[0] = 12
    member.poll(7)  # passes the window end 9: 5..9 is complete, but follows the uncommitted cut
    assert [(r.first, r.last) for r in member.waiting_commit] == [(0, 4), (5, 9)]
    assert member.in_flight == []
    member = Member(log, produced, group[0], 10, timeplus)  # the replay cuts 0..9
    _finish(member, group, 20)
    assert sorted(timeplus.rows["a"]) == list(range(20))


def test_an_empty_stretch_is_skipped_at_once_and_keeps_the_cuts() -> None:
    cuts, _ = PartitionCuts.restore('{"v":1,"s":{"a":["fa",0,[3]]}}', 10, 0, PRINTS, horizon=0)
    cutter = Cutter(cuts, "a")
    assert cutter.passed(2) == [] and cutter.first == 0  # 0..3 is still open
    assert cutter.passed(10**12 + 5) == []
    assert cutter.first == 10**12 and cuts.start("a") == 10**12
    again = Cutter(PartitionCuts(window=10, committed=0, fingerprints=PRINTS), "a")
    again.add(1, "x")
    (request,) = again.passed(10**9)
    assert (request.first, request.last) == (0, 9) and again.first == 10**9
