"""Avro: the Timeplus type of the values ``registry_decoding`` reads at a path of an Avro schema."""

from __future__ import annotations

import json
from typing import Any, Final

import fastavro

from connector.ports import RegisteredSchema
from connector.registry_types.shared import NoType, is_index, named_dependencies, nullable, shown

_AVRO_PRIMITIVES: Final = {
    "boolean": "bool", "int": "int32", "long": "int64", "float": "float32", "double": "float64",
    "string": "string", "bytes": "string",
}  # fmt: skip
#: (underlying type, logical type) pairs fastavro decodes; any other logical type reads as its underlying type.
_AVRO_LOGICAL: Final = {
    ("long", "timestamp-millis"): "datetime64(3, 'UTC')",
    ("long", "timestamp-micros"): "datetime64(6, 'UTC')",
    # A wall time without a zone: stored as the same digits in UTC.
    ("long", "local-timestamp-millis"): "datetime64(3, 'UTC')",
    ("long", "local-timestamp-micros"): "datetime64(6, 'UTC')",
    ("int", "date"): "date32",
    ("int", "time-millis"): "string",
    ("long", "time-micros"): "string",
    ("string", "uuid"): "uuid",
}
#: Timeplus's widest decimal.
MAX_DECIMAL_PRECISION: Final = 76


def avro_type(schema: RegisteredSchema, path: tuple[str, ...]) -> str:
    named: dict[str, Any] = {}
    try:
        for _, reference in named_dependencies(schema):
            fastavro.parse_schema(json.loads(reference.text), named)
        node = fastavro.parse_schema(json.loads(schema.text), named)
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise NoType(f"not a valid Avro schema: {exc}") from None
    for depth, segment in enumerate(path):
        node = _avro_step(_avro_named(node, named), segment, path[: depth + 1], named)
    return _avro_leaf(node, named, path)


def _avro_named(node: Any, named: dict[str, Any]) -> Any:
    return named[node] if isinstance(node, str) and node in named else node


def _avro_step(node: Any, segment: str, path: tuple[str, ...], named: dict[str, Any]) -> Any:
    """The schema of ``node``'s child ``segment``: a record field, an array item, a map value."""
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if len(branches) != 1:
            raise NoType(f"{shown(path[:-1])} is a union of {_avro_names(branches)}: which one holds {segment}?")
        node = _avro_named(branches[0], named)
    kind = node.get("type") if isinstance(node, dict) else node
    if kind == "record":
        fields = {f["name"]: f["type"] for f in node["fields"]}
        if segment not in fields:
            raise NoType(f"the record {node['name']} has no field {segment} (it has {', '.join(fields)})")
        return fields[segment]
    if kind == "array":
        if not is_index(segment):
            raise NoType(f"{shown(path[:-1])} is an array: {segment} is no index")
        return node["items"]
    if kind == "map":
        return node["values"]
    if isinstance(kind, str) and kind in named:
        return _avro_step(named[kind], segment, path, named)
    raise NoType(f"{shown(path[:-1])} is {_avro_names([node])}, which has no {segment}")


def _avro_leaf(node: Any, named: dict[str, Any], path: tuple[str, ...]) -> str:
    node = _avro_named(node, named)
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if len(branches) != 1:
            raise NoType(f"{shown(path)} is a union of {_avro_names(branches)}: no one Timeplus type holds them all")
        inner = _avro_leaf(branches[0], named, path)
        return nullable(inner, f"{shown(path)} may be null") if len(branches) < len(node) else inner
    if isinstance(node, str):
        if node not in _AVRO_PRIMITIVES:
            raise NoType(f"{shown(path)} is always null")
        return _AVRO_PRIMITIVES[node]
    kind, logical = node["type"], node.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        precision, scale = int(node["precision"]), int(node.get("scale", 0))
        if precision > MAX_DECIMAL_PRECISION:
            raise NoType(
                f"{shown(path)} is decimal({precision}, {scale}): Timeplus holds {MAX_DECIMAL_PRECISION} digits"
            )
        return f"decimal({precision}, {scale})"
    if (kind, logical) in _AVRO_LOGICAL:
        return _AVRO_LOGICAL[kind, logical]
    if kind in ("record", "error"):
        return "json"
    if kind in ("enum", "fixed"):
        return "string"
    if kind in ("array", "map"):
        inner = _avro_leaf(node["items" if kind == "array" else "values"], named, path)
        if inner == "json":
            raise NoType(f"{shown(path)} is an {kind} of records, which has no faithful Timeplus type")
        return f"array({inner})" if kind == "array" else f"map(string, {inner})"
    return _avro_leaf(kind, named, path)


def _avro_names(branches: list[Any]) -> str:
    names = []
    for branch in branches:
        if isinstance(branch, dict):
            names.append(str(branch.get("name") or branch.get("logicalType") or branch["type"]))
        else:
            names.append(str(branch))
    return ", ".join(names)
