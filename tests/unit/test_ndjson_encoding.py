"""NDJSON request bodies (issue 15): one object per row, whatever the values hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from connector.encoding import IngestRequest, rows_encoder


def encode_ndjson(columns: Sequence[str], rows: Sequence[list[Any]]) -> bytes:
    return rows_encoder("ndjson", columns)(rows)


NAMES = st.text(min_size=1, max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    # Text that looks like the seam between two encoded objects.
    | st.sampled_from(['},{"id":', '}\n{"id":', "\u2028", '"\\', "{", "}"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES | st.just("id"), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    columns = draw(st.lists(NAMES | st.just("id"), min_size=1, max_size=5, unique=True))
    rows = draw(st.lists(st.lists(VALUES, min_size=len(columns), max_size=len(columns)), max_size=8))
    return columns, rows


def decoded(body: bytes) -> list[Any]:
    assert body == b"" or body.endswith(b"\n")
    return [orjson.loads(line) for line in body.split(b"\n")[:-1]]


@given(tables())
# A nested object that starts with the first column's key, right after another object:
# text that looks like the seam between two rows, inside one row.
@example((["id", "x"], [[1, [{"a": 1}, {"id": 2}]], [3, 4]]))
@example((["id"], [[{"id": {"id": 1}}], [{"id": 2}]]))
def test_each_row_is_one_line_holding_its_object(table: tuple[list[str], list[list[Any]]]) -> None:
    columns, rows = table
    body = encode_ndjson(columns, rows)
    assert decoded(body) == [dict(zip(columns, row, strict=True)) for row in rows]
    assert body.count(b"\n") == len(rows)


@given(tables(), st.data())
def test_the_bodies_of_two_halves_make_the_whole(table: tuple[list[str], list[list[Any]]], data: st.DataObject) -> None:
    # The sender splits an oversized body at any row: the halves must hold exactly its rows,
    # and their sizes add up, so halving always makes progress towards max_bytes.
    columns, rows = table
    cut = data.draw(st.integers(min_value=0, max_value=len(rows)))
    whole = encode_ndjson(columns, rows)
    assert encode_ndjson(columns, rows[:cut]) + encode_ndjson(columns, rows[cut:]) == whole


@given(st.lists(NAMES | st.sampled_from(['"', "\\", "a\nb", "__builtins__", "row", "k0", "1"]), unique=True))
def test_column_names_are_keys_whatever_they_hold(columns: list[str]) -> None:
    # Names are bound as values, never pasted into the compiled builder.
    row = list(range(len(columns)))
    assert decoded(encode_ndjson(columns, [row])) == [dict(zip(columns, row, strict=True))]


@given(tables(), st.integers(min_value=1, max_value=400))
def test_ndjson_requests_split_into_fitting_parts_that_make_the_whole(
    table: tuple[list[str], list[list[Any]]], max_bytes: int
) -> None:
    columns, rows = table
    request = IngestRequest.encode("s", columns, rows, "ndjson")
    assert request.body == encode_ndjson(columns, rows)
    parts = list(request.fitting(0, len(rows), max_bytes)) if rows else []
    assert b"".join(body for _, _, body in parts) == request.body
    assert [(start, stop) for start, stop, _ in parts] == sorted((start, stop) for start, stop, _ in parts)
    for start, stop, body in parts:
        assert body == request.part(start, stop) == encode_ndjson(columns, rows[start:stop])
        assert len(body) <= max_bytes or stop - start == 1
