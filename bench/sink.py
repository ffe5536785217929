"""A cheap local ingest sink for the benchmark: counts rows, finds lost and duplicated ids.

It answers Proton's ingest route (``POST /proton/v1/ingest/streams/{stream}`` →
``200 {"request_id": ...}``, compact bodies) and the app server's
(``POST /{workspace}/api/v1beta1|v1beta2/streams/{stream}/ingest`` → ``200``, compact or, with
``Content-Type: application/x-ndjson``, NDJSON with one object per line) over HTTP/1.1
keep-alive and does as little as it can, because it shares the machine's cores with the
broker and the connector under test:

* each row's ``id`` column marks one byte of a bitmap, so lost and duplicated messages show;
* requests carrying an ``x-timeplus-idempotent-id`` are counted (``delivery: exactly_once``
  sends one with each), though a repeated id is not dropped: a benchmark has no replays;
* with latency on, each row's ``ts`` column (``YYYY-MM-DD hh:mm:ss.fff`` in UTC, set to the
  produce time by the benchmark) is subtracted from the time the request's body was parsed,
  which is the moment the sink acknowledges it: produce-to-ack latency.

Control routes: ``POST /_bench/reset`` with ``{"expected": N, "latency": bool}`` starts a
count over; ``GET /_bench/stats`` returns the counts. Run: ``python bench/sink.py [--port N]``;
it prints ``port=N`` once it listens.
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import re
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

INGEST_PREFIX = "/proton/v1/ingest/streams/"
APP_INGEST = re.compile(r"/[^/]+/api/v1beta[12]/streams/[^/]+/ingest")


class Counts:
    """What arrived since the last reset; one lock, taken once per request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset(0, latency=False)

    def reset(self, expected: int, *, latency: bool) -> None:
        with self.lock:
            self.seen = bytearray(expected)
            self.expected = expected
            self.latency = latency
            self.requests = 0
            self.requests_with_id = 0
            self.rows = 0
            self.body_bytes = 0
            self.unique = 0
            self.duplicates = 0
            self.out_of_range = 0
            self.latencies_ms: list[int] = []
            self._second_cache: dict[str, int] = {}
            self.cpu_at_reset = _cpu_seconds()

    def record(
        self, columns: list[str], data: list[list[Any]], body_bytes: int, acked_ms: int, *, with_id: bool
    ) -> None:
        k = columns.index("id")
        with self.lock:
            self.requests += 1
            self.requests_with_id += with_id
            self.rows += len(data)
            self.body_bytes += body_bytes
            seen, size, new = self.seen, len(self.seen), 0
            for row in data:
                i = row[k]
                if type(i) is not int or not 0 <= i < size:
                    self.out_of_range += 1
                elif seen[i]:
                    self.duplicates += 1
                else:
                    seen[i] = 1
                    new += 1
            self.unique += new
            if self.latency:
                t = columns.index("ts")
                self.latencies_ms.extend(acked_ms - self._epoch_ms(row[t]) for row in data)

    def _epoch_ms(self, text: str) -> int:
        second = self._second_cache.get(text[:19])
        if second is None:
            second = calendar.timegm(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S"))
            self._second_cache[text[:19]] = second
        return second * 1000 + int(text[20:23] or 0)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            lat = sorted(self.latencies_ms)
            return {
                "expected": self.expected,
                "requests": self.requests,
                "requests_with_id": self.requests_with_id,
                "rows": self.rows,
                "body_bytes": self.body_bytes,
                "unique": self.unique,
                "missing": self.expected - self.unique,
                "duplicates": self.duplicates,
                "out_of_range": self.out_of_range,
                "latency_ms": _percentiles(lat) if lat else None,
                "sink_cpu_s": _cpu_seconds() - self.cpu_at_reset,
            }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentiles(values: list[int]) -> dict[str, float]:
    def at(q: float) -> float:
        return float(values[min(len(values) - 1, int(q * len(values)))])

    return {"count": len(values), "p50": at(0.50), "p99": at(0.99), "max": float(values[-1])}


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Proton
    disable_nagle_algorithm = True  # small answers must not wait for a delayed ACK
    request_number = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith(INGEST_PREFIX) or APP_INGEST.fullmatch(self.path):
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.headers.get("Content-Type", "").startswith("application/x-ndjson"):
                # One object per line (strings escape newlines): a JSON array in one parse.
                events = orjson.loads(b"[" + b",".join(body.splitlines()) + b"]")
                columns, data = ["id", "ts"], [[event.get("id"), event.get("ts")] for event in events]
            else:
                payload = orjson.loads(body)
                columns, data = payload["columns"], payload["data"]
            with_id = bool(self.headers.get("x-timeplus-idempotent-id"))
            COUNTS.record(columns, data, len(body), int(time.time() * 1000), with_id=with_id)
            Handler.request_number += 1
            if self.path.startswith(INGEST_PREFIX):
                self._answer(200, b'{"request_id":"bench-%d"}' % Handler.request_number)
            else:
                self._answer(200, b"")
        elif self.path == "/_bench/reset":
            options = orjson.loads(body or b"{}")
            COUNTS.reset(int(options.get("expected", 0)), latency=bool(options.get("latency", False)))
            self._answer(200, b"{}")
        else:
            self._answer(404, b'{"error_msg":"not found","code":60}')

    def do_GET(self) -> None:
        if self.path == "/_bench/stats":
            self._answer(200, orjson.dumps(COUNTS.stats()))
        else:
            self._answer(404, b'{"error_msg":"not found"}')

    def _answer(self, status: int, body: bytes) -> None:
        # Status line, headers and body in one write, so the client reads the answer in one
        # receive (send_response + end_headers + write sent the body in a second packet).
        reason = self.responses[status][0].encode()
        head = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        self.wfile.write(head % (status, reason, len(body)) + body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one log line per request would cost more than the request


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/sink.py", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"port={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
