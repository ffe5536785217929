"""Helpers for tests that use the real broker: produce, read offsets, run the connector CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[int, bytes | None, bytes | None]]) -> int:
    """Produce (partition, key, value) tuples and wait until all are acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    count = 0
    for partition, key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key, partition=partition, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
    assert producer.flush(60) == 0, "messages still unacknowledged after 60 s"
    assert not failures, failures[:5]
    return count


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset per partition (absent partitions have none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The high watermark of each partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions)}
    finally:
        consumer.close()


class ConnectorProcess:
    """``kafka-timeplus run`` as a real subprocess, with its log kept for assertions."""

    def __init__(self, config_path: Path, *, until_caught_up: bool, log_path: Path, check: bool = True) -> None:
        args = [sys.executable, "-m", "connector.cli", "run", "-c", str(config_path)]
        if until_caught_up:
            args.append("--until-caught-up")
        if not check:
            args.append("--no-check")
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ.copy())

    def wait(self, timeout: float = 120) -> int:
        """Wait for the exit code; kill and fail the test on timeout."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"connector did not exit within {timeout} s; log:\n{self.log()[-4000:]}")
        finally:
            self._log.close()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def write_config(path: Path, *, bootstrap: str, group: str, url: str, mappings: str, extra: str = "") -> Path:
    """A connector config file for one test; a one-line top-level key in ``extra`` replaces the default's."""
    base = textwrap.dedent(
        f"""
        kafka:
          bootstrap.servers: "{bootstrap}"
          group.id: "{group}"
        timeplus:
          url: "{url}"
          timeout_s: 5
        batch: {{max_rows: 1000, max_bytes: 1MiB, linger_ms: 100}}
        drain_timeout_s: 10
        """
    )
    extra = textwrap.dedent(extra)
    # A key given twice is a config error, so an override replaces the default's line.
    replaced = {line.split(":", 1)[0] for line in extra.splitlines() if line[:1].isalpha()}
    base = "".join(line for line in base.splitlines(keepends=True) if line.split(":", 1)[0] not in replaced)
    path.write_text(base + extra + "mappings:\n" + textwrap.indent(textwrap.dedent(mappings), "  "))
    return path


def json_value(obj: Any) -> bytes:
    return orjson.dumps(obj)
