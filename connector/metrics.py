"""Prometheus metrics of a run, and the liveness and readiness the status endpoints report.

``PrometheusMetrics`` is the ``Metrics`` port's adapter (the pipeline imports neither this
module nor ``prometheus_client``): the pipeline reports per poll, per batch and per request,
librdkafka's statistics bring the consumer lag, and ``connector.status_server`` serves the
registry at ``/metrics``. Every name below is listed in the README's operations section, and
the Grafana dashboard in ``deploy/grafana`` reads only these (a unit test checks it).
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

PREFIX = "kafka_timeplus_"
#: Upper bounds (s) of the consume-to-ack buckets: linger_ms (500 by default) plus a round trip.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Upper bounds (s) of the request duration buckets.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: librdkafka's consumer-group states in which a member without partitions is settling normally.
_GROUP_SETTLING = frozenset({"wait-join", "wait-metadata", "wait-sync", "wait-assign-call", "steady"})


class _WeightedHistogram(Collector):
    """A histogram fed (value, count) pairs: one observation per poll's share of a batch, not per row."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self._name, self._documentation, self._buckets = name, documentation, buckets
        self._counts = [0] * (len(buckets) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float, count: int) -> None:
        """Record ``count`` observations of ``seconds``."""
        with self._lock:
            self._counts[bisect_left(self._buckets, seconds)] += count
            self._sum += seconds * count

    def collect(self) -> Iterator[Metric]:
        """The cumulative buckets, as Prometheus reads them."""
        with self._lock:
            counts, total_s = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, count in zip((*map(str, self._buckets), "+Inf"), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(self._name, self._documentation, buckets=cumulative, sum_value=total_s)


class PrometheusMetrics:
    """Counts what the pipeline reports into a Prometheus registry; answers liveness and readiness.

    ``readiness_grace_s``: how long the group may settle without partitions, and Timeplus
    may fail, before ``ready`` says no. ``liveness_timeout_s``: how long the loop may go
    without a heartbeat (a revoke's drain holds it for up to drain_timeout_s).
    """

    def __init__(
        self,
        *,
        readiness_grace_s: float = 10.0,
        liveness_timeout_s: float = 60.0,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self._grace_s = readiness_grace_s
        self._liveness_s = liveness_timeout_s
        self._clock, self._wall_clock = clock, wall_clock
        m = PREFIX
        self._consumed = Counter(
            m + "messages_consumed", "Kafka messages read, per topic", ["topic"], registry=registry
        )
        self._rows = Counter(m + "rows_ingested", "Rows Timeplus accepted, per stream", ["stream"], registry=registry)
        bad = ["topic", "stream"]
        self._bad = {
            "dead_lettered": Counter(
                m + "dead_letters", "Messages dead-lettered (acknowledged)", bad, registry=registry
            ),
            "skipped": Counter(m + "skipped", "Bad messages skipped (on_error: skip)", bad, registry=registry),
            "rejected": Counter(m + "rejected_rows", "Rows Timeplus refused as bad data", bad, registry=registry),
        }
        self._requests = Counter(
            m + "requests", "Ingest requests, per stream and outcome", ["stream", "outcome"], registry=registry
        )
        self._request_bytes = Counter(
            m + "request_bytes", "Body bytes of ingest requests (every attempt)", ["stream"], registry=registry
        )
        self._request_seconds = Histogram(
            m + "request_duration_seconds",
            "Ingest request duration",
            ["stream"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self._retries = Counter(m + "retries", "Ingest attempts retried, per reason", ["reason"], registry=registry)
        self._lag = Gauge(
            m + "consumer_lag",
            "Messages behind the partition's end: high watermark - committed offset (librdkafka statistics)",
            ["topic", "partition"],
            registry=registry,
        )
        self._latency = _WeightedHistogram(
            m + "consume_to_ack_seconds", "From the poll that read a message to Timeplus's answer for its row",
            LATENCY_BUCKETS,
        )  # fmt: skip
        registry.register(self._latency)
        self._buffered = Gauge(m + "buffered_bytes", "Estimated bytes of rows buffered or in flight", registry=registry)
        self._assigned = Gauge(m + "assigned_partitions", "Partitions this member owns", registry=registry)
        self._paused = Gauge(m + "paused_partitions", "Partitions paused by back-pressure", registry=registry)
        self._commits = Counter(m + "commits", "Offset commits accepted", registry=registry)
        self._last_commit = Gauge(
            m + "last_commit_timestamp_seconds",
            "Unix time of the last offset commit the broker accepted",
            registry=registry,
        )
        self._heartbeat = Gauge(m + "loop_heartbeat_timestamp_seconds", "Unix time of the loop's last round",
                                registry=registry)  # fmt: skip
        # Label children are looked up once: labels() costs a microsecond or so.
        self._consumed_by_topic: dict[str, Any] = {}
        self._lag_labels: set[tuple[str, str]] = set()
        started = clock()
        self._beat_at = started
        self._assigned_count = 0
        self._assigned_changed_at = started
        self._group_state: str | None = None
        self._commit_count = 0
        self._timeplus_failing_since: float | None = None
        self._last_heartbeat_export = 0.0

    # -- the Metrics port -------------------------------------------------------------------

    def beat(self, now: float, *, assigned: int, paused: int, buffered_bytes: int, commits: int) -> None:
        """The loop went round: heartbeat and gauges."""
        at = self._beat_at = self._clock()
        if assigned != self._assigned_count:
            self._assigned_count, self._assigned_changed_at = assigned, at
            self._assigned.set(assigned)
        self._paused.set(paused)
        self._buffered.set(buffered_bytes)
        if commits != self._commit_count:
            self._commits.inc(commits - self._commit_count)
            self._commit_count = commits
            self._last_commit.set(self._wall_clock())
        if at - self._last_heartbeat_export >= 1.0:
            self._last_heartbeat_export = at
            self._heartbeat.set(self._wall_clock())

    def consumed(self, counts: Mapping[str, int]) -> None:
        """One poll's messages per topic."""
        children = self._consumed_by_topic
        for topic, count in counts.items():
            child = children.get(topic)
            if child is None:
                child = children[topic] = self._consumed.labels(topic)
            child.inc(count)

    def ingested(self, stream: str, rows: int, latencies: list[tuple[float, int]]) -> None:
        """One delivered batch: its accepted rows and the consume-to-ack latency of its polls' shares."""
        self._rows.labels(stream).inc(rows)
        for seconds, count in latencies:
            self._latency.observe(seconds, count)

    def bad_message(self, outcome: str, topic: str, stream: str) -> None:
        """A dead letter acknowledged, a message skipped, or a row rejected."""
        self._bad[outcome].labels(topic, stream).inc()

    def request(self, stream: str, outcome: str, seconds: float, body_bytes: int) -> None:
        """One ingest request ended (any delivery thread)."""
        self._requests.labels(stream, outcome).inc()
        self._request_bytes.labels(stream).inc(body_bytes)
        self._request_seconds.labels(stream).observe(seconds)
        if outcome == "retriable":
            if self._timeplus_failing_since is None:
                self._timeplus_failing_since = self._clock()
        else:
            self._timeplus_failing_since = None  # an answer, even a refusal: Timeplus is there

    def retry(self, reason: str) -> None:
        """A transient failure is being retried."""
        self._retries.labels(reason).inc()

    # -- librdkafka statistics --------------------------------------------------------------

    def kafka_statistics(self, stats_json: str) -> None:
        """librdkafka's statistics (``stats_cb``, on the consumer thread): lag per partition, group state."""
        try:
            stats = orjson.loads(stats_json)
        except orjson.JSONDecodeError:
            log.debug("librdkafka statistics are not JSON; ignored")
            return
        group = stats.get("cgrp") or {}
        # "up" once the coordinator is known; then the join state says where the member is.
        self._group_state = group.get("join_state") if group.get("state") == "up" else group.get("state")
        seen: set[tuple[str, str]] = set()
        for topic, topic_stats in (stats.get("topics") or {}).items():
            for partition, p in (topic_stats.get("partitions") or {}).items():
                if partition == "-1" or p.get("fetch_state") in (None, "none", "stopped"):
                    continue
                lag = p.get("consumer_lag", -1)
                if lag < 0 and p.get("hi_offset", -1) >= 0 and p.get("app_offset", -1) >= 0:
                    lag = p["hi_offset"] - p["app_offset"]  # nothing committed yet: behind the position
                if lag >= 0:
                    self._lag.labels(topic, partition).set(lag)
                    seen.add((topic, partition))
        for labels in self._lag_labels - seen:
            self._lag.remove(*labels)
        self._lag_labels = seen

    # -- health ------------------------------------------------------------------------------

    def alive(self) -> tuple[bool, str]:
        """Whether the loop went round within the liveness timeout, and why not."""
        stalled = self._clock() - self._beat_at
        if stalled > self._liveness_s:
            return False, f"the consumer loop has not gone round for {stalled:.0f} s"
        return True, "alive"

    def ready(self) -> tuple[bool, list[str]]:
        """Whether partitions are assigned (or the group is settling) and Timeplus answers; the reasons if not."""
        now = self._clock()
        reasons = []
        alive, why = self.alive()
        if not alive:
            reasons.append(why)
        if self._assigned_count == 0:
            settling = self._group_state in _GROUP_SETTLING
            without = now - self._assigned_changed_at
            if not settling and without > self._grace_s:
                state = self._group_state or "unknown"
                reasons.append(f"no partitions assigned for {without:.0f} s (consumer group state: {state})")
        failing_since = self._timeplus_failing_since
        if failing_since is not None and now - failing_since > self._grace_s:
            reasons.append(f"Timeplus has not answered for {now - failing_since:.0f} s")
        return not reasons, reasons
