"""The Grafana dashboard reads only metrics the connector exports, and the compose demo provisions it."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import yaml

from connector.config import load_config
from connector.metrics import PrometheusMetrics

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "kafka-timeplus.json"
METRIC = re.compile(r"\b(kafka_timeplus_[a-z_]+)\b")


def exported() -> set[str]:
    """Every sample name the connector's registry exposes once each series has a value."""
    metrics = PrometheusMetrics()
    metrics.consumed({"t": 1})
    metrics.ingested("s", 1, [(0.1, 1)])
    for outcome in ("dead_lettered", "skipped", "rejected"):
        metrics.bad_message(outcome, "t", "s")
    metrics.request("s", "ok", 0.1, 10)
    metrics.retry("timeout")
    metrics.beat(0.0, assigned=1, paused=0, buffered_bytes=0, commits=1)
    partitions = {"0": {"fetch_state": "active", "consumer_lag": 1}}
    metrics.kafka_statistics(orjson.dumps({"topics": {"t": {"partitions": partitions}}}).decode())
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}


def expressions(dashboard: dict[str, object]) -> list[str]:
    panels = dashboard["panels"]
    assert isinstance(panels, list)
    return [target["expr"] for panel in panels for target in panel["targets"]]


def unknown_metrics(dashboard: dict[str, object], names: set[str]) -> list[str]:
    """The metric names the dashboard's queries read that the connector does not export."""
    return sorted({m for expr in expressions(dashboard) for m in METRIC.findall(expr)} - names)


def test_the_dashboard_reads_only_exported_metrics() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    names = exported()
    assert unknown_metrics(dashboard, names) == []
    for expr in expressions(dashboard):
        assert METRIC.search(expr), f"a query that reads no connector metric: {expr}"


def test_a_dashboard_reading_an_unknown_metric_is_caught() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    dashboard["panels"][0]["targets"][0]["expr"] = "rate(kafka_timeplus_messages_consumd_total[1m])"
    assert unknown_metrics(dashboard, exported()) == ["kafka_timeplus_messages_consumd_total"]


@pytest.mark.parametrize(
    ("what", "metric"),
    [
        ("throughput", "kafka_timeplus_messages_consumed_total"),
        ("lag per partition", "kafka_timeplus_consumer_lag"),
        ("consume-to-ack latency", "kafka_timeplus_consume_to_ack_seconds_bucket"),
        ("retries", "kafka_timeplus_retries_total"),
        ("dead letters", "kafka_timeplus_dead_letters_total"),
    ],
)
def test_the_dashboard_shows(what: str, metric: str) -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert any(metric in expr for expr in expressions(dashboard)), f"no panel shows {what}"


def test_the_compose_demo_provisions_prometheus_and_grafana_with_the_dashboard() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    command = services["connector"]["command"]
    assert command[command.index("--http") + 1] == ":9108"  # the image's status port, which Prometheus scrapes
    assert load_config(ROOT / "config" / "demo.yaml", env={}).http.listen is None  # off by default
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["connector:9108"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
    grafana = services["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/kafka-timeplus.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert uids == {source["datasources"][0]["uid"]}
