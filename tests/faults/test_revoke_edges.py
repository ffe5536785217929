"""Revokes and shutdowns at awkward moments (issue #11): nothing stalls, nothing overruns its bound."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import (
    Connectors,
    FaultReport,
    FaultSetup,
    delivery,
    ensure_running,
    fully_committed,
    pipeline_lines,
    produce_ids,
    wait_until,
)
from tests.support.services import ConnectorProcess


def with_settings(
    config: Path, *, timeplus: dict[str, object] | None = None, top: dict[str, object] | None = None
) -> Path:
    """Add ``timeplus:`` keys and top-level keys to a config written by ``fault_setup``."""
    text = config.read_text()
    for key, value in (timeplus or {}).items():
        text = text.replace("timeplus:\n", f"timeplus:\n  {key}: {value}\n", 1)
    for key, value in (top or {}).items():
        text = text.replace("mappings:\n", f"{key}: {value}\nmappings:\n", 1)
    config.write_text(text)
    return config


def logged_after(process: ConnectorProcess, first: str, then: str) -> bool:
    """Whether a pipeline line matching ``then`` follows one matching ``first``."""
    ensure_running(process)
    lines = pipeline_lines(process.log())
    starts = [i for i, line in enumerate(lines) if re.search(first, line)]
    return bool(starts) and any(re.search(then, line) for line in lines[starts[0] + 1 :])


OUTAGE_PARTITIONS = 6
OUTAGE_MESSAGES = 6_000


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_rebalance_during_an_outage_with_max_retries_does_not_stall_the_member(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    # Batches wait 15 s (linger) unless something flushes them, so nothing is sent before the
    # rebalance; Timeplus refuses connections; each request gets 2 attempts.
    topic, stream, group, config = fault_setup(
        "outagerebalance", kafka, partitions=OUTAGE_PARTITIONS, max_rows=100_000, linger_ms=15_000
    )
    with_settings(config, timeplus={"max_retries": 2, "retry_backoff_s": 0.1})
    produce_ids(kafka.bootstrap, topic, OUTAGE_PARTITIONS, range(OUTAGE_MESSAGES))
    emulator.faults.down_for(600)
    first = connectors.start(config, "first", check=False)  # Timeplus is down: start all the same
    wait_until(
        lambda: any(re.search(r"assigned (?!nothing)", line) for line in pipeline_lines(first.log())),
        90,
        "the first member to own partitions",
        first.log,
    )
    second = connectors.start(config, "second", check=False)
    # The first member gives partitions to the second; whatever it does during the revoke is
    # done once it logs the assignment that follows.
    wait_until(lambda: logged_after(first, r" revoking ", r" assigned "), 90, "the first member's revoke", first.log)
    emulator.faults.clear()  # Timeplus is back
    print("Timeplus is back after the first member's revoke")

    def delivered_or_stopped() -> bool:
        ensure_running(second)
        if first.process.poll() is not None:
            return True  # giving up on max_retries may stop the member, as outside a rebalance
        return fully_committed(kafka.bootstrap, group, topic, OUTAGE_PARTITIONS)

    took = wait_until(delivered_or_stopped, 120, "the members to deliver and commit everything, or to stop")
    code = first.process.poll()
    for name, process in (("first", first), ("second", second)):
        print(f"member {name}:", *pipeline_lines(process.log()), sep="\n  ")
    if code is not None:
        assert code == 1, f"the first member exited with {code}:\n{first.log()[-3000:]}"
        assert "not delivered" in first.log(), first.log()[-3000:]
        # Its replacement delivers what it left behind.
        replacement = connectors.start(config, "replacement")
        wait_until(
            lambda: fully_committed(kafka.bootstrap, group, topic, OUTAGE_PARTITIONS),
            120,
            "the replacement to commit everything",
            replacement.log,
        )
    result = delivery(emulator, stream, range(OUTAGE_MESSAGES))
    fault_report(
        "rebalance during a Timeplus outage, max_retries 2",
        f"endpoint down (connection refused) while the 1st member holds {OUTAGE_MESSAGES:,} messages unsent; "
        "a 2nd member joins; endpoint back after the 1st member's revoke",
        f"{result.outcome()}; "
        + (
            f"the 1st member stopped (exit 1) after {took:.0f} s"
            if code is not None
            else f"all committed {took:.0f} s later"
        ),
    )
    result.assert_nothing_lost()
    assert fully_committed(kafka.bootstrap, group, topic, OUTAGE_PARTITIONS)


SHUTDOWN_MESSAGES = 4_000
DRAIN_TIMEOUT_S = 3
# Requests hang far longer than drain_timeout_s: Timeplus stores the rows and answers after
# 120 s, the client waits up to 60 s.
HANG_S = 120
CLIENT_TIMEOUT_S = 60
# What closing the consumer and exiting may add to drain_timeout_s on a loaded 2-core machine.
EXIT_MARGIN_S = 7


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_shutdown_with_requests_hanging_stays_within_drain_timeout(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    fault_setup: FaultSetup,
) -> None:
    topic, stream, group, config = fault_setup(
        "shutdownbound", kafka, partitions=2, timeout_s=CLIENT_TIMEOUT_S, drain_timeout_s=DRAIN_TIMEOUT_S
    )
    produce_ids(kafka.bootstrap, topic, 2, range(SHUTDOWN_MESSAGES))
    emulator.faults.slow_ack_next(1_000, HANG_S)
    connector = connectors.start(config, "run")

    def a_request_hangs() -> bool:
        ensure_running(connector)
        return any(r.outcome == "slow_ack" for r in emulator.requests())

    wait_until(a_request_hangs, 90, "a request to reach Timeplus", connector.log)
    connector.terminate()
    terminated_at = time.monotonic()
    code = connector.wait(HANG_S + 60)
    took = time.monotonic() - terminated_at
    emulator.faults.clear()
    print(f"exit code {code} {took:.1f} s after SIGTERM (drain_timeout_s {DRAIN_TIMEOUT_S})")

    restarted = connectors.start(config, "restart", until_caught_up=True)
    assert restarted.wait(120) == 0, restarted.log()[-3000:]
    result = delivery(emulator, stream, range(SHUTDOWN_MESSAGES))
    fault_report(
        "SIGTERM while requests hang",
        f"every insert stored but answered after {HANG_S} s, client timeout {CLIENT_TIMEOUT_S} s, "
        f"drain_timeout_s {DRAIN_TIMEOUT_S}; SIGTERM once a request is in flight; restarted",
        f"{result.outcome()}; exit code {code} {took:.1f} s after SIGTERM",
    )
    assert code == 0, connector.log()[-3000:]
    result.assert_nothing_lost()
    assert took <= DRAIN_TIMEOUT_S + EXIT_MARGIN_S, (
        f"shutdown took {took:.1f} s, beyond drain_timeout_s {DRAIN_TIMEOUT_S} (+{EXIT_MARGIN_S} s to exit)"
    )
    assert fully_committed(kafka.bootstrap, group, topic, 2)
