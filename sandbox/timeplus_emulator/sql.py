"""The two SQL statements and the DDL REST payload the emulator understands.

SQL over HTTP (Proton's port 8123): ``CREATE STREAM [IF NOT EXISTS] name (col type, ...)``
and ``SELECT count() FROM table(name)``. Anything else is refused with a clear 400
instead of being half-understood. The DDL REST payload is Proton's
``POST /proton/v1/ddl/streams`` body: ``{"name": ..., "columns": [{"name", "type"}]}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import codes
from .codes import ProtonError
from .store import Column
from .types import NullableType, parse_type

_NAME = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_CREATE = re.compile(
    rf"\s*create\s+stream\s+(?P<ine>if\s+not\s+exists\s+)?(?P<name>{_NAME})\s*\((?P<body>.*)\)\s*;?\s*",
    re.I | re.S,
)
_COUNT = re.compile(rf"\s*select\s+count\s*\(\s*\)\s+from\s+table\s*\(\s*(?P<name>{_NAME})\s*\)\s*;?\s*", re.I | re.S)
_COLUMN = re.compile(rf"\s*(?P<name>{_NAME})\s+(?P<type>.+?)\s*", re.S)
_COLUMN_OPTIONS = re.compile(r"\b(default|materialized|alias|codec|comment|ttl|ephemeral)\b", re.I)
SUPPORTED = "CREATE STREAM [IF NOT EXISTS] name (column type, ...) and SELECT count() FROM table(name)"


@dataclass(frozen=True, slots=True)
class CreateStream:
    name: str
    columns: list[Column]
    if_not_exists: bool


@dataclass(frozen=True, slots=True)
class CountRows:
    name: str


def parse_statement(query: str) -> CreateStream | CountRows:
    """One of the two supported statements, or ProtonError(62) with a clear message."""
    match = _COUNT.fullmatch(query)
    if match:
        return CountRows(_unquote(match["name"]))
    match = _CREATE.fullmatch(query)
    if match:
        return CreateStream(_unquote(match["name"]), _column_list(match["body"]), bool(match["ine"]))
    shown = " ".join(query.split())[:120]
    raise ProtonError(codes.SYNTAX_ERROR, f"The Timeplus emulator runs only {SUPPORTED}; got: {shown!r}")


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith("`") else name


def _column_list(body: str) -> list[Column]:
    columns = []
    for piece in _split_top_level(body):
        match = _COLUMN.fullmatch(piece)
        if match is None:
            raise ProtonError(codes.SYNTAX_ERROR, f"Syntax error: cannot read column definition {piece.strip()!r}")
        type_text = match["type"]
        if _COLUMN_OPTIONS.search(_strip_strings(type_text)):
            raise ProtonError(
                codes.SYNTAX_ERROR,
                f"The Timeplus emulator does not support column options (DEFAULT, CODEC, ...): {piece.strip()!r}",
            )
        columns.append(Column(_unquote(match["name"]), parse_type(type_text)))
    if not columns:
        raise ProtonError(codes.SYNTAX_ERROR, "Syntax error: a stream needs at least one column")
    return columns


def _strip_strings(text: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)


def _split_top_level(body: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    pieces, depth, start, quote = [], 0, 0, ""
    for index, char in enumerate(body):
        if quote:
            if char == quote and body[index - 1] != "\\":
                quote = ""
        elif char in "'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ProtonError(codes.SYNTAX_ERROR, "Syntax error: unbalanced parentheses in the column list")
        elif char == "," and depth == 0:
            pieces.append(body[start:index])
            start = index + 1
    if depth or quote:
        raise ProtonError(codes.SYNTAX_ERROR, "Syntax error: unbalanced parentheses or quotes in the column list")
    last = body[start:]
    if last.strip() or pieces:
        pieces.append(last)
    return pieces


# Keys of Proton's create-stream payload that change nothing the emulator models.
_HARMLESS_KEYS = {
    "description",
    "shards",
    "replication_factor",
    "ttl_expression",
    "logstore_retention_bytes",
    "logstore_retention_ms",
}


def parse_ddl_payload(payload: Any) -> tuple[str, list[Column]]:
    """(name, columns) of a DDL REST body; 400 with a clear message for what is not modelled."""
    if type(payload) is not dict:
        raise _bad_request("the body must be a JSON object")
    for key in ("name", "columns"):
        if key not in payload:
            raise _bad_request(f"Required param '{key}' is missing")
    name, columns = payload["name"], payload["columns"]
    if type(name) is not str or not re.fullmatch(r"\w+", name):
        raise _bad_request(f"invalid stream name {name!r}")
    if type(columns) is not list or not columns:
        raise _bad_request("'columns' must be a non-empty array")
    mode = payload.get("mode", "append")
    unknown = set(payload) - {"name", "columns", "mode"} - _HARMLESS_KEYS
    if unknown or mode != "append":
        what = sorted(unknown) or [f"mode={mode}"]
        raise _bad_request(f"the Timeplus emulator does not model {', '.join(map(str, what))}")
    result = []
    for index, column in enumerate(columns):
        if type(column) is not dict or type(column.get("name")) is not str or type(column.get("type")) is not str:
            raise _bad_request(f"columns[{index}] needs a string 'name' and 'type'")
        extra = set(column) - {"name", "type", "nullable", "comment"}
        if extra:
            raise _bad_request(f"columns[{index}]: the Timeplus emulator does not model {sorted(extra)}")
        column_type = parse_type(column["type"])
        if column.get("nullable") is True and not column_type.nullable:
            column_type = NullableType(column_type)
        result.append(Column(column["name"], column_type))
    return name, result


def _bad_request(message: str) -> ProtonError:
    return ProtonError(codes.BAD_REQUEST_PARAMETER, message, status=400)
