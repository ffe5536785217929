"""The online checks of ``check`` and of ``run``'s start-up: does this config work against these services?

Kafka: reachable, every named topic exists, every ``topic_pattern`` matches a topic (a
warning otherwise: the topic may come later), every ``dlq_topic`` exists (a warning: the
broker may create it). Timeplus: reachable, the credentials accepted, every target
stream exists, every mapped column exists with a type that stores what the mapping sends.
With a Schema Registry (``check``): the latest schema of each registry mapping's subjects
gives its untyped columns their types (``registry_types``), compared like explicit ones.

The checks take the adapters as ports and return immutable findings; the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from connector.config import Config, MappingConfig
from connector.errors import ConnectorError, FatalError
from connector.findings import Finding, Level
from connector.registry_types import Derived, LatestSchemas, derive, needs_types
from connector.stream_schema import StreamSchema, fit


class TopicCatalog(Protocol):
    """What the checks need of Kafka."""

    bootstrap: str

    def topics(self) -> dict[str, int]:
        """Topic → number of partitions; RetriableError when Kafka cannot be reached."""
        ...


class StreamCatalog(Protocol):
    """What the checks need of Timeplus."""

    @property
    def url(self) -> str:
        """Where Timeplus is."""
        ...

    def describe(self, stream: str) -> StreamSchema | None:
        """The stream's columns, or None; FatalError for refused credentials, RetriableError when unreachable."""
        ...


def check(
    config: Config,
    kafka: TopicCatalog,
    timeplus: StreamCatalog,
    *,
    raise_fatal: bool = False,
    registry: LatestSchemas | None = None,
) -> list[Finding]:
    """Every finding about Kafka, then the registry (when given), then Timeplus; a problem in one hides no other.

    With ``raise_fatal`` (``run``), refused credentials raise their FatalError instead of
    becoming a finding: a fatal error, reported in one line like any other.
    """
    found, derived = check_registry(config, registry, raise_fatal) if registry is not None else ([], None)
    return [*check_kafka(config, kafka, raise_fatal), *found, *check_timeplus(config, timeplus, raise_fatal, derived)]


def check_registry(
    config: Config, registry: LatestSchemas, raise_fatal: bool = False
) -> tuple[list[Finding], Derived | None]:
    """The types the registry's latest schemas give untyped columns; a warning per column they give none."""
    if not any(needs_types(m) for m in config.mappings):
        return [], None
    url = config.schema_registry.url if config.schema_registry else "schema registry"
    try:
        derived = derive(config.mappings, registry)
    except FatalError as exc:
        if raise_fatal:
            raise
        return [Finding(Level.PROBLEM, "schema registry", url, str(exc))], None
    except ConnectorError as exc:
        return [Finding(Level.PROBLEM, "schema registry", url, f"unreachable: {exc}")], None
    findings = [Finding(Level.OK, "schema", v.subject, f"latest: version {v.version}") for v in derived.sources]
    for where, why in derived.problems:
        findings.append(Finding(Level.WARNING, "schema", where, f"{why}; values go as they come"))
    return findings, derived


def check_kafka(config: Config, kafka: TopicCatalog, raise_fatal: bool = False) -> list[Finding]:
    """Kafka reachable; named topics exist; patterns match something; dead-letter topics exist."""
    try:
        topics = kafka.topics()
    except FatalError as exc:
        if raise_fatal:
            raise
        return [Finding(Level.PROBLEM, "kafka", kafka.bootstrap, str(exc))]
    except ConnectorError as exc:
        return [Finding(Level.PROBLEM, "kafka", kafka.bootstrap, f"unreachable: {exc}")]
    findings = [Finding(Level.OK, "kafka", kafka.bootstrap, f"reachable, {len(topics)} topic(s)")]
    seen: set[str] = set()
    for mapping in config.mappings:
        for topic in mapping.topics:
            if topic not in seen:
                seen.add(topic)
                findings.append(_topic(topic, topics))
        if mapping.topic_pattern is not None and mapping.topic_pattern not in seen:
            seen.add(mapping.topic_pattern)
            findings.append(_pattern(mapping, topics))
    for dlq in dict.fromkeys(m.dlq_topic for m in config.mappings if m.dlq_topic):
        if dlq in topics:
            findings.append(Finding(Level.OK, "dlq topic", dlq, f"{topics[dlq]} partition(s)"))
        else:
            detail = "does not exist: dead letters fail unless the broker creates topics on first use"
            findings.append(Finding(Level.WARNING, "dlq topic", dlq, detail))
    return findings


def check_timeplus(
    config: Config, timeplus: StreamCatalog, raise_fatal: bool = False, derived: Derived | None = None
) -> list[Finding]:
    """Timeplus reachable with these credentials; streams and mapped columns exist and fit (``derived``: see check)."""
    streams = list(dict.fromkeys(m.stream for m in config.mappings))
    findings: list[Finding] = []
    for index, stream in enumerate(streams):
        try:
            schema = timeplus.describe(stream)
        except FatalError as exc:
            if raise_fatal:
                raise
            return [Finding(Level.PROBLEM, "timeplus", timeplus.url, str(exc))]
        except ConnectorError as exc:
            return [Finding(Level.PROBLEM, "timeplus", timeplus.url, f"unreachable: {exc}")]
        if index == 0:
            findings.append(Finding(Level.OK, "timeplus", timeplus.url, "reachable, credentials accepted"))
        if schema is None:
            detail = "does not exist (kafka-timeplus create-streams makes it)"
            findings.append(Finding(Level.PROBLEM, "stream", stream, detail))
            continue
        findings.append(Finding(Level.OK, "stream", stream, f"{len(schema.columns)} column(s)"))
        types = derived.types if derived is not None else tuple({} for _ in config.mappings)
        feeding = [(m, t) for m, t in zip(config.mappings, types, strict=True) if m.stream == stream]
        findings.extend(_columns(schema, feeding))
    return findings


def _topic(topic: str, topics: dict[str, int]) -> Finding:
    if topic in topics:
        return Finding(Level.OK, "topic", topic, f"{topics[topic]} partition(s)")
    return Finding(Level.PROBLEM, "topic", topic, "does not exist")


def _pattern(mapping: MappingConfig, topics: dict[str, int]) -> Finding:
    matched = sorted(t for t in topics if mapping.matches(t))
    pattern = mapping.topic_pattern or ""
    if not matched:
        return Finding(Level.WARNING, "topic", pattern, "no topic matches the pattern yet")
    shown = ", ".join(matched[:5]) + (f" and {len(matched) - 5} more" if len(matched) > 5 else "")
    return Finding(Level.OK, "topic", pattern, f"matches {shown}")


def _columns(schema: StreamSchema, mappings: list[tuple[MappingConfig, dict[str, str]]]) -> Iterator[Finding]:
    seen: set[tuple[str, Level, str]] = set()
    for mapping, derived in mappings:
        for column in mapping.columns:
            subject = f"{schema.name}.{column.name}"
            found = schema.column(column.name)
            if found is None:
                level, detail = Level.PROBLEM, "the stream has no such column"
            else:
                level, detail = fit(found.type, column, derived.get(column.name))
            if (subject, level, detail) not in seen:
                seen.add((subject, level, detail))
                yield Finding(level, "column", subject, detail)
