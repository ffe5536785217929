"""The Kafka source's rebalance callbacks through the real broker, with both group protocols."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from connector.kafka_source import KafkaSource
from connector.offsets import TopicPartition as TP
from sandbox.kafka_broker import KafkaBroker
from tests.support.services import json_value, produce

PER_PARTITION = 50


def _nothing(_partitions: list[TP]) -> None:
    return None


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
@pytest.mark.timeout(120)
def test_a_partition_paused_when_assigned_is_not_read_until_resumed(
    kafka: KafkaBroker, unique: str, protocol: str
) -> None:
    # The pipeline pauses newly assigned partitions while Timeplus is failing or too much is
    # buffered; librdkafka only pauses partitions that are already assigned.
    topic = f"paused-{protocol}-{unique}"
    kafka.create_topic(topic, 2)
    produce(kafka.bootstrap, topic, ((p, None, json_value({"i": i})) for i in range(PER_PARTITION) for p in (0, 1)))
    source = KafkaSource({"bootstrap.servers": kafka.bootstrap, "group.id": f"g-{topic}", "group.protocol": protocol})
    read: dict[int, list[int]] = {0: [], 1: []}

    def consume_until(done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not done():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; read {read}")
            for message in source.consume(100, 0.2):
                read[message.partition() or 0].append(message.offset() or 0)

    try:
        source.subscribe(
            [topic],
            on_assign=lambda partitions: source.pause([tp for tp in partitions if tp[1] == 0]),
            on_revoke=_nothing,
            on_lost=_nothing,
        )
        consume_until(lambda: len(read[1]) >= PER_PARTITION, "partition 1 to be read")
        assert read[0] == [], f"partition 0 was read although it was paused when assigned: {len(read[0])} messages"
        source.resume([(topic, 0)])
        consume_until(lambda: len(read[0]) >= PER_PARTITION, "partition 0 to be read once resumed")
        assert read[0] == list(range(PER_PARTITION)), "resuming must read partition 0 from its start"
    finally:
        source.close()


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
@pytest.mark.timeout(180)
def test_a_partition_revoked_while_paused_is_read_when_it_comes_back(
    kafka: KafkaBroker, unique: str, protocol: str
) -> None:
    # The pipeline pauses every partition while Timeplus is failing; a rebalance then moves
    # one away and back (a member joins and leaves). The pipeline never paused it in its new
    # ownership, so it must be read.
    topic = f"repaused-{protocol}-{unique}"
    kafka.create_topic(topic, 2)
    props = {"bootstrap.servers": kafka.bootstrap, "group.id": f"g-{topic}", "group.protocol": protocol}
    everything = {(topic, 0), (topic, 1)}
    first, owned_by_first = KafkaSource(props), set[TP]()
    second, owned_by_second = KafkaSource(props), set[TP]()
    read: list[TP] = []

    def serve_until(done: Callable[[], bool], what: str, *sources: KafkaSource) -> None:
        deadline = time.monotonic() + 60
        while not done():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; first owns {owned_by_first}, read {len(read)}")
            for source in sources:
                read.extend((m.topic() or "", m.partition() or 0) for m in source.consume(100, 0.1))

    try:
        first.subscribe(
            [topic],
            on_assign=owned_by_first.update,
            on_revoke=owned_by_first.difference_update,
            on_lost=owned_by_first.difference_update,
        )
        serve_until(lambda: owned_by_first == everything, "the first member to own both partitions", first)
        first.pause(sorted(everything))
        second.subscribe(
            [topic],
            on_assign=owned_by_second.update,
            on_revoke=owned_by_second.difference_update,
            on_lost=owned_by_second.difference_update,
        )
        serve_until(
            lambda: len(owned_by_first) == 1 and len(owned_by_second) == 1,
            "the second member to take one",
            first,
            second,
        )
        (moved,) = owned_by_second
        second.close()
        serve_until(lambda: owned_by_first == everything, "the moved partition to come back", first)
        produce(kafka.bootstrap, topic, ((p, None, json_value({"i": i})) for i in range(10) for p in (0, 1)))
        serve_until(lambda: read.count(moved) >= 10, "the moved partition's messages", first)
        assert set(read) == {moved}, "the partition the first member kept paused was read"
    finally:
        second.close()
        first.close()
