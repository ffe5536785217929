"""Read-back for tests: the Python API and the /_emulator HTTP endpoints."""

from __future__ import annotations

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import compact, post_compact, proton_url


def admin(emu: TimeplusEmulator, path: str) -> str:
    return f"{emu.url}/_emulator{path}"


def test_python_read_back(emu: TimeplusEmulator, http: requests.Session) -> None:
    post_compact(http, emu, ["id", "name"], [[1, "a"]], headers={"x-timeplus-idempotent-id": "i1"})
    post_compact(http, emu, ["id"], [["bad"]])
    assert emu.count("orders") == 1
    assert emu.streams() == ["orders"]
    ok, bad = emu.requests()
    assert (ok.method, ok.path, ok.status, ok.code, ok.rows, ok.stream, ok.outcome) == (
        "POST", "/proton/v1/ingest/streams/orders", 200, None, 1, "orders", "stored",
    )  # fmt: skip
    assert ok.idempotent_id == "i1" and ok.body_size == len(compact(["id", "name"], [[1, "a"]]))
    assert ok.headers["x-timeplus-idempotent-id"] == "i1"
    assert (bad.status, bad.code, bad.rows, bad.outcome) == (400, 27, 0, "rejected")
    assert ok.received_at <= bad.received_at and ok.duration >= 0


def test_rows_are_copies(emu: TimeplusEmulator, http: requests.Session) -> None:
    post_compact(http, emu, ["id"], [[1]])
    emu.rows("orders")[0]["id"] = 99
    assert emu.rows("orders")[0]["id"] == 1


def test_unknown_stream_in_the_python_api(emu: TimeplusEmulator) -> None:
    with pytest.raises(KeyError):
        emu.rows("nope")
    with pytest.raises(KeyError):
        emu.count("nope")


def test_create_stream_forms(emu: TimeplusEmulator) -> None:
    emu.create_stream("m", {"a": "int64", "b": "string"})
    with pytest.raises(Exception, match="already exists"):
        emu.create_stream("m", [("a", "int64")])
    emu.create_stream("m", [("a", "int64")], if_not_exists=True)
    with pytest.raises(Exception, match="Unknown data type"):
        emu.create_stream("n", [("a", "text")])
    assert emu.streams() == ["orders", "m"]


def test_reset_keeps_streams_and_drops_rows_and_requests(emu: TimeplusEmulator, http: requests.Session) -> None:
    post_compact(http, emu, ["id"], [[1]])
    emu.reset()
    assert emu.count("orders") == 0 and emu.rows("orders") == [] and emu.requests() == []
    assert post_compact(http, emu, ["id"], [[1]]).status_code == 200


def test_admin_rows_count_and_requests(emu: TimeplusEmulator, http: requests.Session) -> None:
    post_compact(http, emu, ["id", "name"], [[1, "a"], [2, "b"]])
    rows = http.get(admin(emu, "/streams/orders/rows")).json()
    assert [(r["id"], r["name"]) for r in rows["rows"]] == [(1, "a"), (2, "b")]
    count = http.get(admin(emu, "/streams/orders/count")).json()
    assert count["count"] == 2 and count["digest"] == emu.digest("orders")
    journal = http.get(admin(emu, "/requests")).json()
    assert [r["outcome"] for r in journal["requests"]] == ["stored"]
    assert journal["by_outcome"] == {"stored": 1}
    assert journal["requests"][0]["path"] == "/proton/v1/ingest/streams/orders"


def test_admin_calls_are_not_journaled_and_not_faulted(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(3)
    assert http.get(admin(emu, "/streams")).status_code == 200
    assert emu.requests() == []
    assert emu.faults.pending() == 3


def test_admin_streams_create_and_list(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(admin(emu, "/streams"), json={"name": "a", "columns": [["x", "int64"]]}).status_code == 200
    assert (
        http.post(admin(emu, "/streams"), json={"name": "b", "columns": [{"name": "y", "type": "string"}]}).status_code
        == 200
    )
    assert http.post(admin(emu, "/streams"), json={"name": "c", "columns": {"z": "bool"}}).status_code == 200
    assert http.post(admin(emu, "/streams"), json={"name": "c", "columns": {"z": "bool"}}).status_code == 400
    assert http.post(admin(emu, "/streams"), json={"name": "d", "columns": {"z": "nope"}}).status_code == 400
    assert http.post(admin(emu, "/streams"), json={"name": "e"}).status_code == 400
    listing = http.get(admin(emu, "/streams")).json()["streams"]
    assert [s["name"] for s in listing] == ["orders", "a", "b", "c"]
    assert all("count" in s for s in listing)


def test_admin_stats_and_reset(emu: TimeplusEmulator, http: requests.Session) -> None:
    post_compact(http, emu, ["id"], [[1]])
    stats = http.get(admin(emu, "/stats")).json()
    assert stats["streams"]["orders"]["count"] == 1
    assert stats["requests"] == {"stored": 1}
    assert stats["faults"]["down"] is False
    assert http.post(admin(emu, "/reset")).status_code == 200
    assert emu.count("orders") == 0


def test_admin_errors(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.get(admin(emu, "/streams/nope/rows")).status_code == 404
    assert http.get(admin(emu, "/streams/nope/count")).status_code == 404
    assert http.get(admin(emu, "/whatever")).status_code == 404
    assert http.post(admin(emu, "/streams"), data=b"{").status_code == 400


def test_admin_paths_are_not_timeplus_paths(emu: TimeplusEmulator, http: requests.Session) -> None:
    # The prefix must never shadow a route a client could use against real Timeplus.
    assert (
        http.post(f"{emu.url}/_emulator/api/v1beta2/streams/orders/ingest", data=compact(["id"], [[1]])).status_code
        == 404
    )
    assert emu.count("orders") == 0
    assert http.post(proton_url(emu), data=compact(["id"], [[1]])).status_code == 200


def test_repr_and_url(emu: TimeplusEmulator) -> None:
    assert emu.url == f"http://127.0.0.1:{emu.port}"
    assert "listening" in repr(emu)


def test_start_and_stop_are_idempotent() -> None:
    emulator = TimeplusEmulator()
    emulator.start()
    emulator.start()
    port = emulator.port
    emulator.stop()
    emulator.stop()
    assert "stopped" in repr(emulator)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/proton/ping", timeout=2)
