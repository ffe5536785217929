"""JSON Schema: the Timeplus type of the values ``registry_decoding`` reads at a path of a JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from connector.ports import RegisteredSchema
from connector.registry_types.shared import MAX_DEPTH, NoType, is_index, named_dependencies, nullable, shown

_JSON_FORMATS: Final = {
    "date-time": "datetime64(9, 'UTC')", "date": "date32", "uuid": "uuid", "ipv4": "ipv4", "ipv6": "ipv6",
}  # fmt: skip
_JSON_TYPES: Final = {"string": "string", "integer": "int64", "number": "float64", "boolean": "bool"}


@dataclass(frozen=True, slots=True)
class _JsonNode:
    """A JSON Schema node and the document its ``$ref``s resolve in."""

    schema: Any
    document: Any


class _JsonSchemas:
    """A JSON Schema with its references: resolves ``$ref`` to a node, in this document or a referenced one."""

    def __init__(self, schema: RegisteredSchema) -> None:
        document = _json_document(schema.text, "the schema")
        self.root = _JsonNode(document, document)
        self.documents = {name: _json_document(r.text, name) for name, r in named_dependencies(schema)}

    def resolve(self, node: _JsonNode) -> _JsonNode:
        for _ in range(MAX_DEPTH):
            if not isinstance(node.schema, dict) or "$ref" not in node.schema:
                return node
            node = self._target(str(node.schema["$ref"]), node.document)
        raise NoType(f"$ref leads on more than {MAX_DEPTH} times")

    def _target(self, ref: str, document: Any) -> _JsonNode:
        uri, _, pointer = ref.partition("#")
        if uri:  # a reference, by its name or a URI ending in it (as the decoder resolves it)
            named = [d for name, d in self.documents.items() if uri == name or uri.endswith("/" + name)]
            if not named:
                known = ", ".join(self.documents) or "none"
                raise NoType(f"$ref {ref} names no reference of the schema (its references: {known})")
            document = named[0]
        target = document
        for raw in pointer.split("/")[1:] if pointer else ():
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and key in target:
                target = target[key]
            elif isinstance(target, list) and is_index(key) and int(key) < len(target):
                target = target[int(key)]
            else:
                raise NoType(f"$ref {ref} points at nothing")
        return _JsonNode(target, document)


def json_schema_type(schema: RegisteredSchema, path: tuple[str, ...]) -> str:
    schemas = _JsonSchemas(schema)
    node = schemas.root
    for depth, segment in enumerate(path):
        node = _json_step(schemas, node, segment, path[: depth + 1])
    return _json_leaf(schemas, node, path, 0)


def _json_branches(schemas: _JsonSchemas, node: _JsonNode, path: Sequence[str]) -> tuple[list[_JsonNode], bool]:
    """The non-null alternatives of a node (``type`` lists, ``oneOf``, ``anyOf``), and whether null is one."""
    node = schemas.resolve(node)
    for _ in range(MAX_DEPTH):  # a lone allOf part stands for the node (and may be a $ref back to it)
        parts = node.schema.get("allOf") if isinstance(node.schema, dict) else None
        if parts is None:
            break
        if len(parts) != 1:
            raise NoType(f"{shown(path)} combines {len(parts)} schemas (allOf): no type is derived from that")
        node = schemas.resolve(_JsonNode(parts[0], node.document))
    schema = node.schema
    if schema is True or schema == {}:
        raise NoType(f"{shown(path)} may be any JSON value")
    if not isinstance(schema, dict):
        raise NoType(f"{shown(path)} allows no value")
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            options = [schemas.resolve(_JsonNode(s, node.document)) for s in schema[keyword]]
            branches = [b for b in options if not _json_is_null(b.schema)]
            return branches, len(branches) < len(options)
    if "allOf" in schema:
        raise NoType(f"{shown(path)}: allOf leads on more than {MAX_DEPTH} times")
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return [_JsonNode(schema | {"type": k}, node.document) for k in kinds], len(kinds) < len(kind)
    return [node], False


def _json_is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _json_one(schemas: _JsonSchemas, node: _JsonNode, path: Sequence[str]) -> tuple[_JsonNode, bool]:
    branches, null = _json_branches(schemas, node, path)
    if len(branches) != 1:
        raise NoType(f"{shown(path)} may be one of {len(branches)} kinds of value: no one Timeplus type holds them all")
    return branches[0], null


def _json_kind(schema: dict[str, Any], path: Sequence[str]) -> str:
    kind = schema.get("type")
    if kind is None:
        if "properties" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        values = schema.get("enum", [schema["const"]] if "const" in schema else [])
        if values and all(isinstance(v, str) for v in values):
            return "string"
        raise NoType(f"{shown(path)} does not say its type")
    return str(kind)


def _json_step(schemas: _JsonSchemas, node: _JsonNode, segment: str, path: tuple[str, ...]) -> _JsonNode:
    parent = path[:-1]
    node, _ = _json_one(schemas, node, parent)
    schema = node.schema
    kind = _json_kind(schema, parent)
    if kind == "object":
        properties = schema.get("properties", {})
        if segment in properties:
            return _JsonNode(properties[segment], node.document)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not properties:
            return _JsonNode(extra, node.document)
        raise NoType(f"{shown(parent)} declares no property {segment} (it has {', '.join(properties) or 'none'})")
    if kind == "array":
        if not is_index(segment):
            raise NoType(f"{shown(parent)} is an array: {segment} is no index")
        positional = schema.get("prefixItems", schema.get("items") if isinstance(schema.get("items"), list) else None)
        if positional is not None:
            if int(segment) < len(positional):
                return _JsonNode(positional[int(segment)], node.document)
            raise NoType(f"{shown(parent)} has no item {segment}")
        if "items" not in schema:
            raise NoType(f"{shown(parent)} does not say what its items are")
        return _JsonNode(schema["items"], node.document)
    raise NoType(f"{shown(parent)} is {kind}, which has no {segment}")


def _json_leaf(schemas: _JsonSchemas, node: _JsonNode, path: tuple[str, ...], depth: int) -> str:
    if depth > MAX_DEPTH:
        raise NoType(f"{shown(path)} nests deeper than {MAX_DEPTH}")
    node, null = _json_one(schemas, node, path)
    schema = node.schema
    kind = _json_kind(schema, path)
    if kind == "string":
        inner = _JSON_FORMATS.get(str(schema.get("format")), "string")
    elif kind in _JSON_TYPES:
        inner = _JSON_TYPES[kind]
    elif kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not schema.get("properties"):
            inner = f"map(string, {_json_element(schemas, _JsonNode(extra, node.document), path, depth)})"
        else:
            inner = "json"
    elif kind == "array":
        if not isinstance(schema.get("items"), dict) or "prefixItems" in schema:
            raise NoType(f"{shown(path)} is an array of no single item type")
        inner = f"array({_json_element(schemas, _JsonNode(schema['items'], node.document), path, depth)})"
    elif kind == "null":
        raise NoType(f"{shown(path)} is always null")
    else:
        raise NoType(f"{shown(path)} has the unknown type {kind!r}")
    return nullable(inner, f"{shown(path)} may be null") if null else inner


def _json_element(schemas: _JsonSchemas, node: _JsonNode, path: tuple[str, ...], depth: int) -> str:
    inner = _json_leaf(schemas, node, path, depth + 1)
    if inner == "json":
        raise NoType(f"{shown(path)} holds objects, and a collection of them has no faithful Timeplus type")
    return inner


def _json_document(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NoType(f"{name} is not JSON: {exc}") from None
