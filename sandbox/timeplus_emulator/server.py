"""The HTTP side: a threaded HTTP/1.1 keep-alive server that knows its connections, faults applied at the socket.

``routes.Core`` decides what an answer says; this module reads bodies (Content-Length
or chunked), applies the planned fault (drop the connection, fail, answer late),
writes the answer with a correct Content-Length, and journals the request.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from .admin import handle_admin
from .auth import redact
from .faults import FaultAction
from .routes import Core, Request, Response, classify, idempotent_id, json_body
from .store import RequestLog

log = logging.getLogger(__name__)

_INGEST_KINDS = ("proton_ingest", "app_ingest")
current_connection = threading.local()  # .sock: the socket this handler thread serves


class _BodyLost(Exception):
    """The client went away before sending its whole body."""


class Handler(BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 requests in a loop until the client or a fault closes it."""

    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    server_version = "TimeplusEmulator/1.0"
    sys_version = ""
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        # Answers go out in one write; without NODELAY a client's delayed ACK costs 40 ms.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        current_connection.sock = self.connection
        try:
            super().handle()
        except OSError:  # the peer vanished, or an outage cut the socket
            self.close_connection = True
        finally:
            current_connection.sock = None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # --- one request -------------------------------------------------------------------

    def _serve(self) -> None:
        core = self.server.core
        received_at, started = time.time(), time.monotonic()
        headers = self._headers()
        kind = classify(self.command, self.path)
        if kind == "admin":
            self._serve_admin(core, headers)
            return
        latency = core.faults.latency()
        if latency:
            time.sleep(latency)
        action = core.faults.next_ingest_action() if kind in _INGEST_KINDS else None
        if action is not None and action.kind == "drop":
            size = self._drop()
            self._journal(core, received_at, started, headers, size, None, _stream_of(self.path))
            return
        try:
            body = self._read_body()
        except _BodyLost:
            self.close_connection = True
            return
        except ValueError as exc:
            self.close_connection = True
            self._send(Response(400, f"{exc}\n".encode(), content_type="text/plain; charset=UTF-8"))
            return
        request = Request(self.command, self.path, headers, body)
        if action is not None and action.kind == "fail":
            response = _failure(action, kind, request.request_id())
        else:
            response = self._route(core, kind, request)
        if kind in _INGEST_KINDS and response.status >= 400 and response.outcome != "failed_on_demand":
            response.outcome = "rejected"
        delay = None
        if action is not None and action.kind == "slow_ack" and response.status < 300:
            response.outcome, delay = "slow_ack", action.delay
        stream = response.stream or (_stream_of(self.path) if kind in _INGEST_KINDS else None)
        self._journal(core, received_at, started, headers, len(body), response, stream)
        if delay is not None:
            time.sleep(delay)  # the rows are stored; the client may have given up by now
        self._send(response)

    def _route(self, core: Core, kind: str, request: Request) -> Response:
        try:
            if kind in ("proton_ingest", "proton"):
                return core.proton(request)
            if kind in ("app_ingest", "app"):
                return core.app(request)
            if kind == "sql":
                return core.sql(request)
            return Response(
                404,
                f"There is no handle {request.path}\n\nUse / or /ping for health checks.\n".encode(),
                content_type="text/plain; charset=UTF-8",
                outcome="error",
            )
        except Exception as exc:  # a bug in the emulator: say so loudly, never pretend success
            log.exception("the Timeplus emulator failed on %s %s", request.method, request.uri)
            return Response(
                500, f"emulator internal error: {exc!r}\n".encode(), content_type="text/plain", outcome="error"
            )

    def _serve_admin(self, core: Core, headers: dict[str, str]) -> None:
        try:
            body = self._read_body()
        except (_BodyLost, ValueError):
            self.close_connection = True
            return
        response = handle_admin(core, Request(self.command, self.path, headers, body))
        if core.faults.is_down:  # this request started an outage: its connection goes too
            self.close_connection = True
        self._send(response)

    # --- reading and writing -----------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return merged

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        if not length_text.strip().isdigit():
            raise ValueError(f"bad Content-Length {length_text!r}")
        length = int(length_text)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BodyLost
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise _BodyLost
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ValueError(f"bad chunk size {size_text!r}") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BodyLost
            parts.append(chunk)
            self.rfile.readline(3)  # CRLF after the chunk

    def _drop(self) -> int:
        """Read half the body, then reset the connection without answering."""
        length_text = self.headers.get("Content-Length", "0").strip()
        half = int(length_text) // 2 if length_text.isdigit() else 0
        got = len(self.rfile.read(half)) if half else 0
        self.close_connection = True
        try:
            # SO_LINGER 0: close() sends RST, as a crashed server or a cut network does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        return got

    def _send(self, response: Response) -> None:
        """Write status line, headers and body in one write (two writes meet delayed ACKs)."""
        phrase = self.responses.get(response.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {response.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers.items()),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.log_request(response.status)
        try:
            self.wfile.write(head if self.command == "HEAD" else head + response.body)
        except OSError:  # the client gave up (slow ack) or the socket was cut (outage)
            self.close_connection = True

    def _journal(
        self,
        core: Core,
        received_at: float,
        started: float,
        headers: dict[str, str],
        body_size: int,
        response: Response | None,
        stream: str | None,
    ) -> None:
        """Record the request; ``response`` None means the connection was dropped unanswered."""
        core.journal.add(
            RequestLog(
                method=self.command,
                path=self.path,
                headers={name: redact(name, value) for name, value in self.headers.items()},
                body_size=body_size,
                status=response.status if response else None,
                code=response.code if response else None,
                rows=response.rows if response else 0,
                stream=stream,
                outcome=response.outcome if response else "dropped",
                idempotent_id=idempotent_id(headers),
                received_at=received_at,
                duration=time.monotonic() - started,
            )
        )


class HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections, so an outage can cut them."""

    daemon_threads = True
    allow_reuse_address = True  # reopen the same port right after an outage
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], core: Core) -> None:
        self.core = core
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self, keep: socket.socket | None = None) -> None:
        """Cut every open connection but ``keep`` (the admin request that asked for it)."""
        with self._connections_lock:
            victims = [s for s in self._connections if s is not keep]
        for sock in victims:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def _failure(action: FaultAction, kind: str, request_id: str) -> Response:
    """The answer of a ``fail_next`` fault: a Proton/app-server error, or a proxy's text."""
    message = action.message or f"emulated fault: HTTP {action.status}"
    headers = {"Retry-After": str(action.retry_after)} if action.retry_after is not None else {}
    if action.code is None:
        body, content_type = f"{message}\n".encode(), "text/plain; charset=UTF-8"
    elif kind == "proton_ingest":
        headers["x-timeplus-exception-code"] = str(action.code)
        body, content_type = (
            json_body({"error_msg": message, "code": action.code, "request_id": request_id}) + b"\n",
            "application/json; charset=UTF-8",
        )
    else:
        body, content_type = json_body({"code": action.code, "message": message}), "application/json; charset=UTF-8"
    return Response(action.status, body, content_type, headers, code=action.code, outcome="failed_on_demand")


def _stream_of(uri: str) -> str | None:
    path = uri.partition("?")[0]
    parts = path.split("/")
    if len(parts) >= 6 and parts[2] == "v1" and parts[3] == "ingest":
        return unquote(parts[5])
    if len(parts) >= 6 and parts[-1] == "ingest":
        return unquote(parts[-2])
    return None
