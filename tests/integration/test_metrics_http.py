"""``run --http``: Prometheus counters equal what Timeplus received; /readyz follows Timeplus's outage.

A real broker, the emulator and the connector CLI as a subprocess; every wait is a
condition with a deadline.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import ensure_running, produce_ids, stop_cleanly, wait_until, write_fault_config
from tests.support.services import ConnectorProcess

PARTITIONS = 2
FIRST, DURING_OUTAGE = 5_000, 1_000


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def probe(base: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read().decode()


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def test_metrics_equal_what_the_emulator_received_and_readyz_follows_an_outage(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic, stream, group = f"metrics-{unique}", f"metrics_{unique}", f"g-metrics-{unique}"
    kafka.create_topic(topic, PARTITIONS)
    emulator.create_stream(stream, [("id", "int64"), ("name", "string")])
    config = write_fault_config(
        tmp_path / "c.yaml", bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream,
        max_rows=500, kafka_extra={"statistics.interval.ms": "1000"},
    )  # fmt: skip
    with config.open("a") as file:
        file.write("http: {listen: '127.0.0.1:0', readiness_grace_s: 2}\n")
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(FIRST))
    connector = ConnectorProcess(config, until_caught_up=False, log_path=tmp_path / "run.log")
    try:
        served: list[str] = []

        def serving() -> bool:
            ensure_running(connector)
            served.extend(re.findall(r"/readyz on (http://\S+)", connector.log()))
            return bool(served)

        wait_until(serving, 60, "the status server's address in the log", connector.log)
        base = served[0]

        def metrics_match(expected_rows: int) -> bool:
            ensure_running(connector)
            if emulator.count(stream) != expected_rows:
                return False
            samples = scrape(base)
            stored = [r for r in emulator.requests() if r.stream == stream and r.status == 200]
            return (
                total(samples, "kafka_timeplus_messages_consumed_total", topic=topic) == expected_rows
                and total(samples, "kafka_timeplus_rows_ingested_total", stream=stream) == expected_rows
                and total(samples, "kafka_timeplus_requests_total", stream=stream, outcome="ok") == len(stored)
                and total(samples, "kafka_timeplus_request_bytes_total", stream=stream)
                >= sum(r.body_size for r in stored)
                and total(samples, "kafka_timeplus_consume_to_ack_seconds_count") == expected_rows
            )

        wait_until(lambda: metrics_match(FIRST), 120, f"{FIRST:,} rows and metrics that count them", connector.log)
        samples = scrape(base)
        # Before the outage every request landed: the bytes sent are exactly the bytes received.
        received = sum(r.body_size for r in emulator.requests() if r.stream == stream)
        assert total(samples, "kafka_timeplus_request_bytes_total", stream=stream) == received
        assert total(samples, "kafka_timeplus_assigned_partitions") == PARTITIONS

        def lag_is_zero() -> bool:
            lags = [v for (n, _), v in scrape(base).items() if n == "kafka_timeplus_consumer_lag"]
            return len(lags) == PARTITIONS and not any(lags)

        wait_until(lag_is_zero, 60, "consumer lag 0 on every partition", connector.log)
        assert probe(base, "/healthz")[0] == 200
        assert probe(base, "/readyz") == (200, "ready\n")

        emulator.faults.down_for(120)
        produce_ids(kafka.bootstrap, topic, PARTITIONS, range(FIRST, FIRST + DURING_OUTAGE))
        unready: list[str] = []

        def not_ready() -> bool:
            ensure_running(connector)
            status, body = probe(base, "/readyz")
            unready.append(body)
            return status == 503

        wait_until(not_ready, 90, "/readyz to answer 503 while Timeplus is down", connector.log)
        assert unready[-1].startswith("Timeplus has not answered for ")
        assert probe(base, "/healthz")[0] == 200  # alive all along: the loop goes round, paused
        lag_during = sum(v for (n, _), v in scrape(base).items() if n == "kafka_timeplus_consumer_lag")

        emulator.faults.clear()  # Timeplus is back
        wait_until(lambda: probe(base, "/readyz")[0] == 200, 90, "/readyz to answer 200 again", connector.log)
        wait_until(
            lambda: metrics_match(FIRST + DURING_OUTAGE), 120, "the rows produced during the outage", connector.log
        )
        samples = scrape(base)
        assert total(samples, "kafka_timeplus_retries_total", reason="unreachable") >= 1
        assert total(samples, "kafka_timeplus_requests_total", stream=stream, outcome="retriable") >= 1
        print(f"lag during the outage (last statistics): {lag_during:.0f}; /readyz said: {unready[-1].strip()}")
        stop_cleanly(connector)
    finally:
        if connector.process.poll() is None:
            connector.kill()  # only the process this test started
        connector.wait(30)
