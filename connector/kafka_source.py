"""The Kafka adapters (consumer and dead-letter producer): the only module importing confluent_kafka.

It owns the consumer settings the delivery rules depend on (manual commits,
incremental rebalancing, bounded prefetch) and turns librdkafka errors into the
project's own exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from connector.config import FORCED_CONSUMER_PROPS
from connector.errors import FatalError, RetriableError
from connector.offsets import TopicPartition as TP
from connector.ports import CommitCallback, PartitionsCallback
from connector.records import MessageLike

log = logging.getLogger(__name__)
#: librdkafka's own log lines (served on the thread that polls).
LIBRDKAFKA_LOG = logging.getLogger("connector.librdkafka")

# Settings the delivery guarantees rely on; the config loader rejects attempts to change them.
# Defaults a user may override.
DEFAULTS = {
    "auto.offset.reset": "earliest",
    # librdkafka backs off 1 s when its prefetch queue is full; that idles a fast consumer.
    "fetch.queue.backoff.ms": "10",
    # Bound the prefetch queue so a large backlog cannot grow memory without limit.
    "queued.max.messages.kbytes": "32768",
    "enable.partition.eof": "false",
}

#: The classic group protocol's assignment unless the user chose another: incremental, as
#: KIP-848's (``group.protocol: consumer``) is, which refuses the property (the broker assigns).
CLASSIC_DEFAULTS = {"partition.assignment.strategy": "cooperative-sticky"}

#: Never consumed, even when a topic pattern would match them.
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})


class KafkaSource:
    """A consumer-group member that hands out batches of messages."""

    def __init__(self, props: Mapping[str, str], *, on_statistics: Callable[[str], None] | None = None) -> None:
        """``on_statistics`` receives librdkafka's statistics JSON every ``statistics.interval.ms`` (5 s unless set)."""
        classic = props.get("group.protocol", "classic").lower() == "classic"
        settings: dict[str, Any] = {**DEFAULTS, **(CLASSIC_DEFAULTS if classic else {}), **props}
        settings |= FORCED_CONSUMER_PROPS
        settings["error_cb"] = self._on_client_error
        settings["logger"] = LIBRDKAFKA_LOG  # through logging, so --log-format json covers librdkafka's lines too
        settings["on_commit"] = self._on_commit_answer
        if on_statistics is not None:
            settings.setdefault("statistics.interval.ms", "5000")
            settings["stats_cb"] = on_statistics
        #: Whether a rebalance hands out and takes back only the partitions that move.
        self._incremental = not classic or settings.get("partition.assignment.strategy") == "cooperative-sticky"
        self._on_commit: CommitCallback | None = None
        self._fatal: KafkaError | None = None
        try:
            self._consumer = Consumer(settings)
        except KafkaException as exc:
            raise FatalError(f"kafka: cannot create consumer: {exc.args[0]}") from exc

    def subscribe(
        self,
        topics: list[str],
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
        on_commit: CommitCallback | None = None,
    ) -> None:
        """Join the group; the callbacks run inside ``consume`` (or ``close``) on this thread.

        ``on_assign`` runs once the partitions are assigned, because librdkafka pauses only
        assigned partitions, and after resuming them, because it keeps a pause across a
        revoke: a partition revoked while paused would never be read again when it comes back.
        """
        self._on_commit = on_commit

        def assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            if self._incremental:
                consumer.incremental_assign(partitions)
            else:
                consumer.assign(partitions)
            if partitions:
                consumer.resume(partitions)
            on_assign([(p.topic, p.partition) for p in partitions])

        def wrap(callback: PartitionsCallback) -> Callable[[Any, list[TopicPartition]], None]:
            return lambda _consumer, partitions: callback([(p.topic, p.partition) for p in partitions])

        self._consumer.subscribe(topics, on_assign=assign, on_revoke=wrap(on_revoke), on_lost=wrap(on_lost))

    def consume(self, max_messages: int, timeout: float) -> list[MessageLike]:
        """Up to ``max_messages`` messages, waiting at most ``timeout`` seconds."""
        if self._fatal is not None:
            if self._fatal.code() == KafkaError._AUTHENTICATION:
                raise FatalError(
                    f"kafka: authentication failed: {self._fatal.str()} "
                    "(check kafka sasl.mechanism, sasl.username / sasl.password, security.protocol)"
                )
            raise FatalError(f"kafka: fatal client error: {self._fatal.str()}")
        try:
            messages = self._consumer.consume(num_messages=max_messages, timeout=timeout)
        except KafkaException as exc:
            raise _convert(exc.args[0], "consume") from exc
        for message in messages:
            if message.error() is not None:
                break
        else:
            # The stubs allow dict headers (a produce-side form); consumed ones are a list.
            return messages  # type: ignore[return-value]
        good: list[MessageLike] = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)  # type: ignore[arg-type]
            else:
                self._on_message_error(error)
        return good

    def commit(
        self, offsets: Mapping[TP, int], *, asynchronous: bool, metadata: Mapping[TP, str] | None = None
    ) -> bool:
        """Commit ``offsets`` (next offset to read), each with its partition's ``metadata`` if given.

        Synchronous: True if the broker accepted every offset. Asynchronous: True once sent;
        the answer reaches ``on_commit`` from a later ``consume``.
        """
        if not offsets:
            return True
        if metadata:
            partitions = [TopicPartition(t, p, o, metadata=metadata.get((t, p))) for (t, p), o in offsets.items()]
        else:
            partitions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if asynchronous:
                self._consumer.commit(offsets=partitions, asynchronous=True)
                return True
            answered = self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.fatal():
                raise FatalError(f"kafka: commit failed: {error.str()}") from exc
            log.warning("kafka: commit of %d partition(s) refused: %s", len(partitions), error.str())
            return False
        refused = [p.error for p in answered or [] if p.error is not None]
        if refused:
            log.warning("kafka: commit of %d partition(s) refused: %s", len(refused), refused[0].str())
        return not refused

    def _on_commit_answer(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if self._on_commit is None:
            return
        refused = [p.error for p in partitions if p.error is not None]
        if error is not None and not refused:
            self._on_commit({}, error.str())  # the whole request failed
            return
        accepted = {(p.topic, p.partition): p.offset for p in partitions if p.error is None}
        self._on_commit(accepted, refused[0].str() if refused else None)

    def committed(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, int]:
        """The group's committed offsets for ``partitions`` (absent when none)."""
        return {tp: offset for tp, (offset, _) in self.committed_metadata(partitions, timeout).items()}

    def committed_metadata(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, str]]:
        """The group's committed offsets for ``partitions`` (absent when none), each with its metadata."""
        try:
            found = self._consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=timeout)
        except KafkaException as exc:
            raise _convert(exc.args[0], "committed") from exc
        return {
            (p.topic, p.partition): (p.offset, p.metadata or "")
            for p in found
            if p.offset != OFFSET_INVALID and p.offset >= 0
        }

    def end_offsets(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, int]]:
        """(low, high) watermarks of each partition."""
        ends = {}
        for topic, partition in partitions:
            try:
                ends[(topic, partition)] = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout, cached=False
                )
            except KafkaException as exc:
                raise _convert(exc.args[0], "get_watermark_offsets") from exc
        return ends

    def topic_partitions(self, timeout: float = 10.0) -> list[TP]:
        """Every partition of every topic in the cluster's metadata, Kafka's internal topics aside."""
        try:
            metadata = self._consumer.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise _convert(exc.args[0], "list_topics") from exc
        return [
            (name, p)
            for name, topic in metadata.topics.items()
            if topic.error is None and name not in INTERNAL_TOPICS
            for p in topic.partitions
        ]

    def positions(self, partitions: list[TP]) -> dict[TP, int]:
        """The next offset this consumer will hand out, where known (past transaction markers and aborted messages)."""
        if not partitions:
            return {}
        try:
            found = self._consumer.position([TopicPartition(t, p) for t, p in partitions])
        except KafkaException as exc:
            raise _convert(exc.args[0], "position") from exc
        return {(p.topic, p.partition): p.offset for p in found if p.offset >= 0}

    def pause(self, partitions: list[TP]) -> None:
        """Stop fetching ``partitions`` while staying in the group."""
        if partitions:
            self._consumer.pause([TopicPartition(t, p) for t, p in partitions])

    def resume(self, partitions: list[TP]) -> None:
        """Fetch ``partitions`` again."""
        if partitions:
            self._consumer.resume([TopicPartition(t, p) for t, p in partitions])

    def close(self) -> None:
        """Leave the group (after the pipeline committed what it could)."""
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("kafka: close failed: %s", exc)

    def _on_client_error(self, error: KafkaError) -> None:
        # librdkafka retries a refused login forever; credentials do not fix themselves.
        if error.fatal() or error.code() == KafkaError._AUTHENTICATION:
            self._fatal = self._fatal or error
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning("kafka: all brokers are down; librdkafka keeps retrying")
        else:
            log.info("kafka: %s", error.str())

    def _on_message_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise FatalError(f"kafka: fatal consumer error: {error.str()}")
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            log.warning("kafka: %s (waiting for the topic to exist)", error.str())
        elif error.code() != KafkaError._PARTITION_EOF:
            log.warning("kafka: consumer error: %s", error.str())


def _convert(error: KafkaError, action: str) -> Exception:
    message = f"kafka: {action} failed: {error.str()}"
    return FatalError(message) if error.fatal() else RetriableError(message)
