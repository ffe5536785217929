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
Each format's rules live in its module (``avro``, ``protobuf``, ``json_schema``); what they
share (``NoType``, nullable types, paths, references) in ``shared``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from connector.config import NO_DEFAULT, REGISTRY_FORMATS, ColumnConfig, MappingConfig, SourceKind
from connector.errors import DataError
from connector.ports import RegisteredSchema
from connector.registry_decoding import SCHEMA_TYPES
from connector.registry_types.avro import avro_type
from connector.registry_types.json_schema import json_schema_type
from connector.registry_types.protobuf import file_descriptor, protobuf_type
from connector.registry_types.shared import NoType, nullable, shown
from connector.types import column_type

__all__ = [
    "Derived",
    "LatestSchemas",
    "NoType",
    "SubjectVersion",
    "derive",
    "needs_types",
    "nullable",
    "schema_type",
]


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
    where = f"{column.where or column.name} ({shown(column.path)}, stream {mapping.stream})"
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


def schema_type(fmt: str, schema: RegisteredSchema, path: Sequence[str], *, message: int = 0) -> str:
    """The Timeplus type of the values ``registry_decoding`` produces at ``path``; NoType when none is faithful.

    ``message``: for Protobuf, which of the file's top-level messages the values are.
    """
    try:
        if fmt == "protobuf":
            return protobuf_type(schema, tuple(path), message)
        return _DERIVERS[fmt](schema, tuple(path))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        # A schema the registry accepted but whose parts are not what its kind defines.
        raise NoType(f"the schema is malformed on the way to {shown(path)} ({type(exc).__name__}: {exc})") from None


def _protobuf_message_of(mapping: MappingConfig, schema: RegisteredSchema) -> int:
    """The first of the file's top-level messages that has every path the mapping reads (else the first).

    A subject's schema is a whole file; which message a topic carries is written in each
    value (its message index), not in the registry.
    """
    paths = [c.path for c in mapping.columns if _untyped(c)]
    try:
        count = len(file_descriptor(schema.text, "the schema").message_type)
    except NoType:
        return 0
    for index in range(count):
        try:
            for path in paths:
                protobuf_type(schema, path, index)
        except NoType:
            continue
        return index
    return 0


_DERIVERS: Final[dict[str, Callable[[RegisteredSchema, tuple[str, ...]], str]]] = {
    "avro": avro_type,
    "json_schema": json_schema_type,
}
