"""In-memory stand-ins for Kafka and Timeplus, for unit tests of the pipeline only.

Integration tests use the real broker and the emulator; these fakes exist so the
delivery rules can be checked quickly and deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from connector.dead_letters import DeadLetter
from connector.errors import ConnectorError
from connector.offsets import TopicPartition as TP
from connector.ports import CommitCallback, PartitionsCallback
from connector.records import MessageLike, Record


class FakeSource:
    """A consumer over fixed partitions that assigns them (all, by default) on the first consume."""

    def __init__(
        self,
        partitions: Mapping[TP, list[Record]],
        committed: Mapping[TP, int] | None = None,
        *,
        assignment: list[TP] | None = None,
    ) -> None:
        self.partitions = {tp: list(records) for tp, records in partitions.items()}
        #: What this member is assigned (all partitions unless another member holds some).
        self.assignment = sorted(self.partitions) if assignment is None else assignment
        self.broker_committed: dict[TP, int] = dict(committed or {})
        #: The metadata committed with each offset (exactly-once's cuts).
        self.broker_metadata: dict[TP, str] = {}
        self.positions_: dict[TP, int] = {tp: self.broker_committed.get(tp, 0) for tp in self.partitions}
        self.commits: list[tuple[dict[TP, int], bool]] = []
        self.paused: set[TP] = set()
        self.closed = False
        self.callbacks: tuple[PartitionsCallback, PartitionsCallback, PartitionsCallback] | None = None
        self.on_commit: CommitCallback | None = None
        #: Asynchronous commits whose answers (offsets accepted, refusal) the next consume serves, as librdkafka's.
        self.unanswered: list[tuple[dict[TP, int], str | None]] = []
        #: While set, the broker refuses every commit with this reason (the group is rebalancing).
        self.refuse_commits: str | None = None
        self.assigned = False
        self.before_consume: Callable[[FakeSource], None] | None = None
        #: Runs inside ``close`` (where librdkafka serves a rebalance still pending).
        self.on_close: Callable[[FakeSource], None] | None = None
        self.closing = False

    def subscribe(
        self,
        topics: list[str],
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
        on_commit: CommitCallback | None = None,
    ) -> None:
        self.callbacks = (on_assign, on_revoke, on_lost)
        self.on_commit = on_commit

    def consume(self, max_messages: int, timeout: float) -> list[MessageLike]:
        assert self.callbacks is not None
        if not self.assigned:
            self.assigned = True
            self.callbacks[0](list(self.assignment))
        unanswered, self.unanswered = self.unanswered, []
        for accepted, refused in unanswered:
            if self.on_commit is not None:
                self.on_commit(accepted, refused)
        if self.before_consume is not None:
            self.before_consume(self)
        out: list[MessageLike] = []
        for tp, records in self.partitions.items():
            if tp in self.paused or tp not in self.assignment:
                continue
            while self.positions_[tp] < len(records) and len(out) < max_messages:
                out.append(records[self.positions_[tp]])
                self.positions_[tp] += 1
        return out

    def commit(
        self, offsets: Mapping[TP, int], *, asynchronous: bool, metadata: Mapping[TP, str] | None = None
    ) -> bool:
        self.commits.append((dict(offsets), asynchronous))
        refused = self.refuse_commits
        if refused is None:
            self.broker_committed.update(offsets)
            for tp in offsets:
                self.broker_metadata[tp] = (metadata or {}).get(tp, "")
        if asynchronous:
            self.unanswered.append(({}, refused) if refused is not None else (dict(offsets), None))
            return True
        return refused is None

    def committed(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, int]:
        if self.closing:
            raise ConnectorError("kafka: committed failed: Failed to get committed offsets: Local: Timed out")
        return {tp: self.broker_committed[tp] for tp in partitions if tp in self.broker_committed}

    def committed_metadata(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, str]]:
        return {tp: (offset, self.broker_metadata.get(tp, "")) for tp, offset in self.committed(partitions).items()}

    def end_offsets(self, partitions: list[TP], timeout: float = 10.0) -> dict[TP, tuple[int, int]]:
        return {tp: (0, len(self.partitions[tp])) for tp in partitions}

    def topic_partitions(self, timeout: float = 10.0) -> list[TP]:
        return sorted(self.partitions)

    def positions(self, partitions: list[TP]) -> dict[TP, int]:
        return {tp: self.positions_[tp] for tp in partitions}

    def pause(self, partitions: list[TP]) -> None:
        self.paused.update(partitions)

    def resume(self, partitions: list[TP]) -> None:
        self.paused.difference_update(partitions)

    def close(self) -> None:
        self.closing = True
        if self.on_close is not None:
            self.on_close(self)
        self.closed = True


class FakeSink:
    """Records accepted rows per stream; ``fail`` (by call) or ``reject`` (by body) may raise instead.

    As Timeplus does, a request whose idempotent id was accepted before is answered
    with success and not stored again (``ids`` holds every id accepted, in order).
    """

    def __init__(
        self,
        fail: Callable[[str, int], ConnectorError | None] | None = None,
        reject: Callable[[str, int, bytes], ConnectorError | None] | None = None,
    ) -> None:
        self.rows: dict[str, list[list[Any]]] = {}  # decoded JSON
        self.calls = 0
        self.ids: list[str] = []
        self.repeated_ids = 0
        self._fail = fail
        self._reject = reject
        self._lock = threading.Lock()

    def ingest(self, stream: str, body: bytes, idempotent_id: str | None = None) -> None:
        with self._lock:
            self.calls += 1
            call = self.calls
        error = self._fail(stream, call) if self._fail else None
        if error is None and self._reject is not None:
            error = self._reject(stream, call, body)
        if error is not None:
            raise error
        payload = orjson.loads(body)
        with self._lock:
            if idempotent_id is not None:
                if idempotent_id in self.ids:
                    self.repeated_ids += 1
                    return
                self.ids.append(idempotent_id)
            self.rows.setdefault(stream, []).extend(payload["data"])


def json_records(topic: str, partition: int, values: Sequence[object]) -> list[Record]:
    """Records with JSON values at offsets 0..n-1."""
    return [Record(topic, partition, offset, orjson.dumps(v), timestamp_ms=1_700_000_000_000 + offset)
            for offset, v in enumerate(values)]  # fmt: skip


class FakeDeadLetters:
    """Collects dead letters; each is acknowledged (or failed) on the next poll."""

    def __init__(self, failure: str | None = None) -> None:
        self.letters: list[DeadLetter] = []
        self._pending: list[Callable[[str | None], None]] = []
        self._failure = failure

    def send(self, letter: DeadLetter, on_done: Callable[[str | None], None]) -> None:
        self.letters.append(letter)
        self._pending.append(on_done)

    def poll(self) -> None:
        pending, self._pending = self._pending, []
        for on_done in pending:
            on_done(self._failure)

    def flush(self, timeout: float) -> int:
        self.poll()
        return 0
