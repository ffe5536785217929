"""Timeplus's compact ingest body, and the immutable request that carries it to a delivery thread.

A body is ``{"columns": [...], "data": [[...], ...]}``. The whole batch is encoded in
one ``orjson`` call, on the consumer thread (see ``Sender.submit``). Batches are cut
on an estimate of their encoded size, so a body may still come out over the request
limit; ``IngestRequest.fitting`` splits such a body in halves until each part fits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from connector.exact_json import encode_exact


def compact_head(columns: Sequence[str]) -> bytes:
    """The start of a compact body for ``columns``, up to the opening of ``data``."""
    return b'{"columns":' + orjson.dumps(list(columns)) + b',"data":'


def compact_body(head: bytes, rows: Sequence[list[Any]]) -> bytes:
    """The compact body of ``rows`` after ``head`` (from ``compact_head``).

    Untyped and ``json`` values may hold integers past 64 bits and Decimal literals,
    which ``encode_exact`` writes as the literals they came from.
    """
    return head + encode_exact(rows) + b"}"


# eq=False: requests are told apart by identity (rows are lists, which do not hash).
@dataclass(frozen=True, slots=True, eq=False)
class IngestRequest:
    """Rows bound for one stream and their encoded body: what crosses to a delivery thread."""

    stream: str
    head: bytes
    rows: tuple[list[Any], ...]
    #: The body of all the rows.
    body: bytes

    @classmethod
    def encode(cls, stream: str, columns: Sequence[str], rows: Sequence[list[Any]]) -> IngestRequest:
        """Encode ``rows`` (may raise what orjson raises for a value it cannot encode)."""
        head = compact_head(columns)
        frozen = tuple(rows)
        return cls(stream, head, frozen, compact_body(head, frozen))

    def part(self, start: int, stop: int) -> bytes:
        """The body of rows start..stop."""
        if start == 0 and stop == len(self.rows):
            return self.body
        return compact_body(self.head, self.rows[start:stop])

    def fitting(self, start: int, stop: int, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        """Rows start..stop as (start, stop, body) parts in order, halved until each body fits ``max_bytes``.

        A single row always makes a part, whatever its size. Parts are encoded lazily,
        so a caller may act on one before the next is encoded.
        """
        body = self.part(start, stop)
        if len(body) <= max_bytes or stop - start == 1:
            yield start, stop, body
            return
        middle = (start + stop) // 2
        yield from self.fitting(start, middle, max_bytes)
        yield from self.fitting(middle, stop, max_bytes)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"IngestRequest({self.stream}, rows={len(self.rows)}, {len(self.body)} bytes)"
