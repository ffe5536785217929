"""Exactly-once into Timeplus under faults (issue #13): kill -9, slow acknowledgements, a rebalance.

Each test runs the connector CLI with ``delivery: exactly_once`` against a real broker and
the Timeplus emulator (which drops a request whose ``x-timeplus-idempotent-id`` is among the
stream's last 1000, as Proton does), injects faults that make at-least-once delivery store
rows twice, and counts every id in the emulator: 0 missing and 0 duplicates.

``FAULT_DELIVERY=at_least_once`` runs the same faults in the default mode, where each test
fails on the duplicates it finds: that is how each was shown able to fail (the README's
fault table gives both counts). ``FAULT_SEED=<n>`` replays a run's random choices.

Runtimes on the shared 2-core development machine: kills about 3.5 min, slow acknowledgements
about 20 s, rebalance about 1 min; the file about 4.5 min (``pytest -m slow`` on it).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import RequestLog, TimeplusEmulator
from tests.support.faults import (
    IN_FLIGHT,
    Connectors,
    Delivery,
    FaultReport,
    FaultSetup,
    Flow,
    SeededRandom,
    committed_total,
    delivery,
    ensure_running,
    fan_out_streams,
    fully_committed,
    kill_9,
    owns_partitions,
    produce_ids,
    stop_cleanly,
    wait_until,
)
from tests.support.services import ConnectorProcess

DELIVERY = os.environ.get("FAULT_DELIVERY", "exactly_once")
# A member killed with SIGKILL sends no LeaveGroup: the group waits for its session to expire
# before the next incarnation gets its partitions; 6 s is the broker's minimum.
FAST_EVICTION = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}


# -- what the emulator's journal says ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalFacts:
    """The ingest requests of some streams, as the emulator answered them."""

    stored_without_id: int  # requests whose rows were stored (slow acknowledgements included) without an id
    replays_dropped: int  # answered with success, nothing stored: their id was seen before
    cut_replays_dropped: int  # of those, requests ending inside a window: cut by linger, the cut recorded
    ids_per_stream: int  # the fewest distinct ids stored into one stream
    overlaps: tuple[str, ...]  # stored requests of one stream and partition covering the same offsets
    stored_twice: tuple[str, ...]  # ids stored twice (a replay outside Timeplus's window of remembered ids)

    def outcome(self) -> str:
        return (
            f"{self.replays_dropped:,} replayed requests dropped by their idempotent id "
            f"({self.cut_replays_dropped:,} of them cut at the live head; ≥ {self.ids_per_stream:,} ids per stream)"
        )


# An id as docs/EXACTLY_ONCE.md spells it; a split request appends "/<row range>".
_ID = re.compile(r"kt1-[^-]+-(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)(?:/.*)?")


def journal_facts(emu: TimeplusEmulator, streams: tuple[str, ...], window: int) -> JournalFacts:
    """Count the journal's ingest requests into ``streams``; find stored requests whose offsets overlap.

    ``window`` is the connector's ``batch.max_rows``: a request ending elsewhere than at a
    multiple of it was cut at the live head (its cut recorded in the commit metadata first).

    Two stored requests of one stream and partition whose ids differ and whose offset ranges
    overlap mean rows that a replay cut differently from the first time: stored twice.
    """
    ingest = [r for r in emu.requests() if r.method == "POST" and r.stream in streams]
    stored = [r for r in ingest if r.outcome in ("stored", "slow_ack")]
    replays = [r for r in ingest if r.outcome == "duplicate"]
    spans: dict[tuple[str, str, str], set[tuple[int, int, str]]] = defaultdict(set)
    for request in stored:
        found = _ID.fullmatch(request.idempotent_id or "")
        if found is None or request.stream is None:
            continue
        base = found.string.split("/", 1)[0]  # the parts of a split request share it
        key = (request.stream, found["topic"], found["partition"])
        spans[key].add((int(found["first"]), int(found["last"]), base))
    overlaps = []
    for (stream, topic, partition), found_spans in sorted(spans.items()):
        ordered = sorted(found_spans)
        for before, after in pairwise(ordered):
            if after[0] <= before[1]:
                overlaps.append(f"{stream} {topic}[{partition}]: {before[2]} and {after[2]}")
    return JournalFacts(
        stored_without_id=sum(1 for r in stored if r.idempotent_id is None),
        replays_dropped=len(replays),
        ids_per_stream=min(
            (len({r.idempotent_id for r in stored if r.stream == s and r.idempotent_id}) for s in streams), default=0
        ),
        cut_replays_dropped=sum(1 for last in map(_last_offset, replays) if last is not None and (last + 1) % window),
        overlaps=tuple(overlaps),
        stored_twice=tuple(
            sorted(i for i, n in Counter(r.idempotent_id for r in stored if r.idempotent_id).items() if n > 1)
        ),
    )


def _last_offset(request: RequestLog) -> int | None:
    found = _ID.fullmatch(request.idempotent_id or "")
    return int(found["last"]) if found else None


@dataclass(frozen=True, slots=True)
class Landed:
    """What each stream holds, and what the journal says about the requests into them."""

    deliveries: dict[str, Delivery]
    journal: JournalFacts

    def outcome(self) -> str:
        text = "; ".join(
            f"{'fan-out ' if k else ''}stream {k + 1}: {result.outcome()}"
            for k, result in enumerate(self.deliveries.values())
        )
        return f"{text}; {self.journal.outcome()}"

    def assert_exactly_once(self, partitions: int) -> None:
        for result in self.deliveries.values():
            result.assert_exactly_once(partitions)
        assert not self.journal.overlaps, f"stored requests overlap: {list(self.journal.overlaps[:5])}"
        assert not self.journal.stored_twice, f"ids stored twice: {list(self.journal.stored_twice[:5])}"
        assert not self.journal.stored_without_id, f"{self.journal.stored_without_id} requests stored without an id"


def landed_in(emu: TimeplusEmulator, streams: tuple[str, ...], ids: range, window: int, partitions: int) -> Landed:
    """Count every id of ``ids`` in each stream and read the journal (``window``: batch.max_rows); print both.

    For ids stored twice, the requests whose id covers their offsets are printed too: what a
    report of the failure needs.
    """
    deliveries = {stream: delivery(emu, stream, ids) for stream in streams}
    result = Landed(deliveries, journal_facts(emu, streams, window))
    outcomes = Counter(r.outcome for r in emu.requests() if r.stream in streams)
    print(f"journal of {', '.join(streams)}: {dict(outcomes)}")
    for overlap in result.journal.overlaps[:20]:
        print(f"  overlapping stored requests: {overlap}")
    for twice in result.journal.stored_twice[:20]:
        print(f"  id stored twice: {twice}")
    for stream, found in deliveries.items():
        offsets = {(i % partitions, i // partitions) for i in found.duplicated}
        covering = [
            r
            for r in emu.requests()
            if r.stream == stream and (match := _ID.fullmatch(r.idempotent_id or ""))
            if any(p == int(match["partition"]) and int(match["first"]) <= o <= int(match["last"]) for p, o in offsets)
        ]
        for r in covering[:40]:
            print(
                f"  {stream}: {r.outcome} {r.rows} rows at {r.received_at:.3f}, {r.duration:.3f} s: {r.idempotent_id}"
            )
    return result


# -- 1. kill -9, twenty times ------------------------------------------------------------------

KILL_PARTITIONS = 4
BACKLOG_KILLS = 10
LIVE_KILLS = 10
BACKLOG = 150_000
# The first ten incarnations each drain a piece of the backlog, where requests end at window
# ends. Then messages keep coming (about 500/s, ~50,000 in all) and each later incarnation is
# killed only once it has caught up with them: at the live head linger sends partial windows
# whose cuts are recorded in the commit metadata first, and the replay must honour them.
FLOW_CHUNK, FLOW_EVERY_S = 500, 0.5
# Each insert answered in 0.05 s: every kill finds requests in flight. Requests of at most 200
# rows make each stream take more than the 1,000 ids Timeplus remembers, so the id window
# slides during the test, as it does in production.
KILL_LATENCY_S = 0.05
KILL_MAX_ROWS = 200


@pytest.mark.slow
@pytest.mark.timeout(540)
def test_kill_9_twenty_times_under_load_stores_every_message_exactly_once(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "eokill",
        kafka,
        partitions=KILL_PARTITIONS,
        fan_out=1,
        kafka_extra=FAST_EVICTION,
        max_rows=KILL_MAX_ROWS,
        delivery=DELIVERY,
    )
    streams = (stream, *fan_out_streams(stream, 1))
    produce_ids(kafka.bootstrap, topic, KILL_PARTITIONS, range(BACKLOG))
    emulator.faults.set_latency(KILL_LATENCY_S)
    flow = Flow(kafka.bootstrap, topic, KILL_PARTITIONS, chunk=FLOW_CHUNK, every_s=FLOW_EVERY_S, first=BACKLOG)

    def landed() -> int:
        return sum(emulator.count(s) for s in streams)

    def committed() -> int:
        return committed_total(kafka.bootstrap, group, topic, KILL_PARTITIONS)

    def progressed(process: ConnectorProcess, landed_at_start: int, committed_at_start: int, threshold: int) -> bool:
        ensure_running(process)
        return landed() - landed_at_start >= threshold and committed() > committed_at_start

    def caught_up(process: ConnectorProcess, committed_at_start: int, produced_at_start: int) -> bool:
        ensure_running(process)
        now = committed()
        return now > committed_at_start and now >= produced_at_start

    started = time.monotonic()
    try:
        for k in range(1, BACKLOG_KILLS + LIVE_KILLS + 1):
            process = connectors.start(config, f"run{k}")
            landed_at_start, committed_at_start = landed(), committed()
            if k <= BACKLOG_KILLS:
                # Once it landed a random number of rows and committed something, and then
                # somewhere between two commits: each kill cuts a different point of progress.
                threshold = rng.randint(1_000, 8_000)
                what = f"incarnation {k} to land {threshold:,} rows and commit"
                took = wait_until(
                    partial(progressed, process, landed_at_start, committed_at_start, threshold), 90, what, process.log
                )
                time.sleep(rng.uniform(0, 1.0))
            else:
                if k == BACKLOG_KILLS + 1:
                    flow.start()
                produced_at_start = BACKLOG + flow.produced
                what = f"incarnation {k} to commit the {produced_at_start:,} messages produced before it started"
                took = wait_until(
                    partial(caught_up, process, committed_at_start, produced_at_start), 120, what, process.log
                )
                time.sleep(rng.uniform(0, 2.0))
            ensure_running(process)
            kill_9(process)
            print(
                f"kill {k} at {time.monotonic() - started:.0f} s: {took:.1f} s after start, "
                f"{landed() - landed_at_start:,} rows landed, {BACKLOG + flow.produced:,} produced, "
                f"committed {committed():,}"
            )
            if k == BACKLOG_KILLS:
                assert committed() < BACKLOG, "the backlog was drained before its last kill: not a mid-work crash"
    finally:
        produced = BACKLOG + flow.stop()

    emulator.faults.set_latency(0)
    final = connectors.start(config, "final", until_caught_up=True)
    code = final.wait(180)
    assert code == 0, f"the final --until-caught-up run exited with {code}:\n{final.log()[-4000:]}"

    result = landed_in(emulator, streams, range(produced), KILL_MAX_ROWS, KILL_PARTITIONS)
    caught_up_at_end = fully_committed(kafka.bootstrap, group, topic, KILL_PARTITIONS)
    fault_report(
        f"connector crash, {DELIVERY}",
        f"kill -9 at {BACKLOG_KILLS} random points of a {BACKLOG:,}-message backlog, then at {LIVE_KILLS} at the "
        f"live head while {produced - BACKLOG:,} more arrived; {KILL_PARTITIONS} partitions, one topic → two streams "
        f"(seed {rng.seed_value})",
        f"{result.outcome()}; committed offsets {'=' if caught_up_at_end else '≠'} end offsets",
    )
    result.assert_exactly_once(KILL_PARTITIONS)
    assert result.journal.replays_dropped, "no request was replayed: the kills tested nothing"
    assert caught_up_at_end, f"committed {committed():,} of {produced:,}:\n{final.log()[-3000:]}"


# -- 2. acknowledgements slower than the client's timeout ---------------------------------------

SLOW_PARTITIONS = 4
SLOW_BACKLOG = 20_000  # 5,000 a partition: whole windows of SLOW_MAX_ROWS, so no backlog request is a cut
LIVE = 400  # messages produced at the live head, after the backlog is committed
TIMEOUT_S = 2
SLOW_MAX_ROWS = 1000
ACK_DELAY_S = 5


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_acknowledgement_after_client_timeout_is_not_stored_twice(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "eoslow",
        kafka,
        partitions=SLOW_PARTITIONS,
        timeout_s=TIMEOUT_S,
        max_rows=SLOW_MAX_ROWS,
        delivery=DELIVERY,
    )
    produce_ids(kafka.bootstrap, topic, SLOW_PARTITIONS, range(SLOW_BACKLOG))
    # Both first requests (two in flight) are stored at once but answered after the client gave
    # up: each request of a window end is sent again.
    emulator.faults.slow_ack_next(2, ACK_DELAY_S)
    connector = connectors.start(config, "run")

    def everything_committed(produced: int) -> bool:
        ensure_running(connector)
        return committed_total(kafka.bootstrap, group, topic, SLOW_PARTITIONS) == produced

    wait_until(partial(everything_committed, SLOW_BACKLOG), 120, "the backlog to be committed", connector.log)
    # At the live head linger sends partial windows, whose cut is recorded before it is sent:
    # the next one is stored but answered late, and its retry must carry the same id.
    emulator.faults.slow_ack_next(1, ACK_DELAY_S)
    produced = SLOW_BACKLOG + LIVE
    produce_ids(kafka.bootstrap, topic, SLOW_PARTITIONS, range(SLOW_BACKLOG, produced))
    wait_until(partial(everything_committed, produced), 60, "the live messages to be committed", connector.log)
    stop_cleanly(connector)

    slow = [r for r in emulator.requests() if r.outcome == "slow_ack"]
    result = landed_in(emulator, (stream,), range(produced), SLOW_MAX_ROWS, SLOW_PARTITIONS)
    replayed = [r for r in emulator.requests() if r.outcome == "duplicate"]
    fault_report(
        f"slow acknowledgement, {DELIVERY}",
        f"3 inserts stored, answered after {ACK_DELAY_S} s (2 of the backlog's first, 1 partial window at the "
        f"live head); client timeout {TIMEOUT_S} s ({produced:,} messages)",
        result.outcome(),
    )
    assert len(slow) == 3, f"{len(slow)} slow acknowledgements applied, 3 asked for"
    result.assert_exactly_once(SLOW_PARTITIONS)
    assert result.journal.cut_replays_dropped == 1, "the live head's slow request was not a recorded cut"
    # Each late-answered request was sent again with its id, and Timeplus dropped the copy.
    assert {r.idempotent_id for r in slow} <= {r.idempotent_id for r in replayed}, (slow, replayed)


# -- 3. members join and leave under load ------------------------------------------------------

REBALANCE_PARTITIONS = 6
# 0.4 s per insert keeps requests in flight all the time, whenever a member's partitions move
# or it dies (at-least-once re-sends those of the killed member). The flow (about 1,000
# messages/s, as in the kill test) stays below the members' capacity, so they work at the live
# head and most requests are cuts recorded in the commit metadata, which the next owner of a
# partition must honour.
REBALANCE_LATENCY_S = 0.4
HELD, HOLD_S = 1_000, 4.0  # answers held back around the kill: plenty, each 4 s (+ latency < timeout_s 5)
REBALANCE_MAX_ROWS = 500


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_two_three_two_members_under_load_store_every_message_exactly_once(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "eorebalance",
        kafka,
        partitions=REBALANCE_PARTITIONS,
        kafka_extra=FAST_EVICTION,
        max_rows=REBALANCE_MAX_ROWS,
        delivery=DELIVERY,
    )
    emulator.faults.set_latency(REBALANCE_LATENCY_S)

    def more_rows_land(n: int) -> None:
        target = emulator.count(stream) + n
        wait_until(lambda: emulator.count(stream) >= target, 90, f"{n:,} more rows to land")

    flow = Flow(kafka.bootstrap, topic, REBALANCE_PARTITIONS, chunk=FLOW_CHUNK, every_s=FLOW_EVERY_S).start()
    try:
        members = {name: connectors.start(config, name) for name in ("a", "b")}
        for name, process in members.items():
            wait_until(partial(owns_partitions, process), 90, f"member {name} to own partitions", process.log)
        more_rows_land(rng.randint(2_000, 5_000))
        # A third member joins: cooperative-sticky moves partitions to it while rows are in flight.
        members["c"] = connectors.start(config, "c")
        wait_until(partial(owns_partitions, members["c"]), 90, "member c to own partitions", members["c"].log)
        more_rows_land(rng.randint(2_000, 5_000))
        # One leaves by crashing: the others take its partitions over once its session expires
        # and re-send what it had sent but not committed. Timeplus holds its answers meanwhile:
        # a member has at most 2 requests in flight, so once 6 are stored and unanswered (well
        # within HOLD_S), each of the 3 has 2, and the one killed leaves stored requests behind.
        leaver = rng.choice(sorted(members))
        emulator.faults.slow_ack_next(HELD, HOLD_S)
        wait_until(lambda: emulator.faults.pending() <= HELD - 3 * IN_FLIGHT, HOLD_S, "every member's requests held")
        kill_9(members[leaver])
        emulator.faults.clear()  # the held answers still go out; the next requests are answered as before
        emulator.faults.set_latency(REBALANCE_LATENCY_S)
        remaining = {name: p for name, p in members.items() if name != leaver}
        print(f"member {leaver} killed after {emulator.count(stream):,} rows landed")
        more_rows_land(rng.randint(4_000, 8_000))
    finally:
        produced = flow.stop()
    print(f"{produced:,} messages produced while the group changed")

    def caught_up() -> bool:
        for process in remaining.values():
            ensure_running(process)
        return fully_committed(kafka.bootstrap, group, topic, REBALANCE_PARTITIONS)

    took = wait_until(caught_up, 120, "the two remaining members to commit everything")
    for process in remaining.values():
        stop_cleanly(process)

    result = landed_in(emulator, (stream,), range(produced), REBALANCE_MAX_ROWS, REBALANCE_PARTITIONS)
    fault_report(
        f"rebalance 2 → 3 → 2 members, {DELIVERY}",
        f"2 members, a 3rd joins, member {leaver} killed (SIGKILL, session.timeout.ms 6000) while Timeplus held "
        f"the answers to its requests, {produced:,} "
        f"messages flowing, {REBALANCE_PARTITIONS} partitions, inserts answered in {REBALANCE_LATENCY_S} s "
        f"(seed {rng.seed_value})",
        f"{result.outcome()}; committed everything {took:.0f} s after the flow stopped",
    )
    result.assert_exactly_once(REBALANCE_PARTITIONS)
    assert result.journal.replays_dropped, "no request was replayed: the crash tested nothing"
