import threading
import time

from connector.batching import Batch
from connector.errors import IngestRejected, RetriableError
from connector.sender import Outcome, RetryPolicy, Sender
from tests.unit.fakes import FakeSink


def _batch(rows: list[list[object]]) -> Batch:
    batch = Batch("s", ["id"], 0.0)
    batch.rows.extend(rows)
    batch.estimated_bytes = 10 * len(rows)
    return batch


def _wait_for(sender: Sender, n: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + 5
    while len(outcomes) < n and time.monotonic() < deadline:
        outcomes.extend(sender.settled(timeout=0.1))
    return outcomes


def test_a_batch_is_in_flight_until_its_outcome_is_taken() -> None:
    gate = threading.Event()
    sink = FakeSink(fail=lambda stream, call: (gate.wait(5), None)[1])
    sender = Sender(sink, max_request_bytes=1 << 20, workers=2, policy=RetryPolicy(0.001, 0.01, None))
    first, second = _batch([[1]]), _batch([[2], [3]])
    sender.submit(first)
    sender.submit(second)
    assert sender.in_flight == 2 and sender.in_flight_bytes == first.memory_bytes + second.memory_bytes
    gate.set()
    outcomes = _wait_for(sender, 2)
    assert {id(o.batch) for o in outcomes} == {id(first), id(second)}
    assert sender.in_flight == 0 and sender.in_flight_bytes == 0
    sender.close()


def test_outcomes_not_taken_stay_queued() -> None:
    sender = Sender(FakeSink(), max_request_bytes=1 << 20, workers=1, policy=RetryPolicy(0.001, 0.01, None))
    for i in range(3):
        sender.submit(_batch([[i]]))
    taken = next(iter(sender.settled(timeout=10)))
    assert taken.error is None and sender.in_flight == 2
    assert len(_wait_for(sender, 2)) == 2 and sender.in_flight == 0
    sender.close()


def test_rejected_rows_come_back_with_their_index() -> None:
    def reject_two(stream: str, call: int, body: bytes) -> IngestRejected | None:
        return IngestRejected("bad", stream=stream, status=400, code=6) if b"[2]" in body else None

    sink = FakeSink(reject=reject_two)
    sender = Sender(sink, max_request_bytes=1 << 20, workers=1, policy=RetryPolicy(0.001, 0.01, None))
    sender.submit(_batch([[0], [1], [2], [3]]))
    [outcome] = _wait_for(sender, 1)
    assert outcome.error is None and outcome.rejected == ((2, "bad"),)
    assert [r[0] for r in sink.rows["s"]] == [0, 1, 3]
    sender.close()


def test_batches_no_thread_started_can_be_withdrawn_in_order() -> None:
    gate = threading.Event()
    sink = FakeSink(fail=lambda stream, call: (gate.wait(5), None)[1])
    sender = Sender(sink, max_request_bytes=1 << 20, workers=1, policy=RetryPolicy(0.001, 0.01, None))
    first, second, third = _batch([[1]]), _batch([[2]]), _batch([[3]])
    for batch in (first, second, third):
        sender.submit(batch)
    deadline = time.monotonic() + 5
    while sink.calls < 1 and time.monotonic() < deadline:  # the one thread took the first
        time.sleep(0.001)
    assert [id(b) for b in sender.withdraw()] == [id(second), id(third)]
    assert sender.in_flight == 1 and sender.in_flight_bytes == first.memory_bytes
    assert [id(b) for b in sender.unsettled()] == [id(first)]
    gate.set()
    [outcome] = _wait_for(sender, 1)
    assert outcome.batch is first and not sender.is_unsettled(first)
    assert [r[0] for r in sink.rows["s"]] == [1], "withdrawn batches are never sent"
    sender.close()


def test_closing_never_waits_for_a_request_in_flight() -> None:
    hanging, release, answered = threading.Event(), threading.Event(), threading.Event()

    def hang(stream: str, call: int) -> None:
        hanging.set()
        release.wait(30)
        answered.set()

    sender = Sender(FakeSink(fail=hang), max_request_bytes=1 << 20, workers=1, policy=RetryPolicy(0.001, 0.01, None))
    sender.submit(_batch([[1]]))
    assert hanging.wait(5)
    sender.close()
    assert not answered.is_set(), "close waited for the request in flight"
    release.set()


def test_the_outage_ends_when_every_retrying_batch_gave_up() -> None:
    sink = FakeSink(fail=lambda stream, call: RetriableError("connection refused"))
    sender = Sender(sink, max_request_bytes=1 << 20, workers=2, policy=RetryPolicy(0.001, 0.01, 3))
    batch = Batch("orders", ["id"], 0.0)
    batch.rows.append([1])
    sender.submit(batch)
    outcome = next(iter(sender.settled(timeout=10)))
    assert isinstance(outcome.error, RetriableError)
    assert not sender.in_outage, "nothing is being retried any more"
    sender.close()
