"""One outage, one warning: the retry policy the Timeplus sender and the Kafka side share."""

from __future__ import annotations

import logging

import pytest

from connector.outage import Outage


class FixedBackoff:
    def __init__(self) -> None:
        self.asked: list[tuple[int, float | None]] = []

    def delay(self, attempt: int, retry_after: float | None) -> float:
        self.asked.append((attempt, retry_after))
        return 0.5 * attempt


def test_one_warning_per_outage_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    outage = Outage("Kafka", FixedBackoff(), remind_every=1000, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="connector.outage"):
        for _ in range(20):
            outage.failed(RuntimeError("timed out"))
            now[0] += 1
        outage.answered()
        outage.answered()  # no outage going on: nothing to say
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Kafka unavailable, retrying with backoff: timed out",
        "Kafka available again after 20 failed attempts over 20.0 s",
    ]
    assert not outage.active


def test_backoff_grows_with_the_failures_of_one_outage_and_restarts_after_it() -> None:
    backoff = FixedBackoff()
    outage = Outage("Kafka", backoff)
    assert [outage.failed(RuntimeError("x")) for _ in range(3)] == [0.5, 1.0, 1.5]
    outage.answered()
    assert outage.failed(RuntimeError("x"), retry_after=2.0) == 0.5
    assert backoff.asked[-1] == (1, 2.0)


def test_a_long_outage_is_reminded_every_n_failures(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("dead-letter topic t.dlq", FixedBackoff(), remind_every=10)
    with caplog.at_level(logging.WARNING, logger="connector.outage"):
        for _ in range(25):
            outage.failed(RuntimeError("Local: Message timed out"))
    assert len(caplog.records) == 3  # the first failure, the 10th, the 20th
    assert "still unavailable after 20 failed attempts" in caplog.records[-1].getMessage()
