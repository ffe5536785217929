"""How large dead letters may be: the producer's limit and the start-up check of the topics."""

from __future__ import annotations

import itertools

import pytest

from connector.kafka_dead_letters import (
    LETTER_HEADROOM,
    LIBRDKAFKA_DEFAULT_MAX,
    LIBRDKAFKA_LARGEST_MAX,
    needed_bytes,
    producer_limit,
    topic_problem,
)

MiB = 1 << 20
KAFKA_DEFAULT_TOPIC_LIMIT = 1_048_588


def test_the_producer_is_sized_for_max_message_bytes_not_librdkafkas_default() -> None:
    assert producer_limit(8 * MiB, []) == 8 * MiB + LETTER_HEADROOM
    assert producer_limit(10_000, []) == LIBRDKAFKA_DEFAULT_MAX
    # A topic that accepts more than max_message_bytes needs lets oversized messages through too.
    assert producer_limit(1 * MiB, [12 * MiB, 2 * MiB]) == 12 * MiB


SIZES = [
    1,
    999_999,
    1_000_000,
    KAFKA_DEFAULT_TOPIC_LIMIT,
    8 * MiB,
    LIBRDKAFKA_LARGEST_MAX - 1,
    2 * LIBRDKAFKA_LARGEST_MAX,
]


@pytest.mark.parametrize(
    ("max_message", "topics"),
    [(m, list(t)) for m in SIZES for t in itertools.chain([()], itertools.combinations(SIZES, 2))],
)
def test_the_producer_limit_covers_every_letter_librdkafka_allows(max_message: int, topics: list[int]) -> None:
    limit = producer_limit(max_message, topics)
    assert LIBRDKAFKA_DEFAULT_MAX <= limit <= LIBRDKAFKA_LARGEST_MAX
    assert limit >= min(needed_bytes(max_message), LIBRDKAFKA_LARGEST_MAX)
    assert all(limit >= min(t, LIBRDKAFKA_LARGEST_MAX) for t in topics)


def test_a_topic_smaller_than_a_letter_is_a_problem_that_says_what_to_change() -> None:
    problem = topic_problem("orders.dlq", KAFKA_DEFAULT_TOPIC_LIMIT, 8 * MiB)
    assert problem is not None
    assert "orders.dlq" in problem and "1,048,588" in problem and "8,388,608" in problem
    assert f"max.message.bytes={8 * MiB + LETTER_HEADROOM}" in problem
    assert f"lower max_message_bytes to {KAFKA_DEFAULT_TOPIC_LIMIT - LETTER_HEADROOM:,}" in problem


def test_a_topic_that_holds_every_letter_is_fine() -> None:
    assert topic_problem("orders.dlq", KAFKA_DEFAULT_TOPIC_LIMIT, KAFKA_DEFAULT_TOPIC_LIMIT - LETTER_HEADROOM) is None


def test_a_missing_topic_is_judged_by_the_limit_the_broker_would_create_it_with() -> None:
    problem = topic_problem("orders.dlq", KAFKA_DEFAULT_TOPIC_LIMIT, 8 * MiB, created_by_broker=True)
    assert problem is not None and "does not exist" in problem and "create it with" in problem
