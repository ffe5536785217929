"""The start-up check of the dead-letter topics must not turn "Kafka is not up yet" into a crash.

A connector started before its Kafka cluster waits for it, as librdkafka does; reading the
dead-letter topics' ``max.message.bytes`` gives up after a while with a warning instead.
"""

from __future__ import annotations

import socket
from pathlib import Path

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.services import ConnectorProcess, wait_for, write_config


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_kafka_unreachable_at_start_leaves_the_dead_letter_check_undone_and_the_connector_waiting(
    emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=f"127.0.0.1:{closed_port()}",
        group=f"g-{unique}",
        url=emulator.url,
        # The status server says when the loop (and its SIGTERM handler) is up.
        extra="http: {listen: '127.0.0.1:0'}\n",
        mappings=f"""
        - topic: in-{unique}
          stream: s_{unique}
          dlq_topic: in-{unique}.dlq
          columns: {{id: value.id}}
        """,
    )
    connector = ConnectorProcess(config, until_caught_up=False, log_path=tmp_path / "run.log", check=False)
    try:
        wait_for(
            lambda: "serving /metrics" in connector.log() or connector.process.poll() is not None,
            60,
            "the start-up check to give up and the loop to start",
        )
        assert connector.process.poll() is None, connector.log()[-3000:]
        assert "max.message.bytes not checked" in connector.log(), connector.log()[-3000:]
    finally:
        connector.terminate()
    assert connector.wait(60) == 0, connector.log()[-3000:]
