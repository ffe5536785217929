"""The YAML configuration: load, interpolate ``${VAR}``, validate, and freeze.

Every problem in a file is collected and reported at once, each naming its YAML path
(``mappings[2].columns.amount.type: unknown type 'flaot64'``). Secrets are wrapped in
``Secret`` so that no repr, log line or error message can show them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final

import yaml

from connector.errors import ConfigError
from connector.types import parse_type


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
EPOCH_UNITS: Final = ("s", "ms", "us", "ns")
FORMATS: Final = ("json", "string", "bytes")
ON_ERROR: Final = ("dlq", "skip", "fail")
DEFAULT_MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
DEFAULT_MAX_BUFFERED_BYTES: Final = 64 * 1024 * 1024
#: Concurrent ingest requests. With 1,000-row batches the bench measured 127k msg/s at 2,
#: 147k at 4, 197k at 8 and 16 (bench/results/RESULTS-inflight.md); with 10,000-row
#: batches all the same.
DEFAULT_MAX_IN_FLIGHT: Final = 8
MAX_IN_FLIGHT: Final = 64


@dataclass(frozen=True, slots=True)
class ColumnConfig:
    """One stream column and the recipe for its value."""

    name: str
    kind: SourceKind
    #: For VALUE: the path into the decoded value (empty = the whole value);
    #: segments that are digits index lists. For HEADER: the header name.
    path: tuple[str, ...] = ()
    #: Timeplus type to convert to (e.g. ``datetime64(3)``); None passes the value as is.
    type: str | None = None
    #: The value of a CONSTANT column.
    constant: Any = None
    #: Used when the source is absent; NO_DEFAULT makes absence a data error
    #: (unless the type is nullable, where absence is null).
    default: Any = NO_DEFAULT
    #: Unit of integer epochs converted to date/datetime columns.
    unit: str | None = None
    #: Where this column was declared, for error messages.
    where: str = ""


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """Which topics feed one stream, and how a message becomes a row."""

    stream: str
    columns: tuple[ColumnConfig, ...]
    topics: tuple[str, ...] = ()
    topic_pattern: str | None = None
    format: str = "json"
    #: What to do with a message that cannot be decoded, mapped or ingested:
    #: ``dlq`` (to ``dlq_topic``), ``skip`` (log and count) or ``fail`` (stop).
    on_error: str = "fail"
    #: The dead-letter topic; setting it makes ``dlq`` the default for ``on_error``.
    dlq_topic: str | None = None
    #: Treat JSON objects with a repeated key as bad messages (costs ~4x in decoding).
    reject_duplicate_keys: bool = False
    where: str = ""

    def matches(self, topic: str) -> bool:
        """True when messages of ``topic`` feed this mapping."""
        if topic in self.topics:
            return True
        return self.topic_pattern is not None and re.search(self.topic_pattern, topic) is not None


@dataclass(frozen=True, slots=True)
class TimeplusConfig:
    """Where and how to reach Timeplus."""

    url: str
    #: Set for Timeplus Enterprise / Cloud: selects ``/{workspace}/api/v1beta2/...``.
    workspace: str | None = None
    api_key: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    gzip: bool = False
    #: Ingest requests in flight at once (one delivery thread each).
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    #: Attempts per request for retriable failures; None retries until Timeplus answers.
    max_retries: int | None = None
    retry_backoff_s: float = 0.2
    retry_backoff_max_s: float = 30.0


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """When a stream's buffered rows are sent: whichever limit is reached first."""

    max_rows: int = 10_000
    max_bytes: int = 4 * 1024 * 1024
    linger_ms: int = 500


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    #: librdkafka properties; may hold sasl.password and the like, so never in a repr.
    kafka: Mapping[str, str] = field(repr=False)
    timeplus: TimeplusConfig
    batch: BatchConfig
    mappings: tuple[MappingConfig, ...]
    #: How long shutdown and partition revoke may spend flushing and committing.
    drain_timeout_s: float = 30.0
    #: Messages with a larger value are data errors (handled by ``on_error``).
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: Memory of rows buffered or in flight (value bytes + a per-row overhead) above which consumption pauses.
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES

    def subscription(self) -> list[str]:
        """Topic names and ``^regex`` patterns for ``Consumer.subscribe``."""
        names: list[str] = []
        for mapping in self.mappings:
            names.extend(t for t in mapping.topics if t not in names)
            if mapping.topic_pattern is not None:
                pattern = mapping.topic_pattern
                pattern = pattern if pattern.startswith("^") else "^.*" + pattern
                if pattern not in names:
                    names.append(pattern)
        return names


# ---------------------------------------------------------------------------
# Loading

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_SIZE_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3}
_CONSUMER_PROPS_WE_OWN = {
    "enable.auto.commit": "the connector commits only after Timeplus accepted the rows",
    "enable.auto.offset.store": "the connector stores offsets itself",
}
_SECRET_KAFKA_PROPS = ("sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret")


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a YAML config file; raise ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_config(text, env=os.environ if env is None else env, source=str(path))


def parse_config(text: str, *, env: Mapping[str, str], source: str = "<config>") -> Config:
    """Validate the YAML text of a config; raise ConfigError listing every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    return _Validator(env).config(raw)


class _Validator:
    """Walks the raw YAML tree, collecting problems with their paths."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- scalars ------------------------------------------------------------

    def interpolate(self, path: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = self.env.get(name)
            if found is None or (found == "" and default is not None):
                if default is None:
                    self.fail(path, f"environment variable {name} is not set")
                    return ""
                return default
            return found

        return _VAR.sub(substitute, value)

    def string(self, path: str, value: Any, *, allow_empty: bool = False) -> str | None:
        value = self.interpolate(path, value)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(path, f"expected a string, got {_kind(value)}")
            return None
        text = str(value)
        if not text and not allow_empty:
            self.fail(path, "must not be empty")
            return None
        return text

    def number(self, path: str, value: Any, *, minimum: float, integer: bool) -> float | None:
        value = self.interpolate(path, value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value) if integer else float(value)
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            self.fail(path, f"expected {'an integer' if integer else 'a number'}, got {_show(value)}")
            return None
        if value < minimum:
            self.fail(path, f"must be at least {minimum:g}, got {value}")
            return None
        return float(value)

    def integer(self, path: str, value: Any, *, minimum: int) -> int | None:
        found = self.number(path, value, minimum=minimum, integer=True)
        return None if found is None else int(found)

    def boolean(self, path: str, value: Any) -> bool | None:
        value = self.interpolate(path, value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_show(value)}")
            return None
        return value

    def size(self, path: str, value: Any) -> int | None:
        value = self.interpolate(path, value)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        match = _SIZE.match(value) if isinstance(value, str) else None
        if match is None or float(match.group(1)) <= 0:
            self.fail(path, f"expected a positive size such as 4MiB or 1048576, got {_show(value)}")
            return None
        unit = (match.group(2) or "b").lower()
        return int(float(match.group(1)) * _SIZE_UNITS[unit])

    def secret(self, path: str, value: Any) -> Secret | None:
        value = self.interpolate(path, value)
        if value is None or value == "":
            return None
        if not isinstance(value, str | int):
            self.fail(path, f"expected a string, got {_kind(value)}")
            return None
        secret = Secret(str(value))
        return secret

    def table(self, path: str, value: Any, known: set[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_kind(value)}")
            return {}
        if known is not None:
            for key in value:
                if key not in known:
                    self.fail(
                        _join(path, key),
                        f"unknown key (expected one of: {', '.join(sorted(known))})",
                    )
        return value

    # -- sections -----------------------------------------------------------

    def config(self, raw: Any) -> Config:
        known = {"kafka", "timeplus", "batch", "mappings", "drain_timeout_s", "max_message_bytes", "max_buffered_bytes"}
        top = self.table("<top>", raw, known)
        for required in ("kafka", "timeplus", "mappings"):
            if top and required not in top:
                self.fail(required, "missing (required)")
        kafka = self.kafka(top.get("kafka", {}))
        timeplus = self.timeplus(top.get("timeplus", {}))
        batch = self.batch(top.get("batch", {}))
        mappings = self.mappings(top.get("mappings", []))
        drain = self.number("drain_timeout_s", top.get("drain_timeout_s", 30), minimum=0, integer=False)
        max_message = self.size("max_message_bytes", top.get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES))
        max_buffered = self.size("max_buffered_bytes", top.get("max_buffered_bytes", DEFAULT_MAX_BUFFERED_BYTES))
        if self.problems or timeplus is None:
            raise ConfigError(self.problems)
        return Config(
            kafka=kafka,
            timeplus=timeplus,
            batch=batch,
            mappings=tuple(mappings),
            drain_timeout_s=drain or 0.0,
            max_message_bytes=max_message or DEFAULT_MAX_MESSAGE_BYTES,
            max_buffered_bytes=max_buffered or DEFAULT_MAX_BUFFERED_BYTES,
        )

    def kafka(self, raw: Any) -> dict[str, str]:
        props: dict[str, str] = {}
        for key, value in self.table("kafka", raw, None).items():
            path = _join("kafka", str(key))
            if key in _CONSUMER_PROPS_WE_OWN and str(value).lower() != "false":
                self.fail(path, f"must be false or absent: {_CONSUMER_PROPS_WE_OWN[key]}")
                continue
            if key in _SECRET_KAFKA_PROPS:
                secret = self.secret(path, value)
                if secret is not None:
                    props[key] = secret.reveal()
                continue
            text = self.string(path, value, allow_empty=True)
            if text is not None:
                props[str(key)] = "true" if value is True else "false" if value is False else text
        if "bootstrap.servers" not in props and isinstance(raw, dict):
            self.fail("kafka.bootstrap.servers", "missing (required)")
        props.setdefault("group.id", "kafka-timeplus")
        return props

    def timeplus(self, raw: Any) -> TimeplusConfig | None:
        known = {"url", "workspace", "api_key", "username", "password", "timeout_s",
                 "connect_timeout_s", "gzip", "max_in_flight", "max_retries", "retry_backoff_s",
                 "retry_backoff_max_s"}  # fmt: skip
        section = self.table("timeplus", raw, known)
        url = self.string("timeplus.url", section.get("url")) if "url" in section else None
        if "url" not in section and isinstance(raw, dict):
            self.fail("timeplus.url", "missing (required)")
        if url is not None and not re.match(r"^https?://[^/\s]+", url):
            self.fail("timeplus.url", f"expected http(s)://host[:port], got {url!r}")
            url = None
        elif url is not None and "@" in url.split("/")[2]:
            # Never echo the URL here: it holds a password.
            self.fail("timeplus.url", "credentials do not belong in the URL: use username/password")
            url = None
        workspace = None
        if section.get("workspace") not in (None, ""):
            workspace = self.string("timeplus.workspace", section["workspace"])
        api_key = self.secret("timeplus.api_key", section.get("api_key"))
        username = None
        if section.get("username") not in (None, ""):
            username = self.string("timeplus.username", section["username"])
        password = self.secret("timeplus.password", section.get("password"))
        if api_key and username:
            self.fail("timeplus", "set either api_key or username/password, not both")
        if password and not username:
            self.fail("timeplus.password", "set without timeplus.username")
        timeout = self.number("timeplus.timeout_s", section.get("timeout_s", 30), minimum=0.1, integer=False)
        connect = self.number(
            "timeplus.connect_timeout_s",
            section.get("connect_timeout_s", 5),
            minimum=0.1,
            integer=False,
        )
        gzip = self.boolean("timeplus.gzip", section.get("gzip", False))
        in_flight = self.integer(
            "timeplus.max_in_flight", section.get("max_in_flight", DEFAULT_MAX_IN_FLIGHT), minimum=1
        )
        if in_flight is not None and in_flight > MAX_IN_FLIGHT:
            self.fail("timeplus.max_in_flight", f"must be at most {MAX_IN_FLIGHT}, got {in_flight}")
        retries = None
        if section.get("max_retries") is not None:
            retries = self.integer("timeplus.max_retries", section["max_retries"], minimum=1)
        backoff = self.number(
            "timeplus.retry_backoff_s", section.get("retry_backoff_s", 0.2), minimum=0.001, integer=False
        )
        backoff_max = self.number(
            "timeplus.retry_backoff_max_s", section.get("retry_backoff_max_s", 30), minimum=0.001, integer=False
        )
        if url is None:
            return None
        return TimeplusConfig(
            url=url.rstrip("/"),
            workspace=workspace,
            api_key=api_key,
            username=username,
            password=password,
            timeout_s=timeout or 30.0,
            connect_timeout_s=connect or 5.0,
            gzip=bool(gzip),
            max_in_flight=in_flight or DEFAULT_MAX_IN_FLIGHT,
            max_retries=retries,
            retry_backoff_s=backoff or 0.2,
            retry_backoff_max_s=backoff_max or 30.0,
        )

    def batch(self, raw: Any) -> BatchConfig:
        section = self.table("batch", raw, {"max_rows", "max_bytes", "linger_ms"})
        default = BatchConfig()
        rows = self.integer("batch.max_rows", section.get("max_rows", default.max_rows), minimum=1)
        size = self.size("batch.max_bytes", section.get("max_bytes", default.max_bytes))
        linger = self.integer("batch.linger_ms", section.get("linger_ms", default.linger_ms), minimum=0)
        return BatchConfig(
            max_rows=rows or default.max_rows,
            max_bytes=size or default.max_bytes,
            linger_ms=default.linger_ms if linger is None else linger,
        )

    def mappings(self, raw: Any) -> list[MappingConfig]:
        if not isinstance(raw, list) or not raw:
            self.fail("mappings", f"expected a non-empty list of mappings, got {_show(raw)}")
            return []
        found = [m for m in (self.mapping(f"mappings[{i}]", item) for i, item in enumerate(raw)) if m is not None]
        first_into: dict[str, MappingConfig] = {}
        for mapping in found:
            # Rows of one stream share batches, so they share columns and error handling.
            first = first_into.setdefault(mapping.stream, mapping)
            if [c.name for c in first.columns] != [c.name for c in mapping.columns]:
                self.fail(
                    f"{mapping.where}.columns",
                    f"stream {mapping.stream!r} is also fed by {first.where} with other columns; "
                    "give both mappings the same column names in the same order",
                )
            if (first.on_error, first.dlq_topic) != (mapping.on_error, mapping.dlq_topic):
                self.fail(
                    f"{mapping.where}.on_error",
                    f"stream {mapping.stream!r} is also fed by {first.where} with other on_error/dlq_topic",
                )
        return found

    def mapping(self, path: str, raw: Any) -> MappingConfig | None:
        known = {"topic", "topics", "topic_pattern", "stream", "format", "columns", "on_error", "dlq_topic",
                 "reject_duplicate_keys"}  # fmt: skip
        section = self.table(path, raw, known)
        if not section:
            return None
        topics: list[str] = []
        if "topic" in section:
            topic = self.string(f"{path}.topic", section["topic"])
            topics += [topic] if topic else []
        if "topics" in section:
            listed = section["topics"]
            if not isinstance(listed, list) or not listed:
                self.fail(
                    f"{path}.topics",
                    f"expected a non-empty list of topic names, got {_show(listed)}",
                )
            else:
                for i, item in enumerate(listed):
                    topic = self.string(f"{path}.topics[{i}]", item)
                    topics += [topic] if topic else []
        pattern = None
        if "topic_pattern" in section:
            pattern = self.string(f"{path}.topic_pattern", section["topic_pattern"])
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    self.fail(f"{path}.topic_pattern", f"not a valid regular expression: {exc}")
        if not {"topic", "topics", "topic_pattern"} & section.keys():
            self.fail(path, "needs one of topic, topics or topic_pattern")
        stream = self.string(f"{path}.stream", section.get("stream")) if "stream" in section else None
        if "stream" not in section:
            self.fail(f"{path}.stream", "missing (required)")
        fmt = self.choice(f"{path}.format", section.get("format", "json"), FORMATS)
        dlq_topic = None
        if "dlq_topic" in section:
            dlq_topic = self.string(f"{path}.dlq_topic", section["dlq_topic"])
        # Never a silent skip by default: dead-letter when there is somewhere to, else stop.
        on_error = self.choice(f"{path}.on_error", section.get("on_error", "dlq" if dlq_topic else "fail"), ON_ERROR)
        if on_error == "dlq" and not dlq_topic and "dlq_topic" not in section:
            self.fail(f"{path}.dlq_topic", "missing: on_error dlq needs a dlq_topic")
        columns = self.columns(f"{path}.columns", section.get("columns"), fmt or "json")
        strict = self.boolean(f"{path}.reject_duplicate_keys", section.get("reject_duplicate_keys", False))
        if strict and fmt != "json":
            self.fail(f"{path}.reject_duplicate_keys", f"applies to format json only, not {fmt}")
        if stream is None or not columns:
            return None
        return MappingConfig(
            stream=stream,
            columns=tuple(columns),
            topics=tuple(topics),
            topic_pattern=pattern,
            format=fmt or "json",
            on_error=on_error or "fail",
            dlq_topic=dlq_topic,
            reject_duplicate_keys=bool(strict),
            where=path,
        )

    def choice(self, path: str, value: Any, allowed: tuple[str, ...]) -> str | None:
        text = self.string(path, value)
        if text is not None and text not in allowed:
            self.fail(path, f"expected one of {', '.join(allowed)}, got {text!r}")
            return None
        return text

    def columns(self, path: str, raw: Any, fmt: str) -> list[ColumnConfig]:
        if not isinstance(raw, dict) or not raw:
            self.fail(path, f"expected a mapping of column name to source, got {_show(raw)}")
            return []
        columns = [self.column(_join(path, str(name)), str(name), spec, fmt) for name, spec in raw.items()]
        return [c for c in columns if c is not None]

    def column(self, path: str, name: str, raw: Any, fmt: str) -> ColumnConfig | None:
        spec: dict[str, Any]
        if isinstance(raw, dict):
            spec = self.table(path, raw, {"from", "value", "type", "default", "unit"})
            if ("from" in spec) == ("value" in spec):
                self.fail(path, "needs exactly one of 'from' (a source) or 'value' (a constant)")
                return None
        elif isinstance(raw, str):
            spec = {"from": raw}
        else:
            self.fail(
                path,
                f"expected a source such as value.id or a mapping with 'from', got {_show(raw)}",
            )
            return None
        type_name = None
        if "type" in spec:
            type_name = self.string(f"{path}.type", spec["type"])
            if type_name is not None:
                try:
                    parse_type(type_name)
                except ValueError as exc:
                    self.fail(f"{path}.type", str(exc))
                    type_name = None
        unit = None
        if "unit" in spec:
            unit = self.choice(f"{path}.unit", spec["unit"], EPOCH_UNITS)
        default = self.interpolate(f"{path}.default", spec["default"]) if "default" in spec else NO_DEFAULT
        if "value" in spec:
            constant = self.interpolate(f"{path}.value", spec["value"])
            return ColumnConfig(name, SourceKind.CONSTANT, type=type_name, constant=constant, unit=unit, where=path)
        source = self.string(f"{path}.from", spec["from"])
        if source is None:
            return None
        parsed = self.source(f"{path}.from" if isinstance(raw, dict) else path, source, fmt)
        if parsed is None:
            return None
        kind, segments = parsed
        if kind is SourceKind.TIMESTAMP:
            if unit not in (None, "ms"):
                self.fail(f"{path}.unit", "Kafka timestamps are epoch milliseconds: leave unit out or set ms")
            unit = "ms"
        return ColumnConfig(name, kind, segments, type_name, None, default, unit, path)

    def source(self, path: str, source: str, fmt: str) -> tuple[SourceKind, tuple[str, ...]] | None:
        head, _, rest = source.partition(".")
        try:
            kind = SourceKind(head)
        except ValueError:
            kind = None
        if kind is None or kind is SourceKind.CONSTANT:
            self.fail(
                path,
                f"unknown source {source!r} (expected value[.path], key, headers.<name>, "
                "topic, partition, offset or timestamp)",
            )
            return None
        if kind is SourceKind.HEADER:
            if not rest:
                self.fail(path, "headers needs a header name, e.g. headers.region")
                return None
            return kind, (rest,)
        if kind is SourceKind.VALUE:
            segments = tuple(rest.split(".")) if rest else ()
            if any(not s for s in segments):
                self.fail(path, f"empty segment in path {source!r}")
                return None
            if segments and fmt != "json":
                self.fail(path, f"a path into the value needs format json, not {fmt}")
                return None
            return kind, segments
        if rest:
            self.fail(path, f"{head} has no fields, got {source!r}")
            return None
        return kind, ()


def _join(path: str, key: str) -> str:
    return key if path == "<top>" else f"{path}.{key}"


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        return _kind(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
