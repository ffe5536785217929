"""The benchmark keeps working: a tiny run of every stage and variant against the real broker.

It asserts what the run delivered, never how fast: timings belong to ``make bench``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from sandbox.kafka_broker import KafkaBroker

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 2000
NAIVE = 100
LATENCY_ROWS = 500  # 500 msg/s for 1 s


def test_bench_runs_every_stage_and_loses_nothing(kafka: KafkaBroker, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = [
        sys.executable, "-m", "bench.bench",
        "--bootstrap", kafka.bootstrap,
        "--messages", str(MESSAGES),
        "--repeats", "1",
        "--naive-messages", str(NAIVE),
        "--workers", "2",
        "--gzip",
        "--ndjson",
        "--exactly-once",
        "--rows-per-request", "500",
        "--in-flight", "1",
        "--latency-rate", str(LATENCY_ROWS),
        "--latency-seconds", "1",
        "--json-out", str(out),
    ]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = orjson.loads(out.read_bytes())

    stages = report["stages"]
    connector_stages = {"c", "c_workers2", "c_gzip", "c_ndjson", "c_exactly_once", "c_rows500_inflight1"}
    assert set(stages) == {"a", "b", "d"} | connector_stages
    assert report["problems"] == []
    for name in ("a", "b"):
        assert stages[name]["messages"] == MESSAGES
    for name in connector_stages:
        sink = stages[name]["runs"][0]["sink"]
        assert (sink["rows"], sink["unique"], sink["missing"], sink["duplicates"]) == (MESSAGES, MESSAGES, 0, 0), name
        # Only the exactly-once variant sends idempotent ids, and it sends one with every request.
        expected_with_id = sink["requests"] if name == "c_exactly_once" else 0
        assert sink["requests_with_id"] == expected_with_id, (name, sink)
    naive = stages["d"]["runs"][0]["sink"]
    assert (naive["rows"], naive["duplicates"]) == (NAIVE, 0)
    latency = report["latency"]
    assert (latency["missing"], latency["duplicates"]) == (0, 0)
    assert latency["latency_ms"]["count"] == LATENCY_ROWS
    consume_to_ack = latency["consume_to_ack_ms"]
    assert 0 <= consume_to_ack["p50"] <= consume_to_ack["p99"] <= consume_to_ack["max"]
    assert set(report["ratios"]) == {"c/b", "c/a", "c/d"}
    assert report["machine"]["cpu_count"] and report["versions"]["librdkafka"]


def test_bench_runs_the_realistic_workload(kafka: KafkaBroker, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = [
        sys.executable, "-m", "bench.bench",
        "--bootstrap", kafka.bootstrap,
        "--workload", "realistic",
        "--messages", str(MESSAGES),
        "--repeats", "1",
        "--naive-messages", str(NAIVE),
        "--latency-seconds", "0",
        "--exactly-once",
        "--json-out", str(out),
    ]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = orjson.loads(out.read_bytes())
    assert report["params"]["workload"] == "realistic" and report["problems"] == []
    for name in ("c", "c_exactly_once"):
        sink = report["stages"][name]["runs"][0]["sink"]
        assert (sink["rows"], sink["unique"], sink["missing"], sink["duplicates"]) == (MESSAGES, MESSAGES, 0, 0), name
    exactly_once = report["stages"]["c_exactly_once"]["runs"][0]["sink"]
    assert exactly_once["requests_with_id"] == exactly_once["requests"] > 0
    assert report["stages"]["b"]["messages"] == MESSAGES


def test_bench_avro_workload_runs_b_and_c_and_loses_nothing(kafka: KafkaBroker, tmp_path: Path) -> None:
    out = tmp_path / "bench-avro.json"
    args = [
        sys.executable, "-m", "bench.bench",
        "--bootstrap", kafka.bootstrap,
        "--messages", str(MESSAGES),
        "--repeats", "1",
        "--format", "avro",
        "--json-out", str(out),
    ]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = orjson.loads(out.read_bytes())
    assert set(report["stages"]) == {"a", "b", "c"}
    assert report["params"]["format"] == "avro"
    assert report["problems"] == []
    assert report["stages"]["b"]["messages"] == MESSAGES
    sink = report["stages"]["c"]["runs"][0]["sink"]
    assert (sink["rows"], sink["unique"], sink["missing"], sink["duplicates"]) == (MESSAGES, MESSAGES, 0, 0)
