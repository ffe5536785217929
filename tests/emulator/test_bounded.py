"""Bounded mode for benchmarks: counts and an order-independent digest instead of rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from sandbox.timeplus_emulator.emulator import BOUNDED_JOURNAL
from sandbox.timeplus_emulator.store import Journal, RequestLog
from tests.support.emulator_http import compact, proton_url

COLUMNS = ["id", "name", "ts", "tags"]
ROWS: list[list[Any]] = [[i, f"n{i}", f"2024-01-01 10:00:{i % 60:02d}.{i:03d}", [i, -i]] for i in range(200)]


@pytest.fixture
def bounded() -> Iterator[TimeplusEmulator]:
    with TimeplusEmulator(bounded=True) as emulator:
        emulator.create_stream(
            "s", [("id", "int64"), ("name", "string"), ("ts", "datetime64(3)"), ("tags", "array(int64)")]
        )
        yield emulator


def post(http: requests.Session, emu: TimeplusEmulator, rows: list[list[Any]], **kwargs: Any) -> None:
    assert http.post(proton_url(emu, "s"), data=compact(COLUMNS, rows), **kwargs).status_code == 200


def test_bounded_keeps_counts_not_rows(bounded: TimeplusEmulator, http: requests.Session) -> None:
    post(http, bounded, ROWS)
    assert bounded.count("s") == 200
    with pytest.raises(RuntimeError, match="bounded"):
        bounded.rows("s")
    assert http.get(f"{bounded.url}/_emulator/streams/s/rows").status_code == 409


def test_digest_ignores_batching_and_order(bounded: TimeplusEmulator, http: requests.Session) -> None:
    expected = bounded.digest_of("s", COLUMNS, ROWS)
    for start in range(0, 200, 30):
        post(http, bounded, list(reversed(ROWS[start : start + 30])))
    assert bounded.digest("s") == expected


def test_digest_sees_a_lost_or_duplicated_row(bounded: TimeplusEmulator, http: requests.Session) -> None:
    expected = bounded.digest_of("s", COLUMNS, ROWS)
    post(http, bounded, ROWS[:-1])
    assert bounded.digest("s") != expected
    post(http, bounded, ROWS[-2:])  # the missing row, plus one again
    assert bounded.count("s") == 201
    assert bounded.digest("s") != expected


def test_digest_compares_values_as_stored(bounded: TimeplusEmulator, http: requests.Session) -> None:
    as_strings = [[str(r[0]), r[1], r[2].replace(" ", "T") + "Z", r[3]] for r in ROWS]
    post(http, bounded, as_strings)
    assert bounded.digest("s") == bounded.digest_of("s", COLUMNS, ROWS)


def test_digest_is_the_same_in_normal_mode(http: requests.Session) -> None:
    with TimeplusEmulator() as normal:
        normal.create_stream(
            "s", [("id", "int64"), ("name", "string"), ("ts", "datetime64(3)"), ("tags", "array(int64)")]
        )
        post(http, normal, ROWS)
        assert normal.digest("s") == normal.digest_of("s", COLUMNS, ROWS)
        assert len(normal.rows("s")) == 200


def test_idempotency_still_applies_when_bounded(bounded: TimeplusEmulator, http: requests.Session) -> None:
    post(http, bounded, ROWS, headers={"x-timeplus-idempotent-id": "x"})
    post(http, bounded, ROWS, headers={"x-timeplus-idempotent-id": "x"})
    assert bounded.count("s") == 200


def test_bounded_journal_keeps_the_last_entries_and_all_counters() -> None:
    journal = Journal(limit=3)
    for i in range(5):
        journal.add(RequestLog("POST", f"/{i}", {}, 0, 200, None, 1, "s", "stored", None, 0.0, 0.0))
    assert [entry.path for entry in journal.entries()] == ["/2", "/3", "/4"]
    assert journal.counters() == {"stored": 5}
    assert BOUNDED_JOURNAL == 1000
