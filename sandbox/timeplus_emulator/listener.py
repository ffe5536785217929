"""The listening socket: start, stop, and the outage fault (close it, then reopen the same port)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from .routes import Core
from .server import Handler, current_connection

log = logging.getLogger(__name__)


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


class Listener:
    """Owns the listening socket: start, stop, and the outage fault (close and reopen)."""

    def __init__(self, core: Core, host: str, port: int) -> None:
        self.core = core
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            self._open()

    def _open(self) -> None:
        server = HTTPServer((self.host, self.port), self.core)
        self.port = server.server_address[1]  # port 0 -> the one the kernel chose; kept for outages
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"timeplus-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def go_down(self) -> None:
        """Close the listening socket (connection refused) and cut open connections."""
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.drop_connections(keep=getattr(current_connection, "sock", None))
        if thread is not None:
            thread.join()

    def come_up(self) -> None:
        """Listen again on the same port (retrying briefly if the kernel still holds it)."""
        with self._lock:
            if self._server is not None:
                return
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    self._open()
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()
        if thread is not None:
            thread.join()

    @property
    def listening(self) -> bool:
        return self._server is not None
