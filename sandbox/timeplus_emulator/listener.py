"""The listening socket: start, stop, and the outage fault (close it, then reopen the same port)."""

from __future__ import annotations

import logging
import threading
import time

from .routes import Core
from .server import HTTPServer, current_connection

log = logging.getLogger(__name__)


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
