"""The dead-letter producer: the Kafka adapter that writes bad messages to their ``dlq_topic``.

Three rules beyond "produce with acks=all":

* **Size.** A letter is the original message plus headers, so it is as large as the
  largest message the connector dead-letters. librdkafka's producer refuses anything over
  its ``message.max.bytes`` (1,000,000 by default) before the broker sees it, so the
  producer is sized from the config: ``max_message_bytes`` plus room for the headers, or
  the dead-letter topics' own limit when that is larger.
* **Checked at start-up.** Each dead-letter topic must accept that size (its
  ``max.message.bytes``); if it does not, the connector refuses to start, with one line
  per topic saying what to change, rather than stopping later on the first large bad
  message — and again after every restart.
* **Transient failures are retried, the rest are fatal.** A delivery that failed for a
  reason that may pass (a timeout, no leader, the topic not created yet) is produced
  again after a backoff, with one warning per outage; its offset stays uncommitted
  meanwhile. Any other failure (the letter is too large after all, authorization) is
  reported to the caller, which stops the connector: a letter is never dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from connector.dead_letters import DeadLetter
from connector.errors import FatalError, RetriableError
from connector.kafka_source import LIBRDKAFKA_LOG
from connector.outage import Backoff, Outage

log = logging.getLogger(__name__)

#: Room for the headers a letter gains (class, reason, topic, partition, offset, stream, version).
LETTER_HEADROOM = 64 * 1024
#: librdkafka's default and largest ``message.max.bytes``.
LIBRDKAFKA_DEFAULT_MAX = 1_000_000
LIBRDKAFKA_LARGEST_MAX = 1_000_000_000

#: Delivery errors after which producing the same letter again may succeed.
RETRIABLE_CODES = frozenset({
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TIMED_OUT_QUEUE, KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION, KafkaError._NODE_UPDATE,
    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.REQUEST_TIMED_OUT, KafkaError.NETWORK_EXCEPTION, KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND, KafkaError.KAFKA_STORAGE_ERROR, KafkaError.THROTTLING_QUOTA_EXCEEDED,
    KafkaError.FENCED_LEADER_EPOCH, KafkaError.UNKNOWN_LEADER_EPOCH,
})  # fmt: skip
TOO_LARGE_CODES = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})

# Consumer-only settings that a producer would warn about; the rest (bootstrap, security) is shared.
_CONSUMER_ONLY = (
    "group.", "auto.offset.reset", "enable.auto.", "partition.assignment.strategy", "session.timeout.ms",
    "heartbeat.interval.ms", "max.poll.interval.ms", "fetch.", "queued.", "isolation.level",
    "enable.partition.eof", "check.crcs", "auto.commit.interval.ms", "consume.callback.max.messages",
)  # fmt: skip

OnDone = Callable[[str | None], None]


def needed_bytes(max_message_bytes: int) -> int:
    """The largest letter a dead-letter topic must accept: a message of ``max_message_bytes`` and its headers."""
    return max_message_bytes + LETTER_HEADROOM


def producer_limit(max_message_bytes: int, topic_limits: Collection[int]) -> int:
    """The producer's ``message.max.bytes``: what letters need, or what the topics accept if more."""
    wanted = max(LIBRDKAFKA_DEFAULT_MAX, needed_bytes(max_message_bytes), *topic_limits)
    return min(wanted, LIBRDKAFKA_LARGEST_MAX)


def topic_problem(topic: str, limit: int, max_message_bytes: int, *, created_by_broker: bool = False) -> str | None:
    """Why ``topic``, accepting records of ``limit`` bytes, cannot hold every letter; None if it can."""
    needed = needed_bytes(max_message_bytes)
    if limit >= needed:
        return None
    what = (
        f"dead-letter topic {topic} does not exist and the broker would create it with max.message.bytes {limit:,}"
        if created_by_broker
        else f"dead-letter topic {topic} accepts records up to {limit:,} bytes (its max.message.bytes)"
    )
    fix = "create it" if created_by_broker else "raise it"
    return (
        f"{what}, but a dead letter may be max_message_bytes ({max_message_bytes:,}) plus its headers: "
        f"{fix} with max.message.bytes={needed} or more, or lower max_message_bytes to "
        f"{max(0, limit - LETTER_HEADROOM):,} or less"
    )


def producer_settings(props: Mapping[str, str]) -> dict[str, str]:
    """The shared Kafka settings (bootstrap, security) without the consumer-only ones."""
    return {k: v for k, v in props.items() if not k.startswith(_CONSUMER_ONLY)}


def open_dead_letters(
    props: Mapping[str, str],
    topics: Collection[str],
    *,
    max_message_bytes: int,
    backoff: Backoff,
    timeout: float = 10.0,
) -> KafkaDeadLetters:
    """Check that every dead-letter topic holds the letters the config allows, then open the producer.

    Raises FatalError naming every topic that is too small. A topic that does not exist
    yet is checked against the limit the broker would create it with; if the broker
    creates no topics, letters to it wait (retried) until someone creates it. When Kafka
    does not answer within ``timeout`` (not up yet, not authorized), the check is skipped
    with a warning: the connector waits for Kafka as the consumer does, and the broker
    stays the judge of each letter.
    """
    limits = TopicLimits(props, timeout).read(sorted(topics))
    problems = []
    for topic, (limit, exists) in limits.items():
        if limit is None:
            continue
        problem = topic_problem(topic, limit, max_message_bytes, created_by_broker=not exists)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise FatalError("; ".join(problems))
    size = producer_limit(max_message_bytes, [limit for limit, exists in limits.values() if exists and limit])
    return KafkaDeadLetters(props, message_max_bytes=size, backoff=backoff)


class TopicLimits:
    """Reads ``max.message.bytes`` of topics (and the broker's default for topics it would create)."""

    def __init__(self, props: Mapping[str, str], timeout: float) -> None:
        settings: dict[str, Any] = producer_settings(props)
        settings["error_cb"] = lambda error: log.debug("kafka admin: %s", error.str())
        try:
            self._admin = AdminClient(settings)
        except KafkaException as exc:
            raise FatalError(f"kafka: cannot create an admin client: {exc.args[0]}") from exc
        self._timeout = timeout

    def read(self, topics: list[str]) -> dict[str, tuple[int | None, bool]]:
        """Per topic: (its limit, or None when it cannot be read; whether the topic exists)."""
        found: dict[str, tuple[int | None, bool]] = {}
        missing = []
        try:
            futures = self._admin.describe_configs([ConfigResource("topic", t) for t in topics],
                                                   request_timeout=self._timeout)  # fmt: skip
        except KafkaException as exc:
            futures = {}
            _not_checked(", ".join(topics), exc.args[0].str())
        for resource, future in futures.items():
            topic = resource.name
            try:
                config = future.result(self._timeout)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    missing.append(topic)
                else:  # e.g. not authorized to describe it: the broker stays the judge
                    _not_checked(topic, error.str())
                continue
            except TimeoutError:
                _not_checked(topic, f"Kafka did not answer within {self._timeout:.0f} s")
                continue
            entry = config.get("max.message.bytes")
            found[topic] = (int(entry.value) if entry is not None and entry.value else None, True)
        if missing:
            default, creates = self._broker_defaults()
            for topic in missing:
                if creates is False:
                    log.warning(
                        "dead-letter topic %s does not exist and the broker creates no topics: "
                        "letters to it wait until it is created",
                        topic,
                    )
                    found[topic] = (None, False)
                else:
                    found[topic] = (default, False)
        return found

    def _broker_defaults(self) -> tuple[int | None, bool | None]:
        """The broker's message.max.bytes and auto.create.topics.enable (None when unreadable)."""
        try:
            metadata = self._admin.list_topics(timeout=self._timeout)
            broker = str(next(iter(metadata.brokers)))
            futures = self._admin.describe_configs([ConfigResource("broker", broker)], request_timeout=self._timeout)
            config = next(iter(futures.values())).result(self._timeout)
        except (KafkaException, StopIteration, TimeoutError) as exc:
            _not_checked("(not created yet)", f"cannot read the broker's topic defaults: {exc}")
            return None, None
        limit = config.get("message.max.bytes")
        creates = config.get("auto.create.topics.enable")
        return (
            int(limit.value) if limit is not None and limit.value else None,
            None if creates is None or creates.value is None else creates.value == "true",
        )


def _not_checked(topic: str, why: str) -> None:
    log.warning("dead-letter topic %s: max.message.bytes not checked (%s); the broker judges each letter", topic, why)


class KafkaDeadLetters:
    """Produces dead letters with acks=all; each letter is reported once: delivered, or why it never will be."""

    def __init__(
        self,
        props: Mapping[str, str],
        *,
        message_max_bytes: int,
        backoff: Backoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings: dict[str, Any] = producer_settings(props)
        settings |= {"acks": "all", "enable.idempotence": "true", "linger.ms": "5"}
        configured = int(settings.get("message.max.bytes", 0) or 0)
        self.message_max_bytes = max(message_max_bytes, configured)
        settings["message.max.bytes"] = str(self.message_max_bytes)
        settings["error_cb"] = lambda error: log.info("kafka dead-letter producer: %s", error.str())
        settings["logger"] = LIBRDKAFKA_LOG
        try:
            self._producer = Producer(settings)
        except KafkaException as exc:
            raise FatalError(f"kafka: cannot create the dead-letter producer: {exc.args[0]}") from exc
        self._backoff = backoff
        self._clock = clock
        self._outages: dict[str, Outage] = {}
        #: Letters whose delivery failed transiently: (when to produce again, letter, its callback).
        self._retries: list[tuple[float, DeadLetter, OnDone]] = []

    def send(self, letter: DeadLetter, on_done: OnDone) -> None:
        """Produce ``letter``; ``on_done(None)`` once acknowledged, ``on_done(reason)`` if it never can be."""

        def report(error: KafkaError | None, _message: Any) -> None:
            if error is None:
                self._outage(letter.topic).answered()
                on_done(None)
            else:
                self._failed(letter, on_done, error)

        while True:
            try:
                self._producer.produce(
                    letter.topic, value=letter.value, key=letter.key, headers=letter.headers, on_delivery=report
                )
                return
            except BufferError:
                self._producer.poll(0.1)  # the local queue is full: serve deliveries, then retry
            except KafkaException as exc:
                self._failed(letter, on_done, exc.args[0])
                return

    def poll(self) -> None:
        """Serve delivery reports (their callbacks run on this thread) and produce again what is due."""
        self._producer.poll(0)
        if self._retries:
            now = self._clock()
            due = [retry for retry in self._retries if retry[0] <= now]
            if due:
                self._retries = [retry for retry in self._retries if retry[0] > now]
                for _, letter, on_done in due:
                    self.send(letter, on_done)

    def flush(self, timeout: float) -> int:
        """Wait (at most ``timeout`` s) for outstanding letters, retrying as usual; the number still unacknowledged."""
        deadline = self._clock() + timeout
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            wait = remaining
            if self._retries:
                wait = min(remaining, max(0.01, min(due for due, _, _ in self._retries) - self._clock()))
            queued = self._producer.flush(wait)
            if not queued and self._retries:  # nothing to wait for but the backoff of a retry
                next_due = min(due for due, _, _ in self._retries)
                time.sleep(max(0.0, min(deadline, next_due) - self._clock()))
            self.poll()
            if not queued and not self._retries:
                return 0
        return len(self._producer) + len(self._retries)

    def _outage(self, topic: str) -> Outage:
        outage = self._outages.get(topic)
        if outage is None:
            outage = self._outages[topic] = Outage(f"dead-letter topic {topic}", self._backoff, logger=log)
        return outage

    def _failed(self, letter: DeadLetter, on_done: OnDone, error: KafkaError) -> None:
        if error.code() in RETRIABLE_CODES or (error.retriable() and not error.fatal()):
            delay = self._outage(letter.topic).failed(RetriableError(error.str()))
            self._retries.append((self._clock() + delay, letter, on_done))
        elif error.code() in TOO_LARGE_CODES:
            on_done(
                f"the letter of {letter_size(letter):,} bytes is too large for {letter.topic} ({error.str()}; "
                f"the producer takes up to {self.message_max_bytes:,} bytes): raise the topic's max.message.bytes "
                "above the letter's size and restart"
            )
        else:
            on_done(error.str())


def letter_size(letter: DeadLetter) -> int:
    """Bytes of a letter's key, value and headers (what counts against message.max.bytes, roughly)."""
    headers = sum(len(k) + len(v or b"") for k, v in letter.headers)
    return len(letter.value or b"") + len(letter.key or b"") + headers
