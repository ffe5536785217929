"""Exactly-once delivery: requests whose bounds a replay rebuilds, and the commit metadata that records them.

The argument is in docs/EXACTLY_ONCE.md. In short: per (stream, partition) a request
covers offsets ``first..last`` and carries an id derived only from them and the mapping;
it ends at the end of its aligned offset window, or at a cut that linger forced, which
is recorded in the partition's commit metadata before the request is sent. A replay
from the committed offset and its metadata therefore cuts every request that may have
reached Timeplus at the same offsets, and Timeplus drops the repeats by their ids.

Pure: no Kafka, no HTTP. ``PartitionCuts`` is one partition's state (encoded into and
decoded from commit metadata); ``Cutter`` cuts one stream's rows of that partition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from connector.config import MappingConfig

#: Metadata past this many bytes makes no new recorded cut (the broker's
#: ``offset.metadata.max.bytes`` defaults to 4096).
MAX_METADATA_BYTES: Final = 3000
_VERSION: Final = 1


def fingerprint(mapping: MappingConfig) -> str:
    """A short hash of everything that decides a mapping's rows: a changed mapping gets other ids."""
    parts = [mapping.stream, mapping.format]
    for column in mapping.columns:
        parts.append(
            "|".join(
                (
                    column.name,
                    column.kind.value,
                    ".".join(column.path),
                    str(column.type) if column.type is not None else "",
                    str(column.type.unit) if column.type is not None else "",
                    repr(column.constant),
                    repr(column.default),
                )
            )
        )
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=6).hexdigest()


def stream_fingerprint(mappings: Sequence[MappingConfig]) -> str:
    """The fingerprint of the rows a stream gets from one topic: its mapping's, or all of them together."""
    if len(mappings) == 1:
        return fingerprint(mappings[0])
    joined = "+".join(fingerprint(m) for m in mappings)
    return hashlib.blake2b(joined.encode(), digest_size=6).hexdigest()


def request_id(print_: str, topic: str, partition: int, first: int, last: int) -> str:
    """The idempotent id of the request of offsets ``first..last`` (a body part appends ``/start-stop``)."""
    return f"kt1-{print_}-{topic}-{partition}-{first}-{last}"


def window_end(first: int, window: int) -> int:
    """The last offset of the aligned window holding ``first``."""
    return (first // window + 1) * window - 1


@dataclass(slots=True)
class StreamCursor:
    """One stream's place in a partition: where its next unaccepted request starts, and the cuts recorded since."""

    fingerprint: str
    next: int
    cuts: list[int] = field(default_factory=list)
    #: Accepted requests past ``next`` (first → last), waiting for the ones before them.
    accepted: dict[int, int] = field(default_factory=dict)
    #: A cut was recorded that no commit holds yet: every request from it on waits for one.
    unconfirmed: bool = False


class PartitionCuts:
    """What one partition's commit metadata holds for exactly-once: per stream, ``next`` and its cuts."""

    def __init__(self, window: int, committed: int, fingerprints: Mapping[str, str], *, horizon: int = 0) -> None:
        self.window = window
        #: The partition's end offset when it was assigned: an earlier owner read nothing past it.
        self.horizon = horizon
        self._cursors = {stream: StreamCursor(print_, committed) for stream, print_ in fingerprints.items()}

    @classmethod
    def restore(
        cls, metadata: str | None, window: int, committed: int, fingerprints: Mapping[str, str], *, horizon: int
    ) -> tuple[PartitionCuts, list[str]]:
        """The state an owner starts from at assignment; also what it could not trust.

        ``horizon`` is the partition's end offset at assignment (what an earlier owner
        could have read at most); no cut is made before the position reaches it.
        """
        cuts = cls(window, committed, fingerprints, horizon=horizon)
        problems: list[str] = []
        if not metadata:
            return cuts, problems
        recorded = _decode(metadata)
        if recorded is None:
            problems.append("commit metadata is not the connector's; starting from the committed offset")
            return cuts, problems
        for stream, cursor in cuts._cursors.items():
            if stream not in recorded:
                continue
            print_, next_, stream_cuts = recorded[stream]
            if print_ != cursor.fingerprint:
                problems.append(
                    f"the mapping of stream {stream} changed since offset {committed} was committed: "
                    f"requests sent since then are sent again under new ids"
                )
                continue
            cursor.next = max(committed, next_)
            cursor.cuts = sorted(c for c in stream_cuts if c >= cursor.next)
        return cuts, problems

    def start(self, stream: str) -> int:
        """Where the stream's first request not known to be accepted starts; rows below it were accepted."""
        return self._cursors[stream].next

    def lowest_start(self) -> int:
        """The lowest ``next`` of the streams: the committed offset may not pass it."""
        return min(cursor.next for cursor in self._cursors.values())

    def end_of(self, stream: str, first: int) -> int:
        """Where the request of ``stream`` starting at ``first`` ends: its window's end or the first cut past it."""
        end = window_end(first, self.window)
        for cut in self._cursors[stream].cuts:
            if cut >= first:
                return min(cut, end)
        return end

    def cuts_of(self, stream: str) -> list[int]:
        """The recorded cuts of ``stream`` not yet below its ``next``, in order."""
        return self._cursors[stream].cuts

    def may_cut(self, position: int) -> bool:
        """Whether a cut timing decides may be made at ``position``.

        Not before the horizon: an earlier owner may have sent a request that ends at a
        window end past this position, and a cut inside it would send its rows again
        under another id. Nor when the metadata has no room for another cut.
        """
        return position >= self.horizon and len(self.metadata()) < MAX_METADATA_BYTES

    def record(self, stream: str, last: int) -> None:
        """A cut that timing decided: the request of ``stream`` ends at ``last``. Commit before sending it."""
        cursor = self._cursors[stream]
        cuts = cursor.cuts
        if not cuts or cuts[-1] < last:
            cuts.append(last)
            cursor.unconfirmed = True
        elif last not in cuts:
            raise ValueError(f"cut at {last} recorded out of order (last cut {cuts[-1]})")

    def unconfirmed(self, stream: str) -> bool:
        """Whether ``stream`` has a recorded cut that no successful commit holds yet.

        Until one does, no request of the stream may be sent, not only the one the cut
        ends: a replay from the metadata committed before would not cut there, and would
        rebuild the request after it (ending at its window end) with other bounds.
        """
        return self._cursors[stream].unconfirmed

    def confirmed(self) -> None:
        """A synchronous commit of ``metadata()`` succeeded: it holds every cut recorded so far."""
        for cursor in self._cursors.values():
            cursor.unconfirmed = False

    def accepted(self, stream: str, first: int, last: int) -> None:
        """Request ``first..last`` of ``stream`` was accepted (or had no rows): advance ``next`` if contiguous."""
        cursor = self._cursors[stream]
        if first < cursor.next:
            return
        cursor.accepted[first] = last
        while cursor.next in cursor.accepted:
            cursor.next = cursor.accepted.pop(cursor.next) + 1
        if cursor.cuts and cursor.cuts[0] < cursor.next:
            cursor.cuts = [c for c in cursor.cuts if c >= cursor.next]

    def metadata(self) -> str:
        """The commit metadata for this partition: every stream's fingerprint, ``next`` and cuts."""
        streams = {s: [c.fingerprint, c.next, c.cuts] for s, c in self._cursors.items()}
        return orjson.dumps({"v": _VERSION, "s": streams}).decode()


def _decode(metadata: str) -> dict[str, tuple[str, int, list[int]]] | None:
    try:
        document: Any = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or document.get("v") != _VERSION or not isinstance(document.get("s"), dict):
        return None
    streams: dict[str, tuple[str, int, list[int]]] = {}
    for stream, entry in document["s"].items():
        match entry:
            case [str(print_), int(next_), list(cuts)] if all(isinstance(c, int) for c in cuts):
                streams[stream] = (print_, next_, cuts)
            case _:
                return None
    return streams


@dataclass(frozen=True, slots=True)
class Request:
    """Rows of one stream from one partition, offsets ``first..last``; ``rows`` are (offset, row)."""

    stream: str
    first: int
    last: int
    rows: tuple[tuple[int, Any], ...]
    #: True when the request ends at a cut timing decided, or follows one no commit holds yet:
    #: send it only after a commit holds that cut (``PartitionCuts.confirmed``).
    recorded: bool = False


class Cutter:
    """Cuts one stream's rows of one partition into requests at the offsets ``PartitionCuts`` decides."""

    def __init__(self, cuts: PartitionCuts, stream: str) -> None:
        self._cuts = cuts
        self.stream = stream
        self.first = cuts.start(stream)
        self._end = cuts.end_of(stream, self.first)
        self._rows: list[tuple[int, Any]] = []

    def add(self, offset: int, row: Any) -> list[Request]:
        """A row read at ``offset``; the requests it completes. Rows below the start were accepted already."""
        if offset < self.first:
            return []
        done = self.passed(offset) if offset > self._end else []
        self._rows.append((offset, row))
        return done

    @property
    def end(self) -> int:
        """The last offset the open request may hold."""
        return self._end

    def extend(self, rows: list[tuple[int, Any]]) -> None:
        """Rows (offset, row) in offset order, all within ``first..end``: ``add`` for a run, without its checks."""
        self._rows.extend(rows)

    def passed(self, position: int) -> list[Request]:
        """The consumer read up to ``position`` (exclusive): the requests that ended before it."""
        done: list[Request] = []
        if self._end < position and self._rows:
            request = self._close(self._end, recorded=False)
            if request is not None:
                done.append(request)
        if self._end < position:
            self._skip_empty(position)
        return done

    def cut(self, position: int) -> list[Request]:
        """Linger: the requests that ended before ``position``, then the open one cut at ``position - 1``.

        The cut is recorded, so that request is ``recorded``: send it only after a commit
        holds the metadata. No cut is made where ``PartitionCuts.may_cut`` says no; the
        rows then wait for their window to fill or for the position to reach the horizon.

        An open request without rows is cut too (and is as good as accepted), so the
        stream's ``next``, and with it the committed offset, reaches the position: a
        partition may end in offsets no row of the stream comes from (transaction markers,
        rows of other streams, bad messages). The requests after it wait for a commit all
        the same, as a replay from an older commit would start them earlier.
        """
        done = self.passed(position)
        last = position - 1
        if last >= self.first and self._cuts.may_cut(position):
            self._cuts.record(self.stream, last)
            request = self._close(last, recorded=True)
            if request is not None:
                done.append(request)
        return done

    @property
    def pending_rows(self) -> int:
        """Rows buffered in the open request."""
        return len(self._rows)

    def _skip_empty(self, position: int) -> None:
        """No rows buffered: the requests that end before ``position`` are empty, as good as accepted.

        Skipped in one step, not window by window: a partition may jump far ahead (a
        compacted or deleted range, a stream no message of a long run feeds). The request
        holding ``position`` starts after the last boundary (window end or cut) before it.
        """
        start = max(self.first, position // self._cuts.window * self._cuts.window)
        for cut in self._cuts.cuts_of(self.stream):
            if start <= cut < position:
                start = cut + 1
        if start > self.first:
            self._cuts.accepted(self.stream, self.first, start - 1)
        self.first = start
        self._end = self._cuts.end_of(self.stream, start)

    def _close(self, last: int, *, recorded: bool) -> Request | None:
        rows, self._rows = self._rows, []
        first = self.first
        self.first = last + 1
        self._end = self._cuts.end_of(self.stream, self.first)
        if not rows:
            self._cuts.accepted(self.stream, first, last)  # nothing to send: as good as accepted
            return None
        return Request(self.stream, first, last, tuple(rows), recorded or self._cuts.unconfirmed(self.stream))
