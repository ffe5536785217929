"""Protobuf: the Timeplus type of the values ``registry_decoding`` reads at a path of a Protobuf schema."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any, Final

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from connector.ports import RegisteredSchema
from connector.registry_types.shared import NoType, is_index, named_dependencies, shown

_F = descriptor_pb2.FieldDescriptorProto
_PROTOBUF_SCALARS: Final = {
    _F.TYPE_DOUBLE: "float64", _F.TYPE_FLOAT: "float32",
    _F.TYPE_INT64: "int64", _F.TYPE_SINT64: "int64", _F.TYPE_SFIXED64: "int64",
    _F.TYPE_UINT64: "uint64", _F.TYPE_FIXED64: "uint64",
    _F.TYPE_INT32: "int32", _F.TYPE_SINT32: "int32", _F.TYPE_SFIXED32: "int32",
    _F.TYPE_UINT32: "uint32", _F.TYPE_FIXED32: "uint32",
    _F.TYPE_BOOL: "bool", _F.TYPE_STRING: "string", _F.TYPE_BYTES: "string", _F.TYPE_ENUM: "string",
}  # fmt: skip
#: Well-known types, which Protobuf's JSON mapping writes as values of their own.
_WELL_KNOWN: Final = {
    ".google.protobuf.Timestamp": "datetime64(9, 'UTC')",
    ".google.protobuf.Duration": "string",
    ".google.protobuf.FieldMask": "string",
    ".google.protobuf.DoubleValue": "float64",
    ".google.protobuf.FloatValue": "float32",
    ".google.protobuf.Int64Value": "int64",
    ".google.protobuf.UInt64Value": "uint64",
    ".google.protobuf.Int32Value": "int32",
    ".google.protobuf.UInt32Value": "uint32",
    ".google.protobuf.BoolValue": "bool",
    ".google.protobuf.StringValue": "string",
    ".google.protobuf.BytesValue": "string",
    ".google.protobuf.Struct": "json",
    ".google.protobuf.Any": "json",
    ".google.protobuf.Empty": "json",
}
_ANY_JSON: Final = (".google.protobuf.Value", ".google.protobuf.ListValue")


def protobuf_type(schema: RegisteredSchema, path: tuple[str, ...], index: int = 0) -> str:
    files = [file_descriptor(schema.text, "the schema")]
    files += [file_descriptor(r.text, name) for name, r in named_dependencies(schema)]
    messages = {name: message for f in files for name, message in _messages(f)}
    if len(files[0].message_type) <= index:
        raise NoType(f"the Protobuf schema has no message {index}")
    message: descriptor_pb2.DescriptorProto | None = files[0].message_type[index]
    node: descriptor_pb2.FieldDescriptorProto | None = None
    element = False  # node is a repeated field, and the path took one of its elements
    for depth, segment in enumerate(path):
        where = path[: depth + 1]
        if node is not None and node.label == _F.LABEL_REPEATED and not element:
            entry = _map_entry(node, messages)
            if entry is not None:
                node = entry[1]
            elif not is_index(segment):
                raise NoType(f"{shown(where[:-1])} is a repeated field: {segment} is no index")
            element = True
            continue
        if node is not None:
            message = _protobuf_message(node, messages, where[:-1])
        assert message is not None
        fields = {f.name: f for f in message.field}
        if segment not in fields:
            raise NoType(f"the message {message.name} has no field {segment} (it has {', '.join(fields)})")
        node, element = fields[segment], False
    if node is None:
        return "json"  # the whole message
    return _protobuf_leaf(node, messages, path, element)


def _map_entry(
    node: descriptor_pb2.FieldDescriptorProto, messages: dict[str, descriptor_pb2.DescriptorProto]
) -> tuple[descriptor_pb2.FieldDescriptorProto, descriptor_pb2.FieldDescriptorProto] | None:
    """(key, value) fields of a ``map<K, V>`` field, or None for any other field."""
    entry = messages.get(node.type_name)
    if entry is None or not entry.options.map_entry:
        return None
    by_number = {f.number: f for f in entry.field}
    return by_number[1], by_number[2]


def _protobuf_message(
    node: descriptor_pb2.FieldDescriptorProto, messages: dict[str, descriptor_pb2.DescriptorProto], path: Sequence[str]
) -> descriptor_pb2.DescriptorProto:
    if node.type_name in _WELL_KNOWN or node.type_name in _ANY_JSON:
        raise NoType(f"{shown(path)} is a {node.type_name[1:]}, written as one value: it has no fields")
    if node.type not in (_F.TYPE_MESSAGE, _F.TYPE_GROUP):
        raise NoType(f"{shown(path)} is a scalar, which has no fields")
    return _known(node.type_name, messages)


def _protobuf_leaf(
    node: descriptor_pb2.FieldDescriptorProto,
    messages: dict[str, descriptor_pb2.DescriptorProto],
    path: tuple[str, ...],
    element: bool,
) -> str:
    if node.label == _F.LABEL_REPEATED and not element:
        entry = _map_entry(node, messages)
        if entry is not None:
            key, value = entry
            key_type = _protobuf_leaf(key, messages, path, True)
            key_type = "string" if key_type == "bool" else key_type  # written "true" / "false"
            return f"map({key_type}, {_protobuf_element(value, messages, path)})"
        return f"array({_protobuf_element(node, messages, path)})"
    if node.type in _PROTOBUF_SCALARS:
        return _PROTOBUF_SCALARS[node.type]
    if node.type_name in _WELL_KNOWN:
        return _WELL_KNOWN[node.type_name]
    if node.type_name in _ANY_JSON:
        raise NoType(f"{shown(path)} is a {node.type_name[1:]}, which may hold any JSON value")
    _known(node.type_name, messages)
    return "json"


def _protobuf_element(
    node: descriptor_pb2.FieldDescriptorProto,
    messages: dict[str, descriptor_pb2.DescriptorProto],
    path: tuple[str, ...],
) -> str:
    inner = _protobuf_leaf(node, messages, path, True)
    if inner == "json":
        raise NoType(f"{shown(path)} holds messages, and a collection of them has no faithful Timeplus type")
    return inner


def _known(type_name: str, messages: dict[str, descriptor_pb2.DescriptorProto]) -> descriptor_pb2.DescriptorProto:
    if type_name not in messages:
        raise NoType(f"the schema names {type_name[1:]}, which neither it nor its references define")
    return messages[type_name]


def file_descriptor(text: str, name: str) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(base64.b64decode(text, validate=True))
    except (ValueError, DecodeError):
        raise NoType(
            f"the registry holds {name} as .proto text, which the connector cannot read (it needs the "
            "serialized form, which confluent-kafka's ProtobufSerializer registers)"
        ) from None
    return proto


def _messages(proto: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    def walk(prefix: str, message: descriptor_pb2.DescriptorProto) -> Iterator[tuple[str, Any]]:
        name = f"{prefix}.{message.name}"
        yield name, message
        for nested in message.nested_type:
            yield from walk(name, nested)

    prefix = f".{proto.package}" if proto.package else ""
    for message in proto.message_type:
        yield from walk(prefix, message)
