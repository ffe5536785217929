"""Many clients at once: every row lands exactly once."""

from __future__ import annotations

import threading

import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import compact, proton_url


def test_concurrent_clients(emu: TimeplusEmulator) -> None:
    threads, per_thread, rows = 8, 25, 40
    errors: list[str] = []

    def client(worker: int) -> None:
        with requests.Session() as session:
            for batch in range(per_thread):
                first = (worker * per_thread + batch) * rows
                data = [[first + i, f"w{worker}"] for i in range(rows)]
                response = session.post(proton_url(emu), data=compact(["id", "name"], data), timeout=30)
                if response.status_code != 200:
                    errors.append(response.text)

    workers = [threading.Thread(target=client, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    total = threads * per_thread * rows
    assert emu.count("orders") == total
    assert sorted(r["id"] for r in emu.rows("orders")) == list(range(total))
    assert len(emu.requests()) == threads * per_thread
