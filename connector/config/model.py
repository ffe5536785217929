"""The validated configuration: frozen values, each default written here and nowhere else.

``connector.config.validate`` builds these from a YAML file; a field the file leaves
out keeps the default below (the validator passes only what the file sets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from connector.config.topics import subscription_entry
from connector.types import ColumnType


class Secret:
    """A string that never shows itself in a repr, str or log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for building an HTTP header and nothing else."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SourceKind(Enum):
    """Where a column's value comes from."""

    VALUE = "value"
    KEY = "key"
    HEADER = "headers"
    TOPIC = "topic"
    PARTITION = "partition"
    OFFSET = "offset"
    TIMESTAMP = "timestamp"
    CONSTANT = "constant"


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()
#: Formats of values written by Confluent's serializers: a magic byte and a schema id, then the
#: body (the Protobuf message index before it), decoded with the schema from a Schema Registry.
REGISTRY_FORMATS: Final = ("avro", "protobuf", "json_schema")
FORMATS: Final = ("json", "string", "bytes", *REGISTRY_FORMATS)
#: Formats whose decoded values are objects that column paths (``value.a.b``) can read.
PATH_FORMATS: Final = ("json", *REGISTRY_FORMATS)
ON_ERROR: Final = ("dlq", "skip", "fail")
#: The most ingest requests in flight a config may ask for.
MAX_IN_FLIGHT: Final = 64

AuthHeader = Literal["x-api-key", "authorization"]
ApiVersion = Literal["v1beta1", "v1beta2"]
BodyFormat = Literal["compact", "ndjson"]
Delivery = Literal["at_least_once", "exactly_once"]
AUTH_HEADERS: Final[tuple[AuthHeader, ...]] = ("x-api-key", "authorization")
API_VERSIONS: Final[tuple[ApiVersion, ...]] = ("v1beta1", "v1beta2")
BODY_FORMATS: Final[tuple[BodyFormat, ...]] = ("compact", "ndjson")
DELIVERIES: Final[tuple[Delivery, ...]] = ("at_least_once", "exactly_once")


class OwnedProp(NamedTuple):
    """A librdkafka consumer property the delivery guarantees rely on."""

    value: str
    why: str


#: Consumer properties the connector sets itself; a config may only repeat their value.
OWNED_CONSUMER_PROPS: Final[Mapping[str, OwnedProp]] = MappingProxyType(
    {
        "enable.auto.commit": OwnedProp("false", "the connector commits only after Timeplus accepted the rows"),
        "enable.auto.offset.store": OwnedProp("false", "the connector stores offsets itself"),
    }
)
#: ``OWNED_CONSUMER_PROPS`` as librdkafka settings, laid over the user's by the Kafka adapter.
FORCED_CONSUMER_PROPS: Final[Mapping[str, str]] = MappingProxyType(
    {key: prop.value for key, prop in OWNED_CONSUMER_PROPS.items()}
)


#: The consumer group protocols (``kafka.group.protocol``): the classic one, and KIP-848's.
GROUP_PROTOCOLS: Final = ("classic", "consumer")
#: Classic-protocol consumer properties that KIP-848's protocol leaves to the broker (librdkafka refuses them).
CLASSIC_ONLY_CONSUMER_PROPS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "partition.assignment.strategy": "the broker assigns partitions (its assignor: group.remote.assignor)",
        "session.timeout.ms": "the broker's group.consumer.session.timeout.ms applies",
        "heartbeat.interval.ms": "the broker's group.consumer.heartbeat.interval.ms applies",
        "group.protocol.type": "the consumer protocol has no protocol type",
    }
)


@dataclass(frozen=True, slots=True)
class ColumnConfig:
    """One stream column and the recipe for its value."""

    name: str
    """The stream column's name."""
    kind: SourceKind
    """Where the value comes from."""
    path: tuple[str, ...] = ()
    """For VALUE: the path into the decoded value (empty = the whole value); segments that
    are digits index lists. For HEADER: the header name."""
    type: ColumnType | None = None
    """The parsed Timeplus type and its converter, compiled for the column's epoch ``unit``
    (always ms for timestamp); None passes the value as is."""
    constant: Any = None
    """The value of a CONSTANT column, already converted to the column's type."""
    default: Any = NO_DEFAULT
    """Used when the source is absent, already converted; NO_DEFAULT makes absence a data
    error (unless the type is nullable, where absence is null)."""
    where: str = ""
    """Where this column was declared, for error messages."""


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """Which topics feed one stream, and how a message becomes a row."""

    stream: str
    """The Timeplus stream the rows go to."""
    columns: tuple[ColumnConfig, ...]
    """The stream's columns, in order."""
    topics: tuple[str, ...] = ()
    """Topics read by name."""
    topic_pattern: str | None = None
    """A regular expression; matching topics are read too."""
    format: str = "json"
    """How message values are decoded: json, string, bytes, or (through ``schema_registry``)
    avro, protobuf or json_schema."""
    on_error: str = "fail"
    """What to do with a message that cannot be decoded, mapped or ingested: ``dlq`` (to
    ``dlq_topic``), ``skip`` (log and count) or ``fail`` (stop). ``dlq`` when a
    ``dlq_topic`` is set."""
    dlq_topic: str | None = None
    """The dead-letter topic."""
    reject_duplicate_keys: bool = False
    """Treat JSON objects with a repeated key as bad messages (costs ~4x in decoding)."""
    where: str = ""
    """Where this mapping was declared, for error messages."""

    def matches(self, topic: str) -> bool:
        """True when messages of ``topic`` feed this mapping."""
        if topic in self.topics:
            return True
        return self.topic_pattern is not None and re.search(self.topic_pattern, topic) is not None


@dataclass(frozen=True, slots=True)
class TimeplusConfig:
    """Where and how to reach Timeplus."""

    url: str
    """``http(s)://host[:port]`` of Timeplus, without a trailing slash."""
    workspace: str | None = None
    """Set for Timeplus Enterprise / Cloud: selects the app server's ``/{workspace}/api/{api_version}/...``."""
    api_version: ApiVersion = "v1beta2"
    """The app server's route (with ``workspace``): v1beta2, what current Timeplus serves, or v1beta1."""
    api_key: Secret | None = None
    """Timeplus Cloud's API key, sent in the header ``auth_header`` names."""
    auth_header: AuthHeader = "x-api-key"
    """How ``api_key`` is sent: ``X-Api-Key: KEY``, or ``Authorization: ApiKey KEY`` for
    gateways and tools that pass only standard headers."""
    username: str | None = None
    """HTTP Basic user."""
    password: Secret | None = None
    """HTTP Basic password."""
    timeout_s: float = 30.0
    """Read timeout of one ingest request."""
    connect_timeout_s: float = 5.0
    """Connect timeout of one ingest request."""
    gzip: bool = False
    """Compress request bodies."""
    body_format: BodyFormat = "compact"
    """Request bodies: compact ``{"columns", "data"}``, or NDJSON (one object per row; the
    app server only, with ``workspace``)."""
    max_in_flight: int = 8
    """Ingest requests in flight at once (one delivery thread each). With 1,000-row batches
    the bench measured 127k msg/s at 2, 147k at 4, 197k at 8 and 16
    (bench/results/RESULTS-inflight.md); with 10,000-row batches all the same."""
    max_retries: int | None = None
    """Attempts per request for retriable failures; None retries until Timeplus answers."""
    retry_backoff_s: float = 0.2
    """First backoff ceiling of the full-jitter exponential backoff."""
    retry_backoff_max_s: float = 30.0
    """Largest backoff between two attempts."""


@dataclass(frozen=True, slots=True)
class SchemaRegistryConfig:
    """Where the Schema Registry of the avro / protobuf / json_schema mappings is, and how to ask it."""

    url: str
    """Base URL of the Confluent-compatible API, e.g. ``http://registry:8081`` or
    ``http://host:8080/apis/ccompat/v7`` (Apicurio), without a trailing slash."""
    username: str | None = None
    """HTTP Basic user (Confluent Cloud: the API key)."""
    password: Secret | None = None
    """HTTP Basic password (Confluent Cloud: the API secret)."""
    timeout_s: float = 10.0
    """Timeout of one schema fetch."""
    retry_backoff_s: float = 0.2
    """First backoff ceiling while the registry is unreachable (full jitter, doubling)."""
    retry_backoff_max_s: float = 10.0
    """Largest backoff between two attempts; fetches are retried until the registry answers."""


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """When a stream's buffered rows are sent: whichever limit is reached first."""

    max_rows: int = 10_000
    """Rows per request."""
    max_bytes: int = 4 * 1024 * 1024
    """Bytes of row data per request."""
    linger_ms: int = 500
    """How long the first buffered row may wait."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``[host]:port`` → (host, port); an empty host listens on every interface. Raises ValueError."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected [host]:port, e.g. :9108 or 127.0.0.1:9108, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The status server: Prometheus metrics, liveness and readiness (off unless ``listen`` is set)."""

    listen: str | None = None
    """``[host]:port`` to serve ``/metrics``, ``/healthz`` and ``/readyz`` on, e.g. ``:9108``."""
    readiness_grace_s: float = 10.0
    """How long the group may go without partitions, and Timeplus may fail, before ``/readyz`` says 503."""


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    kafka: Mapping[str, str] = field(repr=False)
    """librdkafka properties; may hold sasl.password and the like, so never in a repr."""
    timeplus: TimeplusConfig
    """Where and how to reach Timeplus."""
    batch: BatchConfig
    """When buffered rows are sent."""
    mappings: tuple[MappingConfig, ...]
    """Topics to streams."""
    drain_timeout_s: float = 30.0
    """How long shutdown and partition revoke may spend flushing and committing."""
    max_message_bytes: int = 8 * 1024 * 1024
    """Messages with a larger value are data errors (handled by ``on_error``)."""
    max_buffered_bytes: int = 64 * 1024 * 1024
    """Memory of rows buffered or in flight (value bytes + a per-row overhead) above which
    consumption pauses."""
    http: HttpConfig = field(default_factory=HttpConfig)
    """The status server (``run --http`` overrides ``listen``)."""
    schema_registry: SchemaRegistryConfig | None = None
    """The Schema Registry; required when a mapping's format is avro, protobuf or json_schema."""
    delivery: Delivery = "at_least_once"
    """``at_least_once``: a crash may send rows again. ``exactly_once``: each request carries an
    idempotent id that a replay rebuilds, and Timeplus drops the repeat (docs/EXACTLY_ONCE.md)."""

    def subscription(self) -> list[str]:
        """Topic names and ``^regex`` patterns for ``Consumer.subscribe``."""
        names: list[str] = []
        for mapping in self.mappings:
            names.extend(t for t in mapping.topics if t not in names)
            if mapping.topic_pattern is not None:
                pattern = subscription_entry(mapping.topic_pattern)
                if pattern not in names:
                    names.append(pattern)
        return names
