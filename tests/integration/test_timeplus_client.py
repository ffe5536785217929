"""The connector's Timeplus client against the emulator."""

from __future__ import annotations

import logging
import threading

import pytest

from connector.config import TimeplusConfig
from connector.encoding import IngestRequest
from connector.timeplus import TimeplusClient
from sandbox.timeplus_emulator import TimeplusEmulator


def test_one_keep_alive_connection_per_request_in_flight(
    emulator: TimeplusEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # requests keeps 10 connections per host by default: with more requests in flight,
    # urllib3 would close the surplus after each round and reconnect for the next.
    in_flight, rounds = 12, 2
    emulator.create_stream("s", [("id", "int64")])
    emulator.faults.set_latency(0.2)  # the requests of one round overlap
    client = TimeplusClient(TimeplusConfig(url=emulator.url, max_in_flight=in_flight))
    together = threading.Barrier(in_flight)
    errors: list[Exception] = []

    def deliver(worker: int) -> None:
        try:
            for round_ in range(rounds):
                together.wait(10)
                client.ingest("s", IngestRequest.encode("s", ["id"], [[round_ * in_flight + worker]]).body)
        except Exception as exc:
            errors.append(exc)

    caplog.set_level(logging.WARNING, logger="urllib3")
    threads = [threading.Thread(target=deliver, args=(w,)) for w in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert errors == []
    assert sorted(r["id"] for r in emulator.rows("s")) == list(range(in_flight * rounds))
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []
