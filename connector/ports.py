"""The interfaces the pipeline talks to: a record source, an ingest sink, a dead-letter sink, a schema source.

The pipeline imports neither adapter: ``KafkaSource``, ``TimeplusClient`` and
``KafkaDeadLetters`` satisfy these protocols in production, the fakes in
``tests/unit/fakes.py`` in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from connector.dead_letters import DeadLetter
from connector.offsets import TopicPartition
from connector.records import MessageLike

#: Called with the partitions a rebalance assigns, revokes or loses.
PartitionsCallback = Callable[[list[TopicPartition]], None]
#: Called with an asynchronous commit's answer: the offsets accepted, and why others were refused.
CommitCallback = Callable[[dict[TopicPartition, int], str | None], None]


class RecordSource(Protocol):
    """A consumer-group member: where messages come from and where offsets are committed."""

    def subscribe(
        self,
        topics: list[str],
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
        on_commit: CommitCallback | None = None,
    ) -> None:
        """Join the group for ``topics`` (names or ``^regex``); the callbacks run inside ``consume`` (or ``close``).

        ``on_assign`` runs once the partitions are assigned (so it may pause them);
        ``on_revoke`` while they still are, in the generation that gives them up;
        ``on_commit`` with the answer to each asynchronous commit.
        """
        ...

    def consume(self, max_messages: int, timeout: float) -> list[MessageLike]:
        """Up to ``max_messages`` messages in offset order per partition, waiting at most ``timeout`` s.

        Raises FatalError when the client cannot go on, RetriableError when one call failed;
        per-message errors are logged, not returned.
        """
        ...

    def commit(
        self,
        offsets: Mapping[TopicPartition, int],
        *,
        asynchronous: bool,
        metadata: Mapping[TopicPartition, str] | None = None,
    ) -> bool:
        """Commit ``offsets`` (the next offset to read), each with its partition's ``metadata`` if given.

        Synchronous: True if the broker accepted them all. Asynchronous: True once sent; the
        answer reaches ``on_commit`` from a later ``consume``.
        """
        ...

    def committed(self, partitions: list[TopicPartition], timeout: float = 10.0) -> dict[TopicPartition, int]:
        """The group's committed offsets of ``partitions``; a partition without one is absent."""
        ...

    def committed_metadata(
        self, partitions: list[TopicPartition], timeout: float = 10.0
    ) -> dict[TopicPartition, tuple[int, str]]:
        """The group's committed offsets of ``partitions`` and the metadata committed with each."""
        ...

    def end_offsets(
        self, partitions: list[TopicPartition], timeout: float = 10.0
    ) -> dict[TopicPartition, tuple[int, int]]:
        """The (low, high) watermarks of each of ``partitions``, read from the broker."""
        ...

    def topic_partitions(self, timeout: float = 10.0) -> list[TopicPartition]:
        """Every partition of every topic in the cluster, Kafka's internal topics aside."""
        ...

    def positions(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The next offset ``consume`` hands out for each of ``partitions``, where known."""
        ...

    def pause(self, partitions: list[TopicPartition]) -> None:
        """Stop fetching ``partitions`` while staying in the group."""
        ...

    def resume(self, partitions: list[TopicPartition]) -> None:
        """Fetch ``partitions`` again."""
        ...

    def close(self) -> None:
        """Leave the group; may serve a pending rebalance through the callbacks first."""
        ...


class IngestSink(Protocol):
    """Where encoded rows go: Timeplus's ingest API."""

    def ingest(self, stream: str, body: bytes, idempotent_id: str | None = None) -> None:
        """Insert the compact JSON ``body`` into ``stream`` as one request; return once accepted.

        With an ``idempotent_id``, Timeplus stores the rows of the first request carrying it
        and answers a repeat with success without storing them again.

        Raises RetriableError (try again later), IngestRejected (the rows are bad data;
        retrying cannot help) or FatalError. Called from several delivery threads at once.
        """
        ...


class DeadLetterSink(Protocol):
    """Where bad messages go: a Kafka topic."""

    def send(self, letter: DeadLetter, on_done: Callable[[str | None], None]) -> None:
        """Start producing ``letter``; ``on_done(None)`` once acknowledged, ``on_done(reason)`` if it never can be.

        Transient failures are the sink's to retry: a reason is final, and stops the run.

        ``on_done`` runs on the caller's thread, inside ``send``, ``poll`` or ``flush``.
        """
        ...

    def poll(self) -> None:
        """Serve the acknowledgements that arrived (their ``on_done`` run now)."""
        ...

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for every letter to be acknowledged; how many still are not."""
        ...


class Metrics(Protocol):
    """Where the pipeline reports what it does, for ``/metrics`` and the health endpoints.

    Called per poll, per batch or per request, never per message, so that a recorder
    costs the hot loop nothing measurable. ``NoMetrics`` is the default.
    """

    def beat(self, now: float, *, assigned: int, paused: int, buffered_bytes: int, commits: int) -> None:
        """The loop went round once (consumer thread): its heartbeat and gauges."""
        ...

    def consumed(self, counts: Mapping[str, int]) -> None:
        """One poll's messages, per topic (consumer thread)."""
        ...

    def ingested(self, stream: str, rows: int, latencies: list[tuple[float, int]]) -> None:
        """Timeplus accepted ``rows`` of ``stream``; ``latencies``: (consume-to-ack seconds, rows) (consumer thread)."""
        ...

    def bad_message(self, outcome: str, topic: str, stream: str) -> None:
        """A message was ``dead_lettered``, ``skipped`` or ``rejected`` by Timeplus (consumer thread)."""
        ...

    def request(self, stream: str, outcome: str, seconds: float, body_bytes: int) -> None:
        """One ingest request ended: ``ok``, ``rejected``, ``retriable`` or ``fatal`` (delivery threads)."""
        ...

    def retry(self, reason: str) -> None:
        """A request is retried after a transient failure, e.g. ``http_503`` or ``unreachable`` (delivery threads)."""
        ...


class NoMetrics:
    """A recorder that records nothing: the pipeline's default."""

    def beat(self, now: float, *, assigned: int, paused: int, buffered_bytes: int, commits: int) -> None:
        """Nothing."""

    def consumed(self, counts: Mapping[str, int]) -> None:
        """Nothing."""

    def ingested(self, stream: str, rows: int, latencies: list[tuple[float, int]]) -> None:
        """Nothing."""

    def bad_message(self, outcome: str, topic: str, stream: str) -> None:
        """Nothing."""

    def request(self, stream: str, outcome: str, seconds: float, body_bytes: int) -> None:
        """Nothing."""

    def retry(self, reason: str) -> None:
        """Nothing."""


class Progress(Protocol):
    """Where ``--until-caught-up`` shows the backlog shrinking."""

    def update(self, backlog: Mapping[str, tuple[int, int]]) -> None:
        """Per topic: (messages delivered, messages in the backlog) of this member's partitions."""
        ...

    def close(self) -> None:
        """The run is over."""


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """A schema as a Schema Registry holds it under one id, with the schemas it references."""

    #: ``AVRO``, ``PROTOBUF`` or ``JSON`` (the registry's ``schemaType``; absent means AVRO).
    schema_type: str
    #: The schema: Avro or JSON Schema JSON text, or a base64 serialized FileDescriptorProto.
    text: str
    #: (the name the schema imports it by, the referenced schema), in the registry's order.
    references: tuple[tuple[str, RegisteredSchema], ...] = ()


class SchemaSource(Protocol):
    """A Schema Registry: the writer's schema of each schema id found in a message."""

    def schema(self, schema_id: int) -> RegisteredSchema:
        """The schema registered under ``schema_id``, with its references resolved.

        Raises RetriableError when the registry is unreachable or answers 429/5xx,
        DataError when no schema has that id, FatalError when it refuses the credentials.
        """
        ...
