"""Kafka seen from outside the consumer group: the topics there are, and the latest messages of partitions.

For ``check`` and ``preview``. Nothing here joins the group or commits: partitions are
*assigned* at explicit offsets (never subscribed), and auto-commit and offset storing
stay off (``FORCED_CONSUMER_PROPS``), so the group's committed offsets are untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from connector.config import FORCED_CONSUMER_PROPS
from connector.errors import FatalError, RetriableError
from connector.offsets import TopicPartition as TP
from connector.records import MessageLike

log = logging.getLogger(__name__)

#: Kafka's own topics: never listed, even when a pattern would match them.
_INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})


class KafkaInspector:
    """A consumer that never subscribes: lists topics and reads the tail of partitions."""

    def __init__(self, props: Mapping[str, str], *, timeout_s: float = 10.0) -> None:
        settings: dict[str, Any] = {**props, **FORCED_CONSUMER_PROPS, "enable.partition.eof": "true"}
        settings["error_cb"] = self._on_client_error
        self._auth_error: KafkaError | None = None
        # librdkafka logs every failed connection attempt; the caller reports unreachability once.
        settings["logger"] = _DebugOnly()
        self._timeout_s = timeout_s
        self.bootstrap = str(props.get("bootstrap.servers", "?"))
        try:
            self._consumer = Consumer(settings)
        except KafkaException as exc:
            raise FatalError(f"kafka: cannot create a consumer: {exc.args[0]}") from exc

    def topics(self) -> dict[str, int]:
        """Every topic in the cluster (Kafka's internal ones aside) and its number of partitions."""
        try:
            metadata = self._consumer.list_topics(timeout=self._timeout_s)
        except KafkaException as exc:
            self._consumer.poll(0.1)  # serves error_cb, which may say why
            if self._auth_error is not None:
                raise FatalError(
                    f"kafka: authentication failed: {self._auth_error.str()} "
                    "(check kafka sasl.mechanism, sasl.username / sasl.password, security.protocol)"
                ) from exc
            error: KafkaError = exc.args[0]
            raise RetriableError(f"cannot reach {self.bootstrap} within {self._timeout_s:g} s: {error.str()}") from exc
        return {
            name: len(topic.partitions)
            for name, topic in sorted(metadata.topics.items())
            if topic.error is None and name not in _INTERNAL_TOPICS
        }

    def latest(self, partitions: list[TP], per_partition: int) -> list[MessageLike]:
        """Up to ``per_partition`` of the newest messages of each partition, in partition and offset order."""
        starts: list[TopicPartition] = []
        for topic, partition in partitions:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=self._timeout_s, cached=False
                )
            except KafkaException as exc:
                raise RetriableError(f"kafka: watermarks of {topic}[{partition}]: {exc.args[0].str()}") from exc
            if high > low:
                starts.append(TopicPartition(topic, partition, max(low, high - per_partition)))
        if not starts:
            return []
        self._consumer.assign(starts)
        pending = {(tp.topic, tp.partition) for tp in starts}
        found: list[MessageLike] = []
        deadline = time.monotonic() + self._timeout_s
        try:
            while pending and time.monotonic() < deadline:
                for message in self._consumer.consume(num_messages=500, timeout=0.5):
                    where = (message.topic() or "", message.partition() or 0)
                    error = message.error()
                    if error is None:
                        found.append(message)  # type: ignore[arg-type]
                    elif error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(where)
                    else:
                        log.warning("kafka: reading %s[%d]: %s", where[0], where[1], error.str())
        finally:
            self._consumer.unassign()
        if pending:
            log.warning("kafka: %d partition(s) not read to their end within %g s", len(pending), self._timeout_s)
        found.sort(key=lambda m: (m.topic() or "", m.partition() or 0, m.offset() or 0))
        return found

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            self._auth_error = error
        log.debug("kafka: %s", error.str())

    def close(self) -> None:
        """Close the consumer (it never joined the group, so there is nothing to leave)."""
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("kafka: close failed: %s", exc)


class _DebugOnly:
    """Takes librdkafka's log lines (``logger.log(level, fmt, *args)``) and logs them at DEBUG."""

    def log(self, _level: int, message: str, *args: Any) -> None:
        log.debug(message, *args)
