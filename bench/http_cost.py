"""What one ingest request costs the consumer thread, by HTTP client.

The connector's consumer thread maps messages while delivery threads POST batches; every
time a delivery thread takes the GIL, the consumer waits. This posts ``--requests`` bodies
of ``--rows`` realistic rows to ``bench/sink.py`` from a second thread, with the
connector's ``TimeplusClient`` (urllib3), with a plain ``requests.Session`` (what the client
used before), with urllib3 alone and with http.client, while the main thread runs a busy
Python loop, and prints per request:

* the wall time the busy thread lost (wall time minus its CPU time), which is what a
  request costs the consumer in the running connector;
* the posting thread's CPU time.

    .venv/bin/python -m bench.http_cost [--rows N] [--requests N] [--repeats N]

It measures and prints; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import requests
import urllib3

from bench.bench import values_of
from connector.config import TimeplusConfig
from connector.timeplus import TimeplusClient

HERE = Path(__file__).resolve().parent
PATH = "/proton/v1/ingest/streams/bench"


def body_of(rows: int) -> bytes:
    """A compact body of the realistic workload's first ``rows`` events (as decoded JSON)."""
    value_of = values_of("realistic")
    events = [orjson.loads(value_of(i)) for i in range(rows)]
    columns = list(events[0])
    return orjson.dumps({"columns": columns, "data": [[e[c] for c in columns] for e in events]})


def clients(port: int, body: bytes, count: int) -> dict[str, Callable[[], None]]:
    connector = TimeplusClient(TimeplusConfig(url=f"http://127.0.0.1:{port}"))
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, timeout=urllib3.Timeout(5, 60), retries=False)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    session = requests.Session()
    headers = {"Content-Type": "application/json"}

    def via_connector() -> None:
        for _ in range(count):
            connector.ingest("bench", body)

    def via_requests() -> None:
        for _ in range(count):
            session.post(
                f"http://127.0.0.1:{port}{PATH}", data=body, headers=headers, timeout=(5, 60)
            ).raise_for_status()

    def via_urllib3() -> None:
        for _ in range(count):
            pool.urlopen("POST", PATH, body=body, headers=headers).read()

    def via_http_client() -> None:
        for _ in range(count):
            connection.request("POST", PATH, body=body, headers=headers)
            connection.getresponse().read()

    return {
        "TimeplusClient (urllib3)": via_connector,
        "requests.Session": via_requests,
        "urllib3 alone": via_urllib3,
        "http.client": via_http_client,
    }


def measure(post: Callable[[], None], requests: int) -> tuple[float, float]:
    """(ms the busy thread lost, ms of the posting thread's CPU) per request."""
    stop = threading.Event()
    busy_cpu: list[float] = []
    post_cpu: list[float] = []

    def busy() -> None:
        start, n = time.thread_time(), 0
        while not stop.is_set():
            for _ in range(1000):
                n += 1
        busy_cpu.append(time.thread_time() - start)

    def poster() -> None:
        start = time.thread_time()
        post()
        post_cpu.append(time.thread_time() - start)

    busy_thread, post_thread = threading.Thread(target=busy), threading.Thread(target=poster)
    began = time.perf_counter()
    busy_thread.start()
    post_thread.start()
    post_thread.join()
    stop.set()
    busy_thread.join()
    wall = time.perf_counter() - began
    return (wall - busy_cpu[0]) / requests * 1000, post_cpu[0] / requests * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="rows per body (default 10,000, batch.max_rows)")
    parser.add_argument("--requests", type=int, default=40, help="requests per measurement (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per client (default 3)")
    args = parser.parse_args(argv)
    sink = subprocess.Popen([sys.executable, str(HERE / "sink.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline().split("=")[1])
        body = body_of(args.rows)
        print(f"{args.rows:,} rows, {len(body):,} bytes per body; ms per request (each repeat)")
        for name, post in clients(port, body, args.requests).items():
            results = [measure(post, args.requests) for _ in range(args.repeats)]
            lost = " ".join(f"{r[0]:.2f}" for r in results)
            cpu = " ".join(f"{r[1]:.2f}" for r in results)
            print(f"{name:27s} busy thread lost {lost}; posting thread CPU {cpu}")
    finally:
        sink.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
