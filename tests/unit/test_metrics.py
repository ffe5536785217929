"""Prometheus metrics and health: what the pipeline reports lands in the right series."""

from __future__ import annotations

import textwrap
import urllib.error
import urllib.request

import orjson
import pytest

from connector.config import Config, parse_config
from connector.errors import IngestRejected, RetriableError
from connector.metrics import PrometheusMetrics
from connector.pipeline import Tuning, build_pipeline
from connector.status_server import StatusServer
from tests.unit.fakes import FakeDeadLetters, FakeSink, FakeSource, json_records

FAST = Tuning(poll_messages=50, poll_timeout_s=0.0, commit_interval_s=0.0)


def config(on_error: str = "dlq") -> Config:
    return parse_config(
        textwrap.dedent(
            f"""
            kafka: {{bootstrap.servers: 'unused:9092'}}
            timeplus: {{url: 'http://unused:3218', retry_backoff_s: 0.001}}
            batch: {{max_rows: 7, linger_ms: 0}}
            http: {{listen: '127.0.0.1:0', readiness_grace_s: 5}}
            mappings:
              - topics: [orders, returns]
                stream: orders
                dlq_topic: orders.dlq
                on_error: {on_error}
                columns:
                  id: {{from: value.id, type: int64}}
            """
        ),
        env={},
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def value(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_a_run_counts_messages_rows_bad_messages_requests_and_retries() -> None:
    orders = [{"id": i} for i in range(40)] + [{"id": "bad"}]
    returns = [{"id": 100 + i} for i in range(9)]
    source = FakeSource(
        {("orders", 0): json_records("orders", 0, orders), ("returns", 0): json_records("returns", 0, returns)}
    )
    # The first two requests fail as if Timeplus were away; the third answers 503; then all is accepted.
    failures = {1: RetriableError("down", reason="unreachable"), 2: RetriableError("down", reason="unreachable"),
                3: RetriableError("503", reason="http_503")}  # fmt: skip
    sink = FakeSink(fail=lambda _stream, call: failures.get(call))
    metrics = PrometheusMetrics()
    build_pipeline(
        config(), source, sink, dead_letters=FakeDeadLetters(), until_caught_up=True, tuning=FAST, metrics=metrics
    ).run()

    delivered = len(sink.rows["orders"])
    assert delivered == 49
    assert value(metrics, "kafka_timeplus_messages_consumed_total", topic="orders") == 41
    assert value(metrics, "kafka_timeplus_messages_consumed_total", topic="returns") == 9
    assert value(metrics, "kafka_timeplus_rows_ingested_total", stream="orders") == delivered
    assert value(metrics, "kafka_timeplus_dead_letters_total", topic="orders", stream="orders") == 1
    assert value(metrics, "kafka_timeplus_retries_total", reason="unreachable") == 2
    assert value(metrics, "kafka_timeplus_retries_total", reason="http_503") == 1
    ok = value(metrics, "kafka_timeplus_requests_total", stream="orders", outcome="ok")
    assert (
        ok == sink.calls - 3
        and value(metrics, "kafka_timeplus_requests_total", stream="orders", outcome="retriable") == 3
    )
    assert value(metrics, "kafka_timeplus_request_duration_seconds_count", stream="orders") == sink.calls
    assert value(metrics, "kafka_timeplus_request_bytes_total", stream="orders") > 0
    # Every accepted row has its consume-to-ack latency, though it is recorded per poll's share of a batch.
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_count") == delivered
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_bucket", le="+Inf") == delivered
    assert value(metrics, "kafka_timeplus_commits_total") >= 1
    assert value(metrics, "kafka_timeplus_last_commit_timestamp_seconds") > 1.7e9


def test_the_commit_made_on_stop_is_counted() -> None:
    source = FakeSource({("orders", 0): json_records("orders", 0, [{"id": i} for i in range(5)])})
    source.refuse_commits = "Broker: Group rebalance in progress"  # no commit lands before the stop
    sink = FakeSink()
    metrics = PrometheusMetrics()
    pipeline = build_pipeline(config("skip"), source, sink, tuning=FAST, metrics=metrics)

    def stop_once_delivered(src: FakeSource) -> None:
        if len(sink.rows.get("orders", [])) == 5:
            src.refuse_commits = None
            pipeline.stop()

    source.before_consume = stop_once_delivered
    stats = pipeline.run()
    assert source.broker_committed == {("orders", 0): 5}
    assert stats.commits >= 1
    assert value(metrics, "kafka_timeplus_commits_total") == stats.commits


def test_skipped_and_rejected_rows_are_counted_per_topic_and_stream() -> None:
    records = json_records("returns", 0, [{"id": 1}, {"id": "x"}, {"id": 3}, {"id": 4}])

    def reject(_stream: str, _call: int, body: bytes) -> IngestRejected | None:
        rows = orjson.loads(body)["data"]
        return IngestRejected("bad value", stream="orders", status=400, code=27) if [4] in rows else None

    sink = FakeSink(reject=reject)
    metrics = PrometheusMetrics()
    build_pipeline(
        config("skip"), FakeSource({("returns", 0): records}), sink, until_caught_up=True, tuning=FAST, metrics=metrics
    ).run()
    assert value(metrics, "kafka_timeplus_skipped_total", topic="returns", stream="orders") == 2  # "x", and 4 refused
    assert value(metrics, "kafka_timeplus_rejected_rows_total", topic="returns", stream="orders") == 1
    assert value(metrics, "kafka_timeplus_rows_ingested_total", stream="orders") == 2
    assert value(metrics, "kafka_timeplus_requests_total", stream="orders", outcome="rejected") >= 1


def test_the_latency_histogram_is_cumulative_and_weighted() -> None:
    metrics = PrometheusMetrics()
    metrics.ingested("s", 10, [(0.004, 3), (0.3, 5), (120.0, 2)])
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_bucket", le="0.01") == 3
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_bucket", le="0.25") == 3
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_bucket", le="0.5") == 8
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_bucket", le="60.0") == 8
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_bucket", le="+Inf") == 10
    assert value(metrics, "kafka_timeplus_consume_to_ack_seconds_sum") == pytest.approx(0.012 + 1.5 + 240)


def test_readiness_needs_partitions_or_a_settling_group_and_an_answering_timeplus() -> None:
    clock = Clock()
    metrics = PrometheusMetrics(readiness_grace_s=10, liveness_timeout_s=60, clock=clock)
    assert metrics.ready() == (True, [])  # starting: the group is given the grace to settle
    clock.now += 11
    ready, reasons = metrics.ready()
    assert not ready and reasons == ["no partitions assigned for 11 s (consumer group state: unknown)"]
    metrics.kafka_statistics(orjson.dumps({"cgrp": {"state": "up", "join_state": "steady"}}).decode())
    assert metrics.ready() == (True, [])  # a member of a settled group may own nothing
    metrics.beat(clock.now, assigned=2, paused=0, buffered_bytes=0, commits=0)
    metrics.kafka_statistics(orjson.dumps({"cgrp": {"state": "wait-coord", "join_state": "steady"}}).decode())
    assert metrics.ready() == (True, [])  # partitions assigned

    metrics.request("s", "retriable", 0.1, 100)
    clock.now += 9
    assert metrics.ready()[0]  # a failure shorter than the grace
    clock.now += 2
    assert metrics.ready() == (False, ["Timeplus has not answered for 11 s"])
    metrics.request("s", "ok", 0.1, 100)
    assert metrics.ready() == (True, [])


def test_liveness_follows_the_loop_heartbeat() -> None:
    clock = Clock()
    metrics = PrometheusMetrics(liveness_timeout_s=60, clock=clock)
    metrics.beat(clock.now, assigned=1, paused=0, buffered_bytes=0, commits=0)
    clock.now += 59
    assert metrics.alive() == (True, "alive")
    clock.now += 2
    assert metrics.alive() == (False, "the consumer loop has not gone round for 61 s")
    assert metrics.ready()[0] is False


def test_lag_comes_from_librdkafka_statistics_and_leaves_with_the_partition() -> None:
    metrics = PrometheusMetrics()

    def stats(*partitions: tuple[str, dict[str, object]]) -> str:
        base = {"-1": {"fetch_state": "none", "consumer_lag": -1}}
        return orjson.dumps({"topics": {"orders": {"partitions": base | dict(partitions)}}}).decode()

    metrics.kafka_statistics(
        stats(
            ("0", {"fetch_state": "active", "consumer_lag": 120, "hi_offset": 500, "app_offset": 450}),
            ("1", {"fetch_state": "active", "consumer_lag": -1, "hi_offset": 80, "app_offset": 30}),
        )
    )
    assert value(metrics, "kafka_timeplus_consumer_lag", topic="orders", partition="0") == 120
    assert value(metrics, "kafka_timeplus_consumer_lag", topic="orders", partition="1") == 50  # nothing committed
    assert (
        metrics.registry.get_sample_value("kafka_timeplus_consumer_lag", {"topic": "orders", "partition": "-1"}) is None
    )
    metrics.kafka_statistics(
        stats(("0", {"fetch_state": "none", "consumer_lag": 3}), ("1", {"fetch_state": "active", "consumer_lag": 0}))
    )
    assert (
        metrics.registry.get_sample_value("kafka_timeplus_consumer_lag", {"topic": "orders", "partition": "0"}) is None
    )
    assert value(metrics, "kafka_timeplus_consumer_lag", topic="orders", partition="1") == 0
    metrics.kafka_statistics("not json")  # ignored


def test_the_status_server_serves_metrics_health_and_readiness() -> None:
    clock = Clock()
    metrics = PrometheusMetrics(readiness_grace_s=10, clock=clock)
    metrics.consumed({"orders": 5})
    server = StatusServer("127.0.0.1:0", metrics)
    server.start()
    base = f"http://{server.address}"
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
            assert answer.status == 200
            assert 'kafka_timeplus_messages_consumed_total{topic="orders"} 5.0' in answer.read().decode()
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
            assert answer.status == 200
        clock.now += 11
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/readyz", timeout=10)
        assert refused.value.code == 503
        assert refused.value.read().decode().startswith("no partitions assigned for 11 s")
        refused.value.close()
    finally:
        server.close()


@pytest.mark.parametrize("listen", ["9108", "host:", ":99999", "a:b"])
def test_a_bad_listen_address_is_a_config_error_naming_its_path(listen: str) -> None:
    text = "kafka: {bootstrap.servers: 'k:9092'}\ntimeplus: {url: 'http://t:3218'}\nmappings: []\n"
    with pytest.raises(Exception, match=r"http\.listen: expected \[host\]:port") as error:
        parse_config(text + f"http: {{listen: '{listen}'}}\n", env={})
    assert type(error.value).__name__ == "ConfigError"
