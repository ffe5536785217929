"""x-timeplus-idempotent-id: a request whose id is among the stream's last ids is accepted, not stored again."""

from __future__ import annotations

import threading

import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from sandbox.timeplus_emulator.store import MAX_IDEMPOTENT_IDS
from tests.support.emulator_http import ORDERS, compact, post_compact, proton_url


def send(
    http: requests.Session,
    emu: TimeplusEmulator,
    idempotent_id: str,
    rows: int = 2,
    header: str = "x-timeplus-idempotent-id",
    stream: str = "orders",
) -> requests.Response:
    data = [[i, f"n{i}"] for i in range(rows)]
    return http.post(proton_url(emu, stream), data=compact(["id", "name"], data), headers={header: idempotent_id})


def test_a_repeated_id_is_accepted_and_not_stored(emu: TimeplusEmulator, http: requests.Session) -> None:
    first, second = send(http, emu, "t-0-0-1"), send(http, emu, "t-0-0-1")
    assert first.status_code == second.status_code == 200
    assert emu.count("orders") == 2
    logs = emu.requests()
    assert [(r.outcome, r.rows, r.idempotent_id) for r in logs] == [
        ("stored", 2, "t-0-0-1"),
        ("duplicate", 0, "t-0-0-1"),
    ]


def test_proton_header_name_shares_the_id_space(emu: TimeplusEmulator, http: requests.Session) -> None:
    send(http, emu, "a", header="x-timeplus-idempotent-id")
    send(http, emu, "a", header="x-proton-idempotent-id")
    send(http, emu, "b", header="x-proton-idempotent-id")
    assert emu.count("orders") == 4


def test_different_ids_are_all_stored(emu: TimeplusEmulator, http: requests.Session) -> None:
    for i in range(5):
        send(http, emu, f"id-{i}")
    assert emu.count("orders") == 10


def test_ids_are_per_stream(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.create_stream("other", ORDERS)
    send(http, emu, "same")
    send(http, emu, "same", stream="other")
    assert emu.count("orders") == emu.count("other") == 2


def test_without_an_id_every_request_is_stored(emu: TimeplusEmulator, http: requests.Session) -> None:
    post_compact(http, emu, ["id"], [[1]])
    post_compact(http, emu, ["id"], [[1]])
    send(http, emu, "")  # an empty header is no id
    send(http, emu, "")
    assert emu.count("orders") == 6


def test_only_the_last_ids_are_remembered(http: requests.Session) -> None:
    with TimeplusEmulator(max_idempotent_ids=3) as emulator:
        emulator.create_stream("orders", ORDERS)
        for name in "abcd":
            send(http, emulator, name, rows=1)
        send(http, emulator, "d", rows=1)  # still remembered
        send(http, emulator, "b", rows=1)  # still remembered (b, c, d)
        send(http, emulator, "a", rows=1)  # evicted by d: stored again
        assert emulator.count("orders") == 5


def test_the_default_window_is_1000_ids(emu: TimeplusEmulator) -> None:
    stream = emu.store.get("orders")
    for i in range(MAX_IDEMPOTENT_IDS):
        emu.store.insert(stream, ["id"], [[i]], 1, f"id-{i}")
    assert emu.store.insert(stream, ["id"], [[0]], 1, "id-0").duplicate
    emu.store.insert(stream, ["id"], [[0]], 1, "id-new")  # pushes id-0 out
    assert not emu.store.insert(stream, ["id"], [[0]], 1, "id-0").duplicate
    assert emu.store.insert(stream, ["id"], [[0]], 1, "id-999").duplicate
    assert MAX_IDEMPOTENT_IDS == 1000


def test_a_rejected_request_does_not_burn_its_id(emu: TimeplusEmulator, http: requests.Session) -> None:
    bad = http.post(proton_url(emu), data=compact(["id"], [["x"]]), headers={"x-timeplus-idempotent-id": "k"})
    assert bad.status_code == 400
    good = http.post(proton_url(emu), data=compact(["id"], [[1]]), headers={"x-timeplus-idempotent-id": "k"})
    assert good.status_code == 200
    assert emu.count("orders") == 1


def test_concurrent_requests_with_one_id_store_once(emu: TimeplusEmulator) -> None:
    start = threading.Barrier(8)
    statuses: list[int] = []

    def worker() -> None:
        with requests.Session() as session:
            start.wait()
            statuses.append(send(session, emu, "racing", rows=10).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert emu.count("orders") == 10
    assert sorted(r.outcome for r in emu.requests()) == ["duplicate"] * 7 + ["stored"]


def test_reset_forgets_ids(emu: TimeplusEmulator, http: requests.Session) -> None:
    send(http, emu, "x")
    emu.reset()
    send(http, emu, "x")
    assert emu.count("orders") == 2
