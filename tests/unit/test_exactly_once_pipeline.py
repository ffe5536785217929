"""``delivery: exactly_once`` through the real pipeline objects, against the fakes.

The fake sink drops a request whose id it accepted before, as Timeplus does, so a
replay after a crash at any step must end with every row there exactly once.
"""

from __future__ import annotations

import re
import textwrap

import orjson
import pytest

from connector.config import Config, ConfigError, parse_config
from connector.pipeline import Tuning, build_pipeline
from connector.records import Record
from tests.unit.fakes import FakeSink, FakeSource, json_records

FAST = Tuning(poll_messages=7, poll_timeout_s=0.0, commit_interval_s=0.0)
ID = re.compile(r"^kt1-[0-9a-f]{12}-orders-(\d+)-(\d+)-(\d+)(/\d+-\d+)?$")


def config(max_rows: int = 10, linger_ms: int = 0, delivery: str = "exactly_once") -> Config:
    return parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: 'http://unused:3218', retry_backoff_s: 0.001}}
            batch: {{max_rows: {max_rows}, linger_ms: {linger_ms}}}
            delivery: {delivery}
            mappings:
              - topic: orders
                stream: orders
                on_error: skip
                columns:
                  id: {{from: value.id, type: int64}}
              - topic: orders
                stream: audit
                on_error: skip
                columns:
                  id: value.id
            """
        ),
        env={},
    )


def orders(n: int, partitions: int = 2) -> dict[tuple[str, int], list[Record]]:
    return {
        ("orders", p): json_records("orders", p, [{"id": p * 1000 + i} for i in range(n)]) for p in range(partitions)
    }


def expected(n: int, partitions: int = 2) -> list[int]:
    return sorted(p * 1000 + i for p in range(partitions) for i in range(n))


def test_delivery_is_validated_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"delivery: expected one of at_least_once, exactly_once, got 'once'"):
        config(delivery="once")
    assert config(delivery="at_least_once").delivery == "at_least_once"


def test_every_row_once_with_ids_per_partition_and_window() -> None:
    source, sink = FakeSource(orders(25)), FakeSink()
    build_pipeline(config(), source, sink, until_caught_up=True, tuning=FAST).run()
    assert sorted(r[0] for r in sink.rows["orders"]) == expected(25)
    assert sorted(r[0] for r in sink.rows["audit"]) == expected(25)
    assert source.broker_committed == {("orders", 0): 25, ("orders", 1): 25}
    bounds = sorted((int(m[1]), int(m[2]), int(m[3])) for m in map(ID.match, sink.ids) if m)
    assert len(bounds) == len(sink.ids)
    # Each stream: windows 0..9 and 10..19, then 20..24 cut at the end of the log.
    assert bounds == sorted([(p, a, b) for p in (0, 1) for a, b in ((0, 9), (10, 19), (20, 24))] * 2)
    metadata = orjson.loads(source.broker_metadata[("orders", 0)])
    assert metadata["v"] == 1 and set(metadata["s"]) == {"orders", "audit"}
