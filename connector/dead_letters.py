"""Dead letters: a bad message, kept whole, with headers that say what went wrong.

The record keeps the original key, value and headers, so it can be replayed once the
cause is fixed; the added headers follow Kafka Connect's ``__connect.errors.*`` habit.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector import __version__
from connector.errors import DataError
from connector.records import MessageLike

HEADER_PREFIX = "kafka-timeplus.error."

#: ``error.class`` values: why the record is a dead letter.
DECODE_OR_MAP = "data"  # the connector could not decode or map the message
REJECTED = "rejected"  # Timeplus refused the row built from it


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record bound for a dead-letter topic."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]]
    #: For log lines: where the original came from and why it is here.
    describe: str


def dead_letter(message: MessageLike, error: DataError, *, dlq_topic: str, stream: str, error_class: str) -> DeadLetter:
    """The dead letter for ``message``, which failed with ``error`` on its way to ``stream``."""
    topic, partition, offset = message.topic() or "", message.partition(), message.offset()
    added = {
        "class": error_class,
        "reason": error.reason if error.column is None else f"column {error.column}: {error.reason}",
        "topic": topic,
        "partition": str(partition),
        "offset": str(offset),
        "stream": stream,
        "connector.version": __version__,
    }
    headers: list[tuple[str, str | bytes | None]] = list(message.headers() or [])
    headers += [(HEADER_PREFIX + k, v.encode("utf-8", "replace")) for k, v in added.items()]
    describe = f"{topic}[{partition}]@{offset} → {dlq_topic} ({error_class}: {added['reason']})"
    return DeadLetter(dlq_topic, message.key(), message.value(), headers, describe)
