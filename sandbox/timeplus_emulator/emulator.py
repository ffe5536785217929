"""``TimeplusEmulator``: the object tests and the demo hold.

It wires the store, the journal, the fault plan and the listener together and gives
tests a Python API to read back what a client sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .auth import Auth
from .codes import StatusMap
from .faults import Faults
from .ingest import check_rows
from .listener import Listener
from .routes import Core
from .store import MAX_IDEMPOTENT_IDS, Column, Journal, RequestLog, Store, digest_rows
from .streams_file import read_streams_file
from .types import parse_type

BOUNDED_JOURNAL = 1000  # requests kept in bounded mode (counters cover the rest)


class TimeplusEmulator:
    """A Timeplus ingest endpoint on ``host:port`` (port 0: any free port), in this process."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: Auth | None = None,
        workspace: str = "default",
        bounded: bool = False,
        *,
        status_map: StatusMap = "legacy",
        streams_file: str | Path | None = None,
        max_idempotent_ids: int = MAX_IDEMPOTENT_IDS,
    ) -> None:
        self.auth = auth or Auth.none()
        self.workspace = workspace
        self.bounded = bounded
        self.store = Store(bounded=bounded, max_idempotent_ids=max_idempotent_ids)
        self.journal = Journal(limit=BOUNDED_JOURNAL if bounded else None)
        self.faults = Faults()
        self.core = Core(
            store=self.store,
            journal=self.journal,
            faults=self.faults,
            auth=self.auth,
            workspace=workspace,
            status_map=status_map,
        )
        self._listener = Listener(self.core, host, port)
        self.faults.attach(self._listener)
        self._started = False
        if streams_file is not None:
            self.load_streams(streams_file)

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> TimeplusEmulator:
        """Start listening; returns self."""
        if not self._started:
            self._listener.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop listening, cancel faults and close every connection."""
        if self._started:
            self.faults.cancel()
            self._listener.stop()
            self._started = False

    def __enter__(self) -> TimeplusEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        host = self._listener.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    # --- streams -------------------------------------------------------------------

    def create_stream(
        self, name: str, columns: Sequence[tuple[str, str]] | Mapping[str, str], *, if_not_exists: bool = False
    ) -> None:
        """Create ``name`` with (column, type) pairs; every stream also gets ``_tp_time``."""
        pairs = columns.items() if isinstance(columns, Mapping) else columns
        self.store.create(
            name, [Column(column, parse_type(type_name)) for column, type_name in pairs], if_not_exists=if_not_exists
        )

    def load_streams(self, path: str | Path) -> None:
        """Create every stream of a YAML/JSON streams file (see ``streams_file``)."""
        for name, columns in read_streams_file(path):
            self.store.create(name, columns)

    def streams(self) -> list[str]:
        """Names of the visible streams."""
        return [stream.name for stream in self.store.streams()]

    # --- read-back -----------------------------------------------------------------

    def rows(self, stream: str) -> list[dict[str, Any]]:
        """The rows stored in ``stream``, values as stored, ``_tp_time`` included."""
        return self.store.rows(stream)

    def count(self, stream: str) -> int:
        """How many rows ``stream`` holds (duplicates dropped by idempotency are not counted)."""
        return self.store.count(stream)

    def digest(self, stream: str) -> str:
        """An order- and batching-independent digest of the rows of ``stream`` (hex)."""
        return self.store.digest(stream)

    def digest_of(self, stream: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> str:
        """The digest ``stream`` would have after storing exactly these compact rows."""
        target = self.store.get(stream)
        batch = check_rows(target, list(columns), [list(row) for row in data])
        full = target.complete(batch.names, batch.values, batch.rows)
        return f"{digest_rows(target.digest_columns(batch.names, full)):016x}"

    def requests(self) -> list[RequestLog]:
        """Every request received so far (the last 1000 when bounded), admin calls excepted."""
        return self.journal.entries()

    def reset(self) -> None:
        """Drop rows, counts, idempotent ids and the journal; keep the streams and faults."""
        self.store.reset()
        self.journal.clear()

    def __repr__(self) -> str:
        state = "listening" if self._listener.listening else "stopped"
        return f"TimeplusEmulator({self.url}, {state}, auth={self.auth.kind}, bounded={self.bounded})"
