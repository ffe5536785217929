"""``run --http ADDR``: serves ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` on a thread.

``/healthz`` answers 200 while the consumer loop goes round; ``/readyz`` answers 200 while
partitions are assigned (or the group is settling) and Timeplus answers, 503 with the
reasons otherwise. The server shares nothing with the pipeline but the metrics object.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connector.config import parse_listen
from connector.errors import FatalError
from connector.metrics import PrometheusMetrics

log = logging.getLogger(__name__)


class StatusServer:
    """A small HTTP server for Prometheus and for liveness and readiness probes."""

    def __init__(self, listen: str, metrics: PrometheusMetrics) -> None:
        host, port = parse_listen(listen)
        handler = type("Handler", (_Handler,), {"metrics": metrics})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise FatalError(f"http: cannot listen on {listen}: {exc.strerror}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="status-http", daemon=True)

    @property
    def address(self) -> str:
        """``host:port`` the server listens on (the port the OS chose when asked for 0)."""
        host, port = self._server.server_address[:2]
        return f"{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> None:
        """Serve on a daemon thread."""
        self._thread.start()
        log.info("serving /metrics, /healthz and /readyz on http://%s", self.address)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    metrics: PrometheusMetrics
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            alive, why = self.metrics.alive()
            self._answer(200 if alive else 503, f"{why}\n".encode())
        elif path == "/readyz":
            ready, reasons = self.metrics.ready()
            self._answer(200 if ready else 503, ("ready" if ready else "; ".join(reasons)).encode() + b"\n")
        else:
            self._answer(404, b"not found: try /metrics, /healthz or /readyz\n")

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes come every few seconds: keep them out of the connector's log."""
