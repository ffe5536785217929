"""Streams, their rows, idempotent ids and the journal of received requests.

One lock guards all streams: an insert (idempotency check, rows, count, digest) is
atomic, as one Proton INSERT is. In bounded mode a stream keeps only its count and an
order-independent digest of its rows, so a benchmark can push millions of rows.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from . import codes
from .codes import ProtonError
from .types import TP_TIME, TP_TIME_TYPE, ColumnType, now_tp_time

MAX_IDEMPOTENT_IDS = 1000  # Proton's max_idempotent_ids default (docs.timeplus.com/idempotent)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Column:
    """A stream column: name and parsed type."""

    name: str
    type: ColumnType


@dataclass(frozen=True, slots=True)
class InsertResult:
    """What one insert did: rows stored, or nothing because the id was seen before."""

    rows: int
    duplicate: bool


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits (int128/int256 columns)
        return json.dumps(value, separators=(",", ":"), default=str).encode()


_NULL_HASH = 0x5BD1E995  # stands for null: hash(None) differs between processes


def _column_hashes(values: Sequence[Any]) -> Sequence[Any]:
    """One deterministic number per value: ints and floats as they are, text via crc32."""
    kinds = set(map(type, values))
    if kinds <= {int, bool} or (kinds <= {int, float} and all(v == v for v in values)):
        return values  # hash(int/float) is deterministic; hash(nan) is not, hence the check
    if kinds == {str}:
        return list(map(zlib.crc32, map(str.encode, values)))
    return [_value_hash(value) for value in values]


def _value_hash(value: Any) -> int:
    if value is None:
        return _NULL_HASH
    if type(value) is str:
        return zlib.crc32(value.encode())
    if type(value) in (int, bool) or (type(value) is float and not math.isnan(value)):
        return hash(value)
    return zlib.crc32(_dumps(value))  # arrays, maps, tuples, json, nan


def digest_rows(columns: Sequence[Sequence[Any]]) -> int:
    """A multiset digest of the rows: independent of order and of batch boundaries.

    Each row hashes to the (deterministic) tuple hash of its values' numbers, and the
    row hashes are summed mod 2**64: a lost or a duplicated row changes the sum.
    Everything runs in C (map, zip, crc32), which matters for benchmarks.
    """
    per_column = [_column_hashes(values) for values in columns]
    return sum(map(hash, zip(*per_column, strict=True))) & _MASK64


def add_digests(first: int, second: int) -> int:
    """Combine the digests of two sets of rows."""
    return (first + second) & _MASK64


class Stream:
    """One stream: typed columns (``_tp_time`` last), rows or count+digest, recent ids."""

    def __init__(self, name: str, columns: Sequence[Column], *, bounded: bool, visible_at: float) -> None:
        self.name = name
        self.columns = [c for c in columns if c.name != TP_TIME] + [Column(TP_TIME, TP_TIME_TYPE)]
        self.by_name = {c.name: c for c in self.columns}
        # orjson reads integers beyond 64 bits as floats: such streams need an exact parser.
        self.wide_ints = any("int128" in c.type.name or "int256" in c.type.name for c in self.columns)
        self.bounded = bounded
        self.visible_at = visible_at
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self.digest = 0
        self._ids: deque[str] = deque()
        self._id_set: set[str] = set()

    def seen(self, idempotent_id: str) -> bool:
        """Whether ``idempotent_id`` is among this stream's last MAX_IDEMPOTENT_IDS ids."""
        return idempotent_id in self._id_set

    def remember(self, idempotent_id: str, limit: int) -> None:
        self._ids.append(idempotent_id)
        self._id_set.add(idempotent_id)
        while len(self._ids) > limit:
            self._id_set.discard(self._ids.popleft())

    def complete(self, names: Sequence[str], values: Sequence[Sequence[Any]], n: int) -> list[Sequence[Any]]:
        """All columns in stream order: given values, defaults for the rest, now for _tp_time."""
        given = dict(zip(names, values, strict=True))
        full: list[Sequence[Any]] = []
        for column in self.columns:
            if column.name in given:
                full.append(given[column.name])
            elif column.name == TP_TIME:
                full.append([now_tp_time()] * n)
            else:
                default = column.type.default
                value = default()
                # One shared immutable default; lists and dicts must not be shared by rows.
                full.append([default() for _ in range(n)] if isinstance(value, list | dict) else [value] * n)
        return full

    def digest_columns(self, names: Sequence[str], full: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """The columns a digest covers: all but ``_tp_time``, unless the client sent it."""
        if TP_TIME in names:
            return list(full)
        return [values for column, values in zip(self.columns, full, strict=True) if column.name != TP_TIME]

    def describe(self) -> dict[str, Any]:
        """The stream as Proton's ``GET /proton/v1/ddl/streams`` lists it."""
        columns = []
        for column in self.columns:
            column_type = column.type
            nullable = column_type.nullable and column_type.name.startswith("nullable(")
            type_name = column_type.name[len("nullable(") : -1] if nullable else column_type.name
            columns.append({"name": column.name, "type": type_name, "nullable": nullable})
        return {"name": self.name, "columns": columns}


class Store:
    """All streams of the emulator, guarded by one lock."""

    def __init__(self, *, bounded: bool = False, max_idempotent_ids: int = MAX_IDEMPOTENT_IDS) -> None:
        self.bounded = bounded
        self.max_idempotent_ids = max_idempotent_ids
        self._lock = threading.Lock()
        self._streams: dict[str, Stream] = {}

    def create(self, name: str, columns: Sequence[Column], *, if_not_exists: bool = False, delay: float = 0.0) -> bool:
        """Create a stream; False if it exists and ``if_not_exists``; ProtonError(57) otherwise."""
        seen: set[str] = set()
        for column in columns:
            if column.name in seen:
                raise ProtonError(codes.DUPLICATE_COLUMN, f"Column {column.name} already exists")
            seen.add(column.name)
        with self._lock:
            if name in self._streams:
                if if_not_exists:
                    return False
                raise ProtonError(codes.STREAM_ALREADY_EXISTS, f"Stream default.{name} already exists")
            visible_at = time.monotonic() + delay
            self._streams[name] = Stream(name, columns, bounded=self.bounded, visible_at=visible_at)
            return True

    def find(self, name: str) -> Stream | None:
        """The stream, if it exists and is visible; no error."""
        try:
            return self.get(name)
        except ProtonError:
            return None

    def get(self, name: str) -> Stream:
        """A visible stream, or ProtonError(60) as Proton answers for an unknown stream."""
        with self._lock:
            stream = self._streams.get(name)
        if stream is None or stream.visible_at > time.monotonic():
            raise ProtonError(codes.UNKNOWN_STREAM, f"Stream default.{name} doesn't exist")
        return stream

    def streams(self) -> list[Stream]:
        """Every visible stream, in creation order."""
        now = time.monotonic()
        with self._lock:
            return [s for s in self._streams.values() if s.visible_at <= now]

    def insert(
        self, stream: Stream, names: Sequence[str], values: Sequence[Sequence[Any]], n: int, idempotent_id: str | None
    ) -> InsertResult:
        """Store ``n`` rows given column-wise, unless ``idempotent_id`` was seen (Proton dedup)."""
        full = stream.complete(names, values, n)
        digest = digest_rows(stream.digest_columns(names, full))
        rows = None
        if not self.bounded:
            order = [c.name for c in stream.columns]
            rows = [dict(zip(order, row, strict=True)) for row in zip(*full, strict=True)]
        with self._lock:
            if idempotent_id:
                if stream.seen(idempotent_id):
                    return InsertResult(0, True)
                stream.remember(idempotent_id, self.max_idempotent_ids)
            if rows is not None:
                stream.rows.extend(rows)
            stream.count += n
            stream.digest = add_digests(stream.digest, digest)
        return InsertResult(n, False)

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Copies of the stored rows of ``name``."""
        if self.bounded:
            raise RuntimeError("the emulator runs bounded: it keeps counts and digests, not rows")
        with self._lock:
            return [dict(row) for row in self._stream(name).rows]

    def count(self, name: str) -> int:
        with self._lock:
            return self._stream(name).count

    def digest(self, name: str) -> str:
        with self._lock:
            return f"{self._stream(name).digest:016x}"

    def _stream(self, name: str) -> Stream:
        try:
            return self._streams[name]
        except KeyError:
            raise KeyError(f"no stream named {name!r}") from None

    def reset(self) -> None:
        """Drop rows, counts, digests and idempotent ids; keep the streams."""
        with self._lock:
            for stream in self._streams.values():
                stream.rows = []
                stream.count = 0
                stream.digest = 0
                stream._ids.clear()
                stream._id_set.clear()


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One request as the emulator saw it (credentials redacted)."""

    method: str
    path: str
    headers: dict[str, str]
    body_size: int  # bytes on the wire, before gunzip
    status: int | None  # None: the connection was dropped without an answer
    code: int | None  # Proton error code of the answer, if any
    rows: int  # rows newly stored by this request
    stream: str | None
    outcome: str  # stored, duplicate, rejected, failed_on_demand, dropped, slow_ack, ok, error
    idempotent_id: str | None
    received_at: float  # time.time() when the headers were read
    duration: float  # seconds until the answer was written

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """The received requests: all of them, or the last ``limit`` plus counters when bounded."""

    def __init__(self, *, limit: int | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RequestLog] = deque(maxlen=limit)
        self.by_outcome: Counter[str] = Counter()

    def add(self, entry: RequestLog) -> None:
        with self._lock:
            self._entries.append(entry)
            self.by_outcome[entry.outcome] += 1

    def entries(self) -> list[RequestLog]:
        with self._lock:
            return list(self._entries)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self.by_outcome)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.by_outcome.clear()


def columns_from(spec: Iterable[tuple[str, ColumnType]]) -> list[Column]:
    """Columns from (name, parsed type) pairs."""
    return [Column(name, column_type) for name, column_type in spec]
