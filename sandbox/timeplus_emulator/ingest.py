"""Turning an ingest request body into checked column values, as Proton and the app server do.

Proton's route (IngestRestRouterHandler.cpp) reads only the compact form
``{"columns": [...], "data": [[...], ...]}`` and hands it to an INSERT ... FORMAT
JSONCompactEachRow: one insert, so one bad value rejects the whole request. The app
server also reads NDJSON objects, a raw body and lines, and forwards them the same way.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from . import codes
from .codes import AppServerError, ProtonError
from .store import Stream
from .types import TP_TIME, ValueRejected, now_tp_time

AppFormat = Literal["compact", "streaming", "raw", "lines"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Checked values of one request, column-wise, ready for ``Store.insert``."""

    names: list[str]
    values: list[Sequence[Any]]
    rows: int


def decode_body(raw: bytes, content_encoding: str | None) -> bytes:
    """Undo ``Content-Encoding`` (gzip or deflate), as Proton's wrapReadBufferWithCompressionMethod does."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ProtonError(codes.ZLIB_INFLATE_FAILED, f"inflate failed: {exc}") from None
    raise ProtonError(
        codes.UNKNOWN_COMPRESSION_METHOD,
        f"Unknown compression method {encoding!r} (the emulator reads gzip and deflate only)",
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes, *, exact_ints: bool = False) -> Any:
    """Strict JSON: no trailing commas, no NaN.

    orjson reads integers beyond 64 bits as floats, silently; ``exact_ints`` (set when
    the stream has int128/int256 columns) uses the stdlib, which keeps them exact.
    """
    if not exact_ints:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(str(exc)) from None
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None


def parse_compact(body: bytes, *, exact_ints: bool = False) -> tuple[list[str], list[Any]]:
    """The (columns, data) of a compact body, with Proton's 400/117 answers for bad shapes."""
    if not body.strip():
        raise ProtonError(codes.INCORRECT_DATA, "Invalid Request, empty body", status=400)
    try:
        document = parse_json(body, exact_ints=exact_ints)
    except ValueError as exc:
        raise ProtonError(codes.INCORRECT_DATA, f"Invalid JSON request: {exc}", status=400) from None
    if type(document) is not dict:
        raise ProtonError(codes.INCORRECT_DATA, "Invalid Request, expected a JSON object", status=400)
    if "columns" not in document:
        raise ProtonError(codes.INCORRECT_DATA, "Invalid Request, 'columns' field is missing", status=400)
    columns = document["columns"]
    if type(columns) is not list:
        raise ProtonError(codes.INCORRECT_DATA, "Invalid Request, 'columns' field is invalid", status=400)
    if "data" not in document:
        raise ProtonError(codes.INCORRECT_DATA, "Invalid Request, missing 'data' field", status=400)
    data = document["data"]
    if type(data) is not list:
        raise ProtonError(codes.INCORRECT_DATA, "Invalid Request, 'data' field is invalid", status=400)
    # Proton pastes the columns array into "INSERT INTO s (...)": anything but names is SQL garbage.
    if not columns or any(type(c) is not str or not c for c in columns):
        raise ProtonError(codes.SYNTAX_ERROR, f"Syntax error: failed at column list {_short(columns)}")
    return columns, data


def check_rows(stream: Stream, columns: list[str], data: list[Any]) -> Batch:
    """Check every value against its column; the first bad one rejects the whole request."""
    for name in columns:
        if name not in stream.by_name:
            raise ProtonError(codes.NO_SUCH_COLUMN_IN_STREAM, f"No such column {name} in stream default.{stream.name}")
    if len(set(columns)) != len(columns):
        twice = next(c for c in columns if columns.count(c) > 1)
        raise ProtonError(
            codes.DUPLICATE_COLUMN, f"Column {twice} in stream default.{stream.name} specified more than once"
        )
    width = len(columns)
    if data and not (set(map(type, data)) == {list} and set(map(len, data)) == {width}):
        for index, row in enumerate(data, 1):
            if type(row) is not list:
                raise ProtonError(
                    codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                    f"Cannot parse input: expected '[' before: {_short(row)}: (at row {index})",
                )
            if len(row) != width:
                raise ProtonError(
                    codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                    f"Cannot parse input: expected {width} values, got {len(row)}: (at row {index})",
                )
    transposed: list[Sequence[Any]] = list(zip(*data, strict=True)) if data else [() for _ in columns]
    values: list[Sequence[Any]] = []
    for name, column_values in zip(columns, transposed, strict=True):
        column_type = stream.by_name[name].type
        if name == TP_TIME and None in column_values:
            now = now_tp_time()  # _tp_time DEFAULT now64(3, 'UTC') also fills a null
            column_values = [now if v is None else v for v in column_values]
        try:
            values.append(column_type.convert_column(column_values))
        except ValueRejected:
            raise _first_rejection(stream, columns, data) from None
    return Batch(columns, values, len(data))


def _first_rejection(stream: Stream, columns: list[str], data: list[Any]) -> ProtonError:
    """The error Proton reports: the first bad value in row order (slow path, errors only)."""
    types = [stream.by_name[name].type for name in columns]
    for index, row in enumerate(data, 1):
        for name, column_type, value in zip(columns, types, row, strict=True):
            if name == TP_TIME and value is None:
                continue
            try:
                column_type.convert(value)
            except ValueRejected as rejected:
                return ProtonError(
                    rejected.code,
                    f"{rejected.reason}: (while reading the value of key {name}): (at row {index})",
                )
    return ProtonError(codes.CANNOT_PARSE_TEXT, "Cannot parse input")  # unreachable in practice


def _short(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 80 else text[:77] + "..."


# --- the app server's formats -------------------------------------------------------

_FORMATS: tuple[AppFormat, ...] = ("compact", "streaming", "raw", "lines")


def app_format(content_type: str | None, format_param: str | None) -> AppFormat:
    """Pick the body format from ``?format=`` (which wins) or the Content-Type."""
    if format_param is not None:
        for name in _FORMATS:
            if format_param == name:
                return name
        raise AppServerError(400, f"unsupported format {format_param!r}; use compact, streaming, raw or lines")
    media, params = _media_type(content_type or "")
    wanted = params.get("format")
    if media in ("", "application/json", "application/vnd.timeplus+json"):
        if wanted in (None, "compact"):
            return "compact"
        if wanted == "streaming":
            return "streaming"
    elif media == "application/x-ndjson" and wanted in (None, "streaming"):
        return "streaming"
    elif media == "text/plain":
        if wanted in (None, "raw"):
            return "raw"
        if wanted == "lines":
            return "lines"
    raise AppServerError(415, f"unsupported Content-Type {content_type!r}")


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    media, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


def app_rows(body: bytes, body_format: AppFormat, *, exact_ints: bool = False) -> tuple[list[str], list[Any]]:
    """(columns, data) of an app-server body; its own parse errors are 400s."""
    if not body.strip():
        raise AppServerError(400, "empty request body")
    if body_format == "compact":
        try:
            return parse_compact(body, exact_ints=exact_ints)
        except ProtonError as exc:
            if exc.code == codes.INCORRECT_DATA:  # the app server parses compact itself
                raise AppServerError(400, exc.message) from None
            raise
    if body_format == "streaming":
        objects = parse_ndjson(body, exact_ints=exact_ints)
        names: dict[str, None] = {}
        for item in objects:
            names.update(dict.fromkeys(item))
        columns = list(names)
        return columns, [[item.get(name) for name in columns] for item in objects]
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise AppServerError(400, "the body is not UTF-8 text") from None
    if body_format == "raw":
        return ["raw"], [[text]]
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return ["raw"], [[line] for line in lines if line]


_SPACE = re.compile(r"[ \t\r\n]*")


def parse_ndjson(body: bytes, *, exact_ints: bool = False) -> list[dict[str, Any]]:
    """JSON objects one per line, spread over lines, or back to back with no separator."""
    objects: list[Any] = []
    try:
        if exact_ints:
            raise ValueError("the stdlib scanner keeps wide integers exact")
        objects = [orjson.loads(line) for line in body.splitlines() if line.strip()]
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        objects = _scan_objects(body)
    for index, item in enumerate(objects, 1):
        if type(item) is not dict:
            raise AppServerError(400, f"event {index} is a JSON {type(item).__name__}, not an object")
    return objects


def _scan_objects(body: bytes) -> list[Any]:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise AppServerError(400, "the body is not UTF-8 text") from None
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    objects: list[Any] = []
    position = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    while position < len(text):
        try:
            item, position = decoder.raw_decode(text, position)
        except ValueError as exc:
            raise AppServerError(400, f"invalid JSON event: {exc}") from None
        objects.append(item)
        position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
    return objects
