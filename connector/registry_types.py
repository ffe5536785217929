"""Column types from registered schemas: what ``create-streams`` and ``check`` give untyped columns.

An untyped ``value`` column of an ``avro``, ``protobuf`` or ``json_schema`` mapping sends
what ``registry_decoding`` decoded, as it is. Its type is read from the latest schema of
each topic's value subject (``<topic>-value``, Confluent's TopicNameStrategy; for a
``topic_pattern``, every registered ``<topic>-value`` subject whose topic matches): the
Timeplus type that stores exactly the value the decoder produces for the column's path.

* Avro: ``boolean`` bool, ``int`` int32, ``long`` int64, ``float`` float32, ``double``
  float64, ``string`` / ``bytes`` / ``fixed`` / ``enum`` string (bytes and fixed as base64
  text, enum symbols as text: a later version may add symbols), ``timestamp-millis`` /
  ``-micros`` (and ``local-``) datetime64(3 / 6, 'UTC'), ``date`` date32, ``time-*`` string,
  ``decimal`` decimal(P, S), ``uuid`` uuid, a record json, array(T), map(string, T), and
  ``[null, T]`` nullable(T). A logical type fastavro does not read (``timestamp-nanos``,
  ``duration``, uuid on fixed) is its underlying type, as the decoder sends it.
* Protobuf (the file's first top-level message that has every path the mapping reads,
  else its first message; each value names its own): scalars as their kind (64-bit kinds arrive as
  decimal text, which Timeplus reads into int64 / uint64), ``bytes`` and enums string,
  ``Timestamp`` datetime64(9, 'UTC'), wrappers the wrapped type, ``Struct`` / ``Any`` /
  other messages json, ``repeated`` array(T), ``map<K, V>`` map(K, V) (bool keys string).
* JSON Schema: ``string`` string (``format`` date-time datetime64(9, 'UTC'), date date32,
  uuid, ipv4, ipv6), ``integer`` int64, ``number`` float64, ``boolean`` bool, an object
  json (map(string, T) with only ``additionalProperties``), array(T), ``[T, null]`` (or a
  oneOf / anyOf with null) nullable(T); ``$ref`` within the schema and to its references.

A column whose ``default`` is null becomes nullable. Nothing is guessed: a path the schema
does not have, a union of several types, a value that may be anything, or a null Timeplus
cannot store (``nullable(array(...))`` does not exist) is a ``NoType`` naming why, which
``derive`` turns into a problem naming the column, the subject and its version.

Pure: the schemas come through a ``LatestSchemas`` port; ``schema_registry`` speaks HTTP.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import fastavro
from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from connector.config import NO_DEFAULT, REGISTRY_FORMATS, ColumnConfig, MappingConfig, SourceKind
from connector.errors import DataError
from connector.ports import RegisteredSchema
from connector.registry_decoding import SCHEMA_TYPES
from connector.types import column_type, parse_type

#: The deepest a schema is followed through references and $ref (a loop would never end).
MAX_DEPTH: Final = 64


@dataclass(frozen=True, slots=True)
class SubjectVersion:
    """The latest version of a subject, as the registry lists it."""

    subject: str
    version: int
    schema_id: int
    schema: RegisteredSchema

    def __str__(self) -> str:
        return f"subject {self.subject} version {self.version} (schema id {self.schema_id})"


class LatestSchemas(Protocol):
    """What deriving types needs of a Schema Registry."""

    def subjects(self) -> list[str]:
        """Every registered subject; RetriableError when unreachable, FatalError for refused credentials."""
        ...

    def latest(self, subject: str) -> SubjectVersion | None:
        """The latest version of ``subject``, or None when it has none; errors as for ``subjects``."""
        ...


class NoType(Exception):
    """A schema gives no faithful Timeplus type for a path; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Derived:
    """Types for the untyped columns of registry mappings, and why others have none."""

    #: Per mapping, in config order: column name → the type its values need.
    types: tuple[dict[str, str], ...]
    #: (where: a column or mapping, why it has no type) per column without one, and per unusable subject.
    problems: tuple[tuple[str, str], ...] = ()
    #: The subject versions read, in first-use order.
    sources: tuple[SubjectVersion, ...] = ()


def needs_types(mapping: MappingConfig) -> bool:
    """Whether ``mapping`` reads a registry format into a column without a type."""
    return mapping.format in REGISTRY_FORMATS and any(_untyped(c) for c in mapping.columns)


def derive(mappings: Sequence[MappingConfig], registry: LatestSchemas) -> Derived:
    """The type of every untyped value column of the registry mappings, from their subjects' latest schemas.

    Registry errors (unreachable: RetriableError, refused credentials: FatalError)
    propagate; everything about the schemas themselves is a problem.
    """
    subjects = _Subjects(registry)
    types: list[dict[str, str]] = []
    problems: list[tuple[str, str]] = []
    for mapping in mappings:
        found: dict[str, str] = {}
        types.append(found)
        if not needs_types(mapping):
            continue
        versions = []
        for version in subjects.of(mapping):
            if isinstance(version, str):
                problems.append((_where(mapping), version))
            else:
                versions.append(version)
        for column in mapping.columns:
            if versions and _untyped(column):
                type_name, problem = _column_type(mapping, column, versions)
                if type_name is not None:
                    found[column.name] = type_name
                if problem is not None:
                    problems.append(problem)
    return Derived(tuple(types), tuple(problems), tuple(subjects.used))


class _Subjects:
    """The registry's subjects, each asked for once: the latest versions a mapping's topics name."""

    def __init__(self, registry: LatestSchemas) -> None:
        self._registry = registry
        self._latest: dict[str, SubjectVersion | str] = {}
        self._listed: list[str] | None = None
        self.used: list[SubjectVersion] = []

    def of(self, mapping: MappingConfig) -> list[SubjectVersion | str]:
        """The latest version of each subject feeding ``mapping``, or why there is none."""
        names = [f"{topic}-value" for topic in mapping.topics]
        if mapping.topic_pattern is not None:
            self._listed = self._registry.subjects() if self._listed is None else self._listed
            suffix = len("-value")
            names += sorted(s for s in self._listed if s.endswith("-value") and mapping.matches(s[:-suffix]))
            if not names:
                return [f"no registered subject <topic>-value matches {mapping.topic_pattern}"]
        found = [self._version(name) for name in dict.fromkeys(names)]
        kind = SCHEMA_TYPES[mapping.format]
        return [v if isinstance(v, str) or v.schema.schema_type == kind else
                f"{v} is {v.schema.schema_type}, not {mapping.format}" for v in found]  # fmt: skip

    def _version(self, subject: str) -> SubjectVersion | str:
        if subject not in self._latest:
            try:
                version = self._registry.latest(subject)
            except DataError as exc:  # e.g. a reference the registry does not have
                self._latest[subject] = f"subject {subject}: {exc.reason}"
            else:
                self._latest[subject] = version or f"subject {subject} has no registered schema"
                if version is not None:
                    self.used.append(version)
        return self._latest[subject]


def _untyped(column: ColumnConfig) -> bool:
    return column.kind is SourceKind.VALUE and column.type is None


def _where(mapping: MappingConfig) -> str:
    return f"{mapping.where or 'mapping'} (stream {mapping.stream})"


def _column_type(
    mapping: MappingConfig, column: ColumnConfig, versions: list[SubjectVersion]
) -> tuple[str | None, tuple[str, str] | None]:
    """The column's type over every subject feeding it, or a problem naming the column and subject."""
    where = f"{column.where or column.name} ({_shown(column.path)}, stream {mapping.stream})"
    by_version = {}
    for version in versions:
        message = _protobuf_message_of(mapping, version.schema) if mapping.format == "protobuf" else 0
        try:
            found = schema_type(mapping.format, version.schema, column.path, message=message)
            by_version[version] = _with_default(found, column)
        except NoType as exc:
            return None, (where, f"{version}: {exc.reason}; give the column a type")
    kinds = set(by_version.values())
    if len(kinds) > 1:
        said = ", ".join(f"{v.subject} v{v.version}: {t}" for v, t in by_version.items())
        return None, (where, f"the subjects disagree ({said}); give the column a type")
    return kinds.pop(), None


def _with_default(type_name: str, column: ColumnConfig) -> str:
    """A null default makes the column nullable; any other default must fit the type."""
    if column.default is None:
        return nullable(type_name, "its default is null")
    if column.default is not NO_DEFAULT:
        try:
            column_type(type_name).convert(column.default)
        except ValueError as exc:
            raise NoType(f"its default does not fit {type_name}: {exc}") from None
    return type_name


def nullable(type_name: str, why: str) -> str:
    """``nullable(type_name)``; NoType when Timeplus has no nullable form of it."""
    if type_name.startswith("nullable("):
        return type_name
    try:
        return str(parse_type(f"nullable({type_name})"))
    except ValueError:
        raise NoType(f"{why}, and Timeplus has no nullable {type_name} (a null would be stored as empty)") from None


def schema_type(fmt: str, schema: RegisteredSchema, path: Sequence[str], *, message: int = 0) -> str:
    """The Timeplus type of the values ``registry_decoding`` produces at ``path``; NoType when none is faithful.

    ``message``: for Protobuf, which of the file's top-level messages the values are.
    """
    try:
        if fmt == "protobuf":
            return _protobuf_type(schema, tuple(path), message)
        return _DERIVERS[fmt](schema, tuple(path))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        # A schema the registry accepted but whose parts are not what its kind defines.
        raise NoType(f"the schema is malformed on the way to {_shown(path)} ({type(exc).__name__}: {exc})") from None


def _protobuf_message_of(mapping: MappingConfig, schema: RegisteredSchema) -> int:
    """The first of the file's top-level messages that has every path the mapping reads (else the first).

    A subject's schema is a whole file; which message a topic carries is written in each
    value (its message index), not in the registry.
    """
    paths = [c.path for c in mapping.columns if _untyped(c)]
    try:
        count = len(_file_descriptor(schema.text, "the schema").message_type)
    except NoType:
        return 0
    for index in range(count):
        try:
            for path in paths:
                _protobuf_type(schema, path, index)
        except NoType:
            continue
        return index
    return 0


def _shown(path: Sequence[str]) -> str:
    return ".".join(("value", *path))


# -- Avro -------------------------------------------------------------------------------------

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


def _avro_type(schema: RegisteredSchema, path: tuple[str, ...]) -> str:
    named: dict[str, Any] = {}
    try:
        for _, reference in _named_dependencies(schema):
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
            raise NoType(f"{_shown(path[:-1])} is a union of {_avro_names(branches)}: which one holds {segment}?")
        node = _avro_named(branches[0], named)
    kind = node.get("type") if isinstance(node, dict) else node
    if kind == "record":
        fields = {f["name"]: f["type"] for f in node["fields"]}
        if segment not in fields:
            raise NoType(f"the record {node['name']} has no field {segment} (it has {', '.join(fields)})")
        return fields[segment]
    if kind == "array":
        if not _is_index(segment):
            raise NoType(f"{_shown(path[:-1])} is an array: {segment} is no index")
        return node["items"]
    if kind == "map":
        return node["values"]
    if isinstance(kind, str) and kind in named:
        return _avro_step(named[kind], segment, path, named)
    raise NoType(f"{_shown(path[:-1])} is {_avro_names([node])}, which has no {segment}")


def _avro_leaf(node: Any, named: dict[str, Any], path: tuple[str, ...]) -> str:
    node = _avro_named(node, named)
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if len(branches) != 1:
            raise NoType(f"{_shown(path)} is a union of {_avro_names(branches)}: no one Timeplus type holds them all")
        inner = _avro_leaf(branches[0], named, path)
        return nullable(inner, f"{_shown(path)} may be null") if len(branches) < len(node) else inner
    if isinstance(node, str):
        if node not in _AVRO_PRIMITIVES:
            raise NoType(f"{_shown(path)} is always null")
        return _AVRO_PRIMITIVES[node]
    kind, logical = node["type"], node.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        precision, scale = int(node["precision"]), int(node.get("scale", 0))
        if precision > MAX_DECIMAL_PRECISION:
            raise NoType(
                f"{_shown(path)} is decimal({precision}, {scale}): Timeplus holds {MAX_DECIMAL_PRECISION} digits"
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
            raise NoType(f"{_shown(path)} is an {kind} of records, which has no faithful Timeplus type")
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


# -- Protobuf ----------------------------------------------------------------------------------

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


def _protobuf_type(schema: RegisteredSchema, path: tuple[str, ...], index: int = 0) -> str:
    files = [_file_descriptor(schema.text, "the schema")]
    files += [_file_descriptor(r.text, name) for name, r in _named_dependencies(schema)]
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
            elif not _is_index(segment):
                raise NoType(f"{_shown(where[:-1])} is a repeated field: {segment} is no index")
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
        raise NoType(f"{_shown(path)} is a {node.type_name[1:]}, written as one value: it has no fields")
    if node.type not in (_F.TYPE_MESSAGE, _F.TYPE_GROUP):
        raise NoType(f"{_shown(path)} is a scalar, which has no fields")
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
        raise NoType(f"{_shown(path)} is a {node.type_name[1:]}, which may hold any JSON value")
    _known(node.type_name, messages)
    return "json"


def _protobuf_element(
    node: descriptor_pb2.FieldDescriptorProto,
    messages: dict[str, descriptor_pb2.DescriptorProto],
    path: tuple[str, ...],
) -> str:
    inner = _protobuf_leaf(node, messages, path, True)
    if inner == "json":
        raise NoType(f"{_shown(path)} holds messages, and a collection of them has no faithful Timeplus type")
    return inner


def _known(type_name: str, messages: dict[str, descriptor_pb2.DescriptorProto]) -> descriptor_pb2.DescriptorProto:
    if type_name not in messages:
        raise NoType(f"the schema names {type_name[1:]}, which neither it nor its references define")
    return messages[type_name]


def _file_descriptor(text: str, name: str) -> descriptor_pb2.FileDescriptorProto:
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


# -- JSON Schema --------------------------------------------------------------------------------

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
        self.documents = {name: _json_document(r.text, name) for name, r in _named_dependencies(schema)}

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
            elif isinstance(target, list) and _is_index(key) and int(key) < len(target):
                target = target[int(key)]
            else:
                raise NoType(f"$ref {ref} points at nothing")
        return _JsonNode(target, document)


def _json_schema_type(schema: RegisteredSchema, path: tuple[str, ...]) -> str:
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
            raise NoType(f"{_shown(path)} combines {len(parts)} schemas (allOf): no type is derived from that")
        node = schemas.resolve(_JsonNode(parts[0], node.document))
    schema = node.schema
    if schema is True or schema == {}:
        raise NoType(f"{_shown(path)} may be any JSON value")
    if not isinstance(schema, dict):
        raise NoType(f"{_shown(path)} allows no value")
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            options = [schemas.resolve(_JsonNode(s, node.document)) for s in schema[keyword]]
            branches = [b for b in options if not _json_is_null(b.schema)]
            return branches, len(branches) < len(options)
    if "allOf" in schema:
        raise NoType(f"{_shown(path)}: allOf leads on more than {MAX_DEPTH} times")
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
        raise NoType(
            f"{_shown(path)} may be one of {len(branches)} kinds of value: no one Timeplus type holds them all"
        )
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
        raise NoType(f"{_shown(path)} does not say its type")
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
        raise NoType(f"{_shown(parent)} declares no property {segment} (it has {', '.join(properties) or 'none'})")
    if kind == "array":
        if not _is_index(segment):
            raise NoType(f"{_shown(parent)} is an array: {segment} is no index")
        positional = schema.get("prefixItems", schema.get("items") if isinstance(schema.get("items"), list) else None)
        if positional is not None:
            if int(segment) < len(positional):
                return _JsonNode(positional[int(segment)], node.document)
            raise NoType(f"{_shown(parent)} has no item {segment}")
        if "items" not in schema:
            raise NoType(f"{_shown(parent)} does not say what its items are")
        return _JsonNode(schema["items"], node.document)
    raise NoType(f"{_shown(parent)} is {kind}, which has no {segment}")


def _json_leaf(schemas: _JsonSchemas, node: _JsonNode, path: tuple[str, ...], depth: int) -> str:
    if depth > MAX_DEPTH:
        raise NoType(f"{_shown(path)} nests deeper than {MAX_DEPTH}")
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
            raise NoType(f"{_shown(path)} is an array of no single item type")
        inner = f"array({_json_element(schemas, _JsonNode(schema['items'], node.document), path, depth)})"
    elif kind == "null":
        raise NoType(f"{_shown(path)} is always null")
    else:
        raise NoType(f"{_shown(path)} has the unknown type {kind!r}")
    return nullable(inner, f"{_shown(path)} may be null") if null else inner


def _json_element(schemas: _JsonSchemas, node: _JsonNode, path: tuple[str, ...], depth: int) -> str:
    inner = _json_leaf(schemas, node, path, depth + 1)
    if inner == "json":
        raise NoType(f"{_shown(path)} holds objects, and a collection of them has no faithful Timeplus type")
    return inner


def _json_document(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NoType(f"{name} is not JSON: {exc}") from None


# -- shared ----------------------------------------------------------------------------------


def _named_dependencies(schema: RegisteredSchema, depth: int = 0) -> Iterator[tuple[str, RegisteredSchema]]:
    """Every schema ``schema`` references, with its name, each after those it references itself."""
    if depth > MAX_DEPTH:
        raise NoType(f"schema references nest deeper than {MAX_DEPTH}")
    for name, reference in schema.references:
        yield from _named_dependencies(reference, depth + 1)
        yield name, reference


def _is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit()


_DERIVERS: Final[dict[str, Callable[[RegisteredSchema, tuple[str, ...]], str]]] = {
    "avro": _avro_type,
    "json_schema": _json_schema_type,
}
