"""The shape of a Kafka message as the core sees it, without importing Kafka.

``confluent_kafka.Message`` satisfies ``MessageLike`` as it is, so the hot path never
copies messages into another object; tests build ``Record`` values instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

Headers = list[tuple[str, bytes | None]]

# confluent-kafka's timestamp types (TIMESTAMP_NOT_AVAILABLE = 0).
TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1


class MessageLike(Protocol):
    """The accessors of ``confluent_kafka.Message`` that the core uses."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> Headers | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class Record:
    """A plain message, for tests and for anything that is not confluent-kafka."""

    topic_: str
    partition_: int
    offset_: int
    value_: bytes | None
    key_: bytes | None = None
    headers_: Headers | None = None
    timestamp_ms: int | None = None
    _ts_type: int = field(default=TIMESTAMP_CREATE_TIME, repr=False)

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> Headers | None:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        if self.timestamp_ms is None:
            return (TIMESTAMP_NOT_AVAILABLE, -1)
        return (self._ts_type, self.timestamp_ms)
