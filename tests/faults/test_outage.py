"""Timeplus goes away, or throttles: the connector waits, keeps its group, loses nothing."""

from __future__ import annotations

import re
import time

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    IN_FLIGHT,
    Connectors,
    FaultReport,
    FaultSetup,
    RssSampler,
    SeededRandom,
    committed_total,
    delivery,
    ensure_running,
    fully_committed,
    pipeline_lines,
    produce_ids,
    stop_cleanly,
    wait_until,
)

PARTITIONS = 4
BACKLOG = 100_000
DURING_OUTAGE = 20_000
OUTAGE_S = 60
# The connector buffers at most max_buffered_bytes (64 MiB) of rows (value bytes plus a per-row
# overhead for the Python row and the message) plus librdkafka's
# prefetch (queued.max.messages.kbytes, 32 MiB) on top of an interpreter of ~50 MiB.
RSS_BOUND_MIB = 250
# The sender's backoff is capped at 30 s (full jitter), so the first retry after the endpoint
# returns may come up to 30 s later; draining what is left takes a few seconds more.
CATCH_UP_S = 90


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sixty_second_outage_mid_drain_loses_nothing_and_keeps_the_group(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "outage",
        kafka,
        partitions=PARTITIONS,
        max_rows=500,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG))
    # ~10,000 rows/s (IN_FLIGHT 2 x 500 rows / 0.1 s): the outage starts mid-backlog.
    emulator.faults.set_latency(0.1)
    connector = connectors.start(config, "run")
    with RssSampler(connector.process.pid) as rss:
        start_after = rng.randint(10_000, 40_000)

        def landed(n: int) -> bool:
            ensure_running(connector)
            return emulator.count(stream) >= n

        wait_until(lambda: landed(start_after), 120, f"{start_after:,} rows to land", connector.log)
        emulator.faults.down_for(OUTAGE_S)
        down_at = time.monotonic()
        landed_at_outage = emulator.count(stream)
        produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG, BACKLOG + DURING_OUTAGE))
        assert emulator.faults.is_down, "the extra messages were meant to arrive during the outage"

        # Commits made in the first seconds may still cover rows delivered before the cut.
        time.sleep(max(0.0, down_at + 5 - time.monotonic()))
        committed_early = committed_total(kafka.bootstrap, group, topic, PARTITIONS)
        assert emulator.faults.wait_until_up(OUTAGE_S + 10), "the emulator did not come back"
        committed_late = committed_total(kafka.bootstrap, group, topic, PARTITIONS)
        up_at = time.monotonic()
        ensure_running(connector)
        print(
            f"outage from {landed_at_outage:,} rows landed for {up_at - down_at:.1f} s; "
            f"committed {committed_early:,} after 5 s, {committed_late:,} at the end"
        )

        def caught_up() -> bool:
            ensure_running(connector)
            return fully_committed(kafka.bootstrap, group, topic, PARTITIONS)

        catch_up = wait_until(caught_up, CATCH_UP_S, "the connector to catch up after the outage", connector.log)
        print(f"caught up {catch_up:.1f} s after the endpoint returned; peak RSS {rss.peak_mib:.0f} MiB")
        stop_cleanly(connector)

    log = connector.log()
    before_stop = log.split("received SIGTERM", 1)[0]
    membership = pipeline_lines(before_stop)
    print("assignment lines before SIGTERM:", *membership, sep="\n  ")
    assigned = [line for line in membership if " assigned " in line]
    result = delivery(emulator, stream, range(BACKLOG + DURING_OUTAGE))
    fault_report(
        "Timeplus outage",
        f"endpoint down {OUTAGE_S} s (connection refused) mid-drain of a {BACKLOG:,}-message backlog, "
        f"{DURING_OUTAGE:,} more produced during it",
        f"{result.outcome()}; caught up {catch_up:.0f} s after it returned; peak RSS {rss.peak_mib:.0f} MiB "
        f"(bound {RSS_BOUND_MIB}); {len(assigned)} assignment, {len(membership) - len(assigned)} revoke/lost; "
        f"{'nothing' if committed_late == committed_early else 'something'} committed while down",
    )
    result.assert_nothing_lost()
    assert rss.samples > 0
    assert rss.peak_mib < RSS_BOUND_MIB, f"peak RSS {rss.peak_mib:.0f} MiB over the {RSS_BOUND_MIB} MiB bound"
    assert len(assigned) == 1 and len(membership) == 1, "a rebalance during the outage:\n" + "\n".join(membership)
    assert committed_late == committed_early, "offsets advanced while Timeplus was unreachable"
    assert "Timeplus unavailable" in log


# Retry-After of each throttling answer, by status.
THROTTLE = {503: 2, 429: 1}
THROTTLED_REQUESTS = 6  # of each status


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_503_and_429_with_retry_after_are_honoured_and_lose_nothing(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    messages = 20_000
    topic, stream, group, config = fault_setup(
        "throttle",
        kafka,
        partitions=PARTITIONS,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(messages))
    for status, retry_after in THROTTLE.items():
        emulator.faults.fail_next(THROTTLED_REQUESTS, status=status, retry_after=retry_after)
    connector = connectors.start(config, "run", until_caught_up=True)
    code = connector.wait(150)
    assert code == 0, f"exit code {code}:\n{connector.log()[-4000:]}"

    ingests = sorted((r for r in emulator.requests() if "/ingest/" in r.path), key=lambda r: r.received_at)
    throttled = [r for r in ingests if r.outcome == "failed_on_demand"]
    assert [r.status for r in throttled] == [s for s in THROTTLE for _ in range(THROTTLED_REQUESTS)]
    # The journal does not say which batch a request carried, but at most IN_FLIGHT batches are
    # in flight and each sticks to its delivery thread until accepted. So among `workers` + 1
    # consecutive requests, two come from one thread: if the first `workers` were throttled, the
    # last arrives no sooner after the first than the smallest Retry-After among them.
    workers = IN_FLIGHT
    windows: list[tuple[float, float]] = []  # (seconds observed, seconds asked)
    for i in range(len(ingests) - workers):
        head = ingests[i : i + workers]
        if all(r.outcome == "failed_on_demand" for r in head):
            asked = min(THROTTLE[r.status or 0] for r in head)
            windows.append((ingests[i + workers].received_at - head[0].received_at, asked))
    too_soon = [(round(seen, 3), asked) for seen, asked in windows if seen < asked - 0.05]
    shortest = min(windows, key=lambda w: w[0] - w[1])
    print(f"{len(windows)} windows checked; tightest: {shortest[0]:.2f} s observed for {shortest[1]} s asked")

    result = delivery(emulator, stream, range(messages))
    fault_report(
        "Timeplus throttling",
        f"{THROTTLED_REQUESTS}x 503 with Retry-After: {THROTTLE[503]}, then {THROTTLED_REQUESTS}x 429 with "
        f"Retry-After: {THROTTLE[429]} ({messages:,} messages)",
        f"{result.outcome()}; "
        + (
            f"Retry-After honoured (tightest retry {shortest[0]:.2f} s for {shortest[1]} s asked)"
            if not too_soon
            else f"retried sooner than asked {len(too_soon)} times"
        ),
    )
    result.assert_nothing_lost()
    assert result.duplicates == 0, "a refused request stores nothing, so nothing should arrive twice"
    assert windows, "no window of throttled requests to check"
    assert not too_soon, f"retried sooner than Retry-After asked: (observed, asked) {too_soon}"
    assert fully_committed(kafka.bootstrap, group, topic, PARTITIONS)
    assert re.search(r"Timeplus unavailable", connector.log())


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigterm_during_outage_stops_within_the_drain_timeout_and_loses_nothing(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    rng: SeededRandom,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    messages, drain_timeout_s = 40_000, 5
    topic, stream, group, config = fault_setup(
        "termdown",
        kafka,
        partitions=PARTITIONS,
        max_rows=500,
        drain_timeout_s=drain_timeout_s,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(messages))
    emulator.faults.set_latency(0.1)  # ~10,000 rows/s: the outage starts mid-backlog
    connector = connectors.start(config, "run")
    cut_after = rng.randint(5_000, 20_000)

    def landed(n: int) -> bool:
        ensure_running(connector)
        return emulator.count(stream) >= n

    wait_until(lambda: landed(cut_after), 120, f"{cut_after:,} rows to land", connector.log)
    emulator.faults.down_for(120)  # ended by clear() below, once the connector has stopped
    wait_until(lambda: "Timeplus unavailable" in connector.log(), 30, "the connector to notice the outage")
    started = time.monotonic()
    connector.terminate()
    code = connector.wait(drain_timeout_s + 60)
    stopped_in = time.monotonic() - started
    committed_at_stop = committed_total(kafka.bootstrap, group, topic, PARTITIONS)
    landed_at_stop = emulator.count(stream)
    emulator.faults.clear()
    print(
        f"stopped in {stopped_in:.1f} s with exit code {code}; "
        f"{landed_at_stop:,} rows landed, {committed_at_stop:,} offsets committed"
    )

    final = connectors.start(config, "final", until_caught_up=True)
    final_code = final.wait(120)
    result = delivery(emulator, stream, range(messages))
    fault_report(
        "SIGTERM during a Timeplus outage",
        f"endpoint down after {landed_at_stop:,} of {messages:,} rows landed, then SIGTERM "
        f"(drain_timeout_s {drain_timeout_s}); restarted after the endpoint returned",
        f"{result.outcome()}; exit code {code} {stopped_in:.1f} s after SIGTERM "
        f"(drain_timeout_s {drain_timeout_s}); committed {committed_at_stop:,} "
        f"{'≤' if committed_at_stop <= landed_at_stop else '>'} landed {landed_at_stop:,}",
    )
    assert code == 0, f"exit code {code} after SIGTERM:\n{connector.log()[-4000:]}"
    assert final_code == 0, f"the final run exited with {final_code}:\n{final.log()[-4000:]}"
    result.assert_nothing_lost()
    assert committed_at_stop <= landed_at_stop, "committed offsets of rows that never reached Timeplus"
    assert fully_committed(kafka.bootstrap, group, topic, PARTITIONS)
    # The README promises shutdown bounded by drain_timeout_s; closing the consumer takes well under 3 s.
    assert stopped_in < drain_timeout_s + 3, (
        f"SIGTERM took {stopped_in:.1f} s with drain_timeout_s {drain_timeout_s}:\n{connector.log()[-3000:]}"
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_connections_reset_mid_request_lose_nothing(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    messages = 20_000
    topic, stream, group, config = fault_setup(
        "reset",
        kafka,
        partitions=PARTITIONS,
    )
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(messages))
    # Resets halfway through the body (as a crashed proxy would), with plain 500s in between.
    emulator.faults.drop_next(3)
    emulator.faults.fail_next(3, status=500)
    emulator.faults.drop_next(3)
    connector = connectors.start(config, "run", until_caught_up=True)
    code = connector.wait(150)
    assert code == 0, f"exit code {code}:\n{connector.log()[-4000:]}"

    outcomes = [r.outcome for r in emulator.requests() if "/ingest/" in r.path]
    result = delivery(emulator, stream, range(messages))
    fault_report(
        "connection reset",
        f"3 requests reset mid-body, 3 answered 500 (plain text), 3 more reset ({messages:,} messages)",
        f"{result.outcome()}; {outcomes.count('dropped')} resets and {outcomes.count('failed_on_demand')} 500s retried",
    )
    assert outcomes.count("dropped") == 6 and outcomes.count("failed_on_demand") == 3
    result.assert_nothing_lost()
    assert result.duplicates == 0, "a reset or refused request stores nothing, so nothing should arrive twice"
    assert fully_committed(kafka.bootstrap, group, topic, PARTITIONS)
