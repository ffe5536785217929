"""NDJSON ingest bodies: one JSON object per row (``application/x-ndjson``, issue 15)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import orjson

RowToObject = Callable[[Sequence[Any]], dict[str, Any]]


def encode_ndjson(columns: Sequence[str], rows: Sequence[list[Any]]) -> bytes:
    """One ``{"column": value, ...}`` object per row, each ending in a newline."""
    to_object = _object_builder(tuple(columns))
    dumps = orjson.dumps
    # Appending the newline at once lets each small buffer orjson returns be freed and
    # reused right away: joining the bare encodings with b"\n" ran ~5x slower.
    return b"".join([dumps(to_object(row)) + b"\n" for row in rows])


@cache
def _object_builder(columns: tuple[str, ...]) -> RowToObject:
    """A function that turns a row of these columns into its object.

    A dict display compiled for the columns (``{k0: row[0], k1: row[1], ...}``) builds
    an object in about half the time of ``dict(zip(columns, row))``, which makes the
    whole encoding ~40% faster. The compiled text holds only generated names and
    indices; the column names are bound as closure values, never pasted into code.
    """
    names = [f"k{i}" for i in range(len(columns))]
    items = ", ".join(f"{name}: row[{i}]" for i, name in enumerate(names))
    factory = eval(f"lambda {', '.join(names)}: lambda row: {{{items}}}", {"__builtins__": {}})
    builder: RowToObject = factory(*columns)
    return builder
