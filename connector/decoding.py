"""Decoding message values: ``json``, ``string`` or ``bytes``, as a mapping's format says.

JSON goes through orjson; numbers that orjson cannot hold exactly are the mapper's
business (``connector.exact_json``), except ``1e400``, which orjson refuses outright.
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

from connector.errors import DataError
from connector.exact_json import decode_exact
from connector.types import utf8_reason


def json_kind(value: Any) -> str:
    """What a decoded value is, as a reason names it: a JSON array, a JSON string..."""
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if value is None:
        return "JSON null"
    return f"a JSON {type(value).__name__}"


def decode_value(value: bytes | None, fmt: str) -> Any:
    """Decode a message value as ``json``, ``string`` or ``bytes``; raise DataError."""
    if value is None:
        raise DataError("tombstone (null value)")
    if fmt == "json":
        if not value:
            raise DataError("empty value")
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            if "infinity" in str(exc):  # 1e400 is valid JSON, only beyond a double: read it exactly
                return decode_exact(value)
            raise DataError(f"value is not valid JSON: {exc}") from None
    if fmt == "string":
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"value is {utf8_reason(value, exc)}") from None
    if fmt == "bytes":
        return value
    if fmt == STRICT_JSON:
        decoded = decode_value(value, "json")
        _reject_duplicate_keys(value)
        return decoded
    raise ValueError(f"unknown format {fmt!r}")


#: The decoding of ``format: json`` with ``reject_duplicate_keys: true``.
STRICT_JSON: Final = "json/strict"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, item in pairs:
        if key in found:
            raise DataError(f"value has the key {key!r} more than once")
        found[key] = item
    return found


_DUPLICATE_CHECKER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def _reject_duplicate_keys(value: bytes) -> None:
    # orjson keeps the last of duplicate keys silently and has no option to refuse them;
    # the stdlib decoder can, at ~4x the cost, so only mappings that ask pay for it.
    _DUPLICATE_CHECKER.decode(value.decode("utf-8"))
