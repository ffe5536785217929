"""``kafka.group.protocol`` (issue #12): the classic protocol and KIP-848's, and what each accepts."""

from __future__ import annotations

import textwrap

import pytest

from connector.config import parse_config
from connector.errors import ConfigError


def config(kafka: str) -> str:
    return textwrap.dedent(
        f"""
        kafka: {{bootstrap.servers: 'broker:9092', {kafka}}}
        timeplus: {{url: 'http://timeplus:3218'}}
        mappings:
          - {{topic: orders, stream: orders, columns: {{id: value.id}}}}
        """
    )


@pytest.mark.parametrize("protocol", ["classic", "consumer", "CONSUMER"])
def test_both_group_protocols_are_accepted(protocol: str) -> None:
    assert parse_config(config(f"group.protocol: {protocol}"), env={}).kafka["group.protocol"] == protocol


def test_an_unknown_group_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"kafka\.group\.protocol: must be one of classic, consumer, got 'kip848'"):
        parse_config(config("group.protocol: kip848"), env={})


def test_the_consumer_protocol_refuses_every_classic_only_property_at_once() -> None:
    kafka = (
        "group.protocol: consumer, session.timeout.ms: 6000, heartbeat.interval.ms: 1000, "
        "partition.assignment.strategy: range"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(config(kafka), env={})
    message = str(info.value)
    assert "kafka.session.timeout.ms: not used with group.protocol: consumer" in message
    assert "group.consumer.session.timeout.ms" in message
    assert "kafka.heartbeat.interval.ms: not used with group.protocol: consumer" in message
    assert "kafka.partition.assignment.strategy: not used with group.protocol: consumer" in message
    assert "group.remote.assignor" in message


def test_the_classic_protocol_keeps_its_session_settings() -> None:
    props = parse_config(config("session.timeout.ms: 6000, partition.assignment.strategy: range"), env={}).kafka
    assert props["session.timeout.ms"] == "6000" and props["partition.assignment.strategy"] == "range"
