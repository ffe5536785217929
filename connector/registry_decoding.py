"""Decoding values written by Confluent's serializers: ``avro``, ``protobuf`` and ``json_schema``.

Confluent's wire format is a zero magic byte, the schema id (4 bytes, big-endian), then
the body; Protobuf bodies start with the message index (zigzag varints naming the message
in the schema's file). Each schema id is fetched from the registry once, through a
``SchemaSource`` passed in (the adapter in ``schema_registry.py`` speaks HTTP; this module
does not), and compiled into a reader that is cached for the rest of the run. An id the
registry does not know is cached as a data error, so a topic of garbage does not hammer it.

Decoded values are what column paths read, as for JSON: Avro records and Protobuf messages
become dicts. Values with no JSON form are made exact JSON-ready values here (Avro decimal
→ its exact text, uuid → text, time → ``hh:mm:ss.fff[fff]``, bytes/fixed → base64 as Kafka
Connect's JsonConverter writes them, a float's NaN or infinity → ``nan``/``inf``/``-inf``,
the text Timeplus reads for float columns, where orjson would write null and Protobuf's
JSON form writes ``NaN``/``Infinity``, a Protobuf enum number the schema does not name →
its number as text, a JSON Schema number whose literal is an integer (``2.0``) → that
integer); Avro timestamps stay ``datetime`` and dates ``date``,
which date and time columns convert exactly and untyped columns send as ISO-8601.

While the registry is unreachable, ``decode`` waits and retries with backoff (one warning
per outage): the poll in hand is not mapped, so nothing of it, or after it, is committed.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import fastavro
import fastjsonschema
import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from connector.errors import DataError, RetriableError
from connector.exact_json import decode_exact, might_lose_digits
from connector.ports import RegisteredSchema, SchemaSource
from connector.types.numbers import non_finite_text

log = logging.getLogger(__name__)

#: The registry's schemaType of each format.
SCHEMA_TYPES: Final = {"avro": "AVRO", "protobuf": "PROTOBUF", "json_schema": "JSON"}
_HEADER: Final = 5
Reader = Callable[[bytes], Any]


class Backoff:
    """Full-jitter exponential backoff between attempts to reach the registry."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s, self.max_s = initial_s, max_s

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_s, self.initial_s * 2 ** min(attempt - 1, 30)))


class RegistryDecoder:
    """Decodes registry-framed values; ``decode`` has ``decoding.decode_value``'s signature."""

    def __init__(
        self,
        source: SchemaSource,
        backoff: Backoff,
        *,
        stopping: Callable[[], bool],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._source = source
        self._backoff = backoff
        self._stopping = stopping
        self._sleep = sleep
        #: Per schema id: (its schemaType, a reader per Protobuf message index or the one reader),
        #: or the DataError every message naming that id gets.
        self._readers: dict[int, _Schema | DataError] = {}
        self._down = False
        #: Schema fetches that reached the registry (tests check that each id is fetched once).
        self.fetches = 0

    def decode(self, value: bytes | None, fmt: str) -> Any:
        """Decode a value framed by Confluent's serializers; raise DataError, or RetriableError when stopping."""
        if value is None:
            raise DataError("tombstone (null value)")
        if len(value) < _HEADER or value[0] != 0:
            raise DataError(_no_magic(value))
        schema_id = int.from_bytes(value[1:5], "big")
        schema = self._readers.get(schema_id) or self._load(schema_id)
        if type(schema) is DataError:
            # A new error each time: raising the cached one again would grow its traceback.
            raise DataError(schema.reason)
        assert isinstance(schema, _Schema)
        if schema.schema_type != SCHEMA_TYPES[fmt]:
            raise DataError(f"schema {schema_id} is {schema.schema_type}, but the mapping's format is {fmt}")
        return schema.read(value)

    def _load(self, schema_id: int) -> _Schema | DataError:
        attempt = 0
        while True:
            try:
                registered = self._source.schema(schema_id)
                break
            except RetriableError as exc:
                attempt += 1
                if not self._down:
                    self._down = True
                    log.warning("schema registry: %s; retrying until it answers (nothing is committed meanwhile)", exc)
                self._wait(self._backoff.delay(attempt), exc)
            except DataError as exc:
                self._answered()
                self._readers[schema_id] = exc
                return exc
        self._answered()
        self.fetches += 1
        try:
            schema: _Schema | DataError = _Schema(schema_id, registered)
        except DataError as exc:
            schema = exc
        self._readers[schema_id] = schema
        return schema

    def _answered(self) -> None:
        if self._down:
            self._down = False
            log.warning("schema registry answers again")

    def _wait(self, seconds: float, cause: RetriableError) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self._stopping():
                raise RetriableError(f"stopping while the schema registry is unreachable: {cause}") from cause
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._sleep(min(left, 0.1))


def _no_magic(value: bytes) -> str:
    if not value:
        return "empty value"
    if value[0] != 0:
        return f"no Schema Registry framing: the value starts with byte 0x{value[0]:02x}, not the magic byte 0"
    return f"no Schema Registry framing: {len(value)} bytes, shorter than the 5-byte header"


class _Schema:
    """One schema id compiled into its reader."""

    __slots__ = ("read", "schema_type")

    def __init__(self, schema_id: int, registered: RegisteredSchema) -> None:
        self.schema_type = registered.schema_type
        if self.schema_type == "AVRO":
            self.read: Reader = _avro_reader(schema_id, registered)
        elif self.schema_type == "PROTOBUF":
            self.read = _ProtobufReader(schema_id, registered).read
        elif self.schema_type == "JSON":
            self.read = _json_schema_reader(schema_id, registered)
        else:
            raise DataError(f"schema {schema_id} has the unknown schemaType {self.schema_type!r}")


# -- Avro -----------------------------------------------------------------------

#: Avro types and logical types whose decoded Python values may have no exact JSON form
#: (a float or double may be NaN or an infinity, which orjson would write as null).
_AVRO_NEEDS_NORMAL: Final = frozenset(
    {"float", "double", "bytes", "fixed", "decimal", "uuid", "time-millis", "time-micros"}
)


def _avro_reader(schema_id: int, registered: RegisteredSchema) -> Reader:
    named: dict[str, Any] = {}
    try:
        for _, reference in registered.references:
            fastavro.parse_schema(json.loads(reference.text), named)
        raw = json.loads(registered.text)
        parsed = fastavro.parse_schema(raw, named)
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise DataError(f"schema {schema_id} is not a valid Avro schema: {exc}") from None
    reader = fastavro.schemaless_reader
    where = f"Avro schema {schema_id}"
    if isinstance(parsed, dict) and parsed.get("type") == "record":
        fields = tuple(f["name"] for f in parsed["fields"] if _avro_needs_normal(f["type"], named, set()))
        whole = False
    else:
        fields, whole = (), _avro_needs_normal(parsed, named, set())

    def read(value: bytes) -> Any:
        body = io.BytesIO(value)
        body.seek(_HEADER)
        try:
            decoded: Any = reader(body, parsed, None)
        except Exception as exc:  # fastavro raises what the bytes provoke: EOF, index, unicode, struct...
            raise DataError(f"value does not match {where}: {type(exc).__name__}: {exc}") from None
        if body.tell() != len(value):
            raise DataError(f"value does not match {where}: {len(value) - body.tell()} bytes after the record")
        if fields:
            for name in fields:
                v = decoded[name]
                if type(v) is not float:
                    decoded[name] = _normal(v)
                elif v - v != 0.0:  # NaN or an infinity; a finite float is the common case, left as it is
                    decoded[name] = non_finite_text(v)
        elif whole:
            decoded = _normal(decoded)
        return decoded

    return read


def _avro_needs_normal(schema: Any, named: dict[str, Any], seen: set[str]) -> bool:
    """Whether values of ``schema`` may hold something without an exact JSON form."""
    if isinstance(schema, str):
        if schema in named and schema not in seen:
            seen.add(schema)
            return _avro_needs_normal(named[schema], named, seen)
        return schema in _AVRO_NEEDS_NORMAL
    if isinstance(schema, list):
        return any(_avro_needs_normal(s, named, seen) for s in schema)
    if not isinstance(schema, dict):
        return False
    if schema.get("logicalType") in _AVRO_NEEDS_NORMAL or schema.get("type") in ("bytes", "fixed"):
        return True
    kind = schema.get("type")
    if kind == "record":
        return any(_avro_needs_normal(f["type"], named, seen) for f in schema["fields"])
    if kind == "array":
        return _avro_needs_normal(schema["items"], named, seen)
    if kind == "map":
        return _avro_needs_normal(schema["values"], named, seen)
    return _avro_needs_normal(kind, named, seen)


def _normal(v: Any) -> Any:
    """``v`` with NaN, infinities, Decimal, UUID, time and bytes values made exact JSON-ready values."""
    kind = type(v)
    if kind is float:
        return v if v - v == 0.0 else non_finite_text(v)
    if kind is Decimal:
        return format(v, "f")
    if kind is bytes:
        return base64.b64encode(v).decode("ascii")
    if kind is UUID:
        return str(v)
    if kind is time_of_day:
        return v.isoformat(timespec="microseconds" if v.microsecond % 1000 else "milliseconds")
    if kind is dict:
        return {key: _normal(item) for key, item in v.items()}
    if kind is list:
        return [_normal(item) for item in v]
    return v


# -- Protobuf -----------------------------------------------------------------------

_WELL_KNOWN: Final = (
    "any_pb2", "duration_pb2", "empty_pb2", "field_mask_pb2", "struct_pb2", "timestamp_pb2", "wrappers_pb2",
)  # fmt: skip


class _ProtobufReader:
    """A Protobuf schema's file in its own descriptor pool; a message class per message index."""

    def __init__(self, schema_id: int, registered: RegisteredSchema) -> None:
        self._id = schema_id
        self._pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()
        for module_name in _WELL_KNOWN:
            module = __import__(f"google.protobuf.{module_name}", fromlist=["DESCRIPTOR"])
            self._pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
            added.add(module.DESCRIPTOR.name)
        self._add_references(registered, added)
        self._file = _file_proto(schema_id, f"schema-{schema_id}.proto", registered.text)
        try:
            self._pool.Add(self._file)
        except (TypeError, KeyError, ValueError) as exc:
            raise DataError(f"schema {schema_id} is not a usable Protobuf schema: {exc}") from None
        self._classes: dict[bytes, tuple[type[Message], int, Descriptor | None]] = {}

    def _add_references(self, registered: RegisteredSchema, added: set[str]) -> None:
        for name, reference in registered.references:
            if name in added:
                continue
            added.add(name)
            self._add_references(reference, added)
            try:
                self._pool.Add(_file_proto(self._id, name, reference.text))
            except (TypeError, KeyError, ValueError) as exc:
                raise DataError(f"schema {self._id}: its reference {name} is not usable: {exc}") from None

    def read(self, value: bytes) -> Any:
        # The index is short (usually the single byte 0): cache the class by its raw bytes.
        end = _index_end(value)
        found = self._classes.get(value[_HEADER:end])
        if found is None:
            found = self._classes[value[_HEADER:end]] = self._message_class(value, end)
        cls, start, descriptor = found
        message = cls()
        try:
            message.ParseFromString(value[start:])
        except DecodeError as exc:
            raise DataError(f"value does not match Protobuf schema {self._id}: {exc}") from None
        decoded = json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        if descriptor is not None:
            _respell(decoded, descriptor)
        return decoded

    def _message_class(self, value: bytes, end: int) -> tuple[type[Message], int, Descriptor | None]:
        """The message class the index names, where its body starts, and its descriptor if it needs ``_respell``."""
        indexes = _message_indexes(value[_HEADER:end], self._id)
        types = self._file.message_type
        names: list[str] = [self._file.package] if self._file.package else []
        for i in indexes:
            if i >= len(types):
                raise DataError(f"message index {indexes} names no message of Protobuf schema {self._id}")
            names.append(types[i].name)
            types = types[i].nested_type
        descriptor = self._pool.FindMessageTypeByName(".".join(names))
        respelled = descriptor if _needs_respelling(descriptor, set()) else None
        return message_factory.GetMessageClass(descriptor), end, respelled


_FLOAT_KINDS: Final = frozenset({FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE})
_FLOAT_WRAPPERS: Final = frozenset({"google.protobuf.FloatValue", "google.protobuf.DoubleValue"})
_NON_FINITE: Final = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}  # MessageToDict's → Timeplus's


def _float_field(field: FieldDescriptor) -> bool:
    message = field.message_type
    return field.type in _FLOAT_KINDS or (message is not None and message.full_name in _FLOAT_WRAPPERS)


def _enum_field(field: FieldDescriptor) -> bool:
    enum = field.enum_type
    return enum is not None and enum.full_name != "google.protobuf.NullValue"


def _own_message(field: FieldDescriptor) -> Descriptor | None:
    """The message type of a field written as a JSON object of its fields (not a well-known type)."""
    message: Descriptor | None = field.message_type
    return None if message is None or message.full_name.startswith("google.protobuf.") else message


def _needs_respelling(descriptor: Descriptor, seen: set[str]) -> bool:
    """Whether messages of ``descriptor`` may hold a float, double or enum anywhere (a map's values included)."""
    if descriptor.full_name in seen:
        return False
    seen.add(descriptor.full_name)
    for field in descriptor.fields:
        nested = _own_message(field)
        if _float_field(field) or _enum_field(field) or (nested is not None and _needs_respelling(nested, seen)):
            return True
    return False


def _respell(decoded: dict[str, Any], descriptor: Descriptor) -> None:
    """Rewrite, in place, what MessageToDict writes in a form the field's Timeplus type does not read.

    A float's ``NaN``/``Infinity`` become ``nan``/``inf``; an enum number the schema does not
    name (proto3 enums are open) becomes its number as text, as its named values are text.
    """
    for field in descriptor.fields:
        value = decoded.get(field.name)
        message = _own_message(field)
        if value is None or (message is None and not _float_field(field) and not _enum_field(field)):
            continue
        if message is not None and message.GetOptions().map_entry:
            value_field = message.fields_by_name["value"]
            _respell_items(value, list(value), value_field, _own_message(value_field))
        elif field.is_repeated:
            _respell_items(value, range(len(value)), field, message)
        else:
            _respell_items(decoded, (field.name,), field, message)


def _respell_items(holder: Any, keys: Iterable[Any], field: FieldDescriptor, message: Descriptor | None) -> None:
    for key in keys:
        item = holder[key]
        if message is not None:
            _respell(item, message)
        elif type(item) is str and _float_field(field):
            holder[key] = _NON_FINITE.get(item, item)
        elif type(item) is int and _enum_field(field):
            holder[key] = str(item)


def _file_proto(schema_id: int, name: str, text: str) -> descriptor_pb2.FileDescriptorProto:
    """A registry's Protobuf schema text: base64 of a serialized FileDescriptorProto."""
    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(base64.b64decode(text, validate=True))
    except (ValueError, DecodeError):
        raise DataError(
            f"schema {schema_id}: the registry returned {name} as .proto text, which the connector cannot "
            "compile; it needs the serialized form (GET /schemas/ids/N?format=serialized)"
        ) from None
    proto.name = name
    return proto


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``: (its value, the position after it)."""
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DataError("value ends inside the Protobuf message index")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos


def _index_end(value: bytes) -> int:
    if value[_HEADER:_HEADER + 1] == b"\x00":  # fmt: skip
        return _HEADER + 1  # the first message: the common case
    count, pos = _varint(value, _HEADER)
    if not 0 <= count <= 100:
        raise DataError(f"the Protobuf message index claims {count} entries")
    for _ in range(count):
        _, pos = _varint(value, pos)
    return pos


def _message_indexes(index: bytes, schema_id: int) -> list[int]:
    count, pos = _varint(index, 0)
    if count == 0:
        return [0]
    found = []
    for _ in range(count):
        i, pos = _varint(index, pos)
        if i < 0:
            raise DataError(f"the Protobuf message index of schema {schema_id} holds {i}")
        found.append(i)
    return found


# -- JSON Schema ---------------------------------------------------------------------


def _json_schema_reader(schema_id: int, registered: RegisteredSchema) -> Reader:
    try:
        handlers = _ReferencedDocuments(registered)
        validate = fastjsonschema.compile(json.loads(registered.text), handlers=handlers)
    except (ValueError, fastjsonschema.JsonSchemaDefinitionException) as exc:
        raise DataError(f"schema {schema_id} is not a usable JSON Schema: {exc}") from None
    invalid = fastjsonschema.JsonSchemaValueException
    integers = any('"integer"' in text for text in _schema_texts(registered))

    def read(value: bytes) -> Any:
        try:
            decoded = orjson.loads(value[_HEADER:])
        except orjson.JSONDecodeError as exc:
            raise DataError(f"value is not valid JSON: {exc}") from None
        try:
            validate(decoded)
        except invalid as exc:
            raise DataError(f"value does not match JSON Schema {schema_id}: {exc.message}") from None
        if not integers:
            return decoded
        # Where a literal has more digits than a float holds, read the body exactly:
        # ``2.00000000000000001`` must not become the integer 2.
        return _whole_numbers_as_ints(decode_exact(value[_HEADER:]) if might_lose_digits(value, tiny=True) else decoded)

    return read


def _schema_texts(registered: RegisteredSchema) -> Iterator[str]:
    yield registered.text
    for _, reference in registered.references:
        yield from _schema_texts(reference)


def _whole_numbers_as_ints(v: Any) -> Any:
    """``2.0`` as ``2``: JSON Schema's ``integer`` admits it, Timeplus's integer columns do not.

    ``v`` is exact (each float its literal, else a Decimal); a number with a fraction stays
    as it is, which an integer column refuses (dead-lettered with the reason).
    """
    kind = type(v)
    if kind is float:
        return int(v) if v.is_integer() else v
    if kind is Decimal:
        return int(v) if v == v.to_integral_value() else v
    if kind is dict:
        return {key: _whole_numbers_as_ints(item) for key, item in v.items()}
    if kind is list:
        return [_whole_numbers_as_ints(item) for item in v]
    return v


class _ReferencedDocuments(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema's ``$ref`` handlers for every URI scheme: the schema's references, never the network.

    A ``$ref`` names a reference by its name (``customer.json``), or by a URI ending in it.
    """

    def __init__(self, registered: RegisteredSchema) -> None:
        self._documents: dict[str, Any] = {}
        pending = list(registered.references)
        while pending:
            name, reference = pending.pop()
            if name not in self._documents:
                self._documents[name] = json.loads(reference.text)
                pending += reference.references

    def _fetch(self, uri: str) -> Any:
        for name, document in self._documents.items():
            if uri == name or uri.endswith("/" + name):
                return document
        raise ValueError(f"$ref {uri} names no reference of the schema")

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return self._fetch

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
