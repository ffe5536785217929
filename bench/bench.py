"""The benchmark (issue #5): how fast the connector drains a Kafka backlog, and what it costs.

One run pre-produces N JSON messages (~200 bytes, fixed seed) into a 4-partition topic,
then drains that same topic several times, each time with a fresh consumer group:

  a  raw consume ceiling: ``consume(1000)`` touching each value, nothing else
  b  consume + decode + build rows with the connector's real mapper, no HTTP
  c  the real connector (``kafka-timeplus run --until-caught-up``, a subprocess) posting
     to ``bench/sink.py``, which checks that no message is lost or duplicated
  d  the naive loop of a user: poll one message, POST one row, commit synchronously
     (on at most ``--naive-messages`` messages)

plus the variants asked for (``--workers``, ``--gzip``, ``--metrics``, ``--ndjson``, ``--exactly-once``,
``--rows-per-request``, ``--in-flight``) and a latency run: messages produced at a fixed
rate below capacity while the connector runs. With ``--format avro`` the current workload's
events are written by confluent-kafka's AvroSerializer against a real Schema Registry
(Apicurio, started by the benchmark) and stages b and c read them with ``format: avro``
(stage d and the latency run are JSON only).
The connector reports its own consume-to-ack percentiles when it stops (from the poll
that read a message to the answer for its row); each message also carries its produce
time, so the sink measures produce-to-ack as well.
Stages a, b and d run in this process with the connector's consumer defaults and GC
settings; rates are measured from partition assignment to the last message (or exit),
and start-up (process start, group join) is reported apart. Nothing here asserts on
time: it measures and reports.

    .venv/bin/python -m bench.bench [--messages N] [--repeats R] [--stages a,b,c,d] [--workers W] [--gzip] [--ndjson]
        [--rows-per-request 1000,5000] [--in-flight 2,8] [--bootstrap HOST:PORT] [--json-out FILE] [--md-out FILE]
        [--format avro]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson
import requests
from confluent_kafka import Consumer, Producer

import connector
from bench.plot import draw
from bench.workloads import REALISTIC_MAPPING, RealisticEvents
from connector.cli import tune_gc
from connector.config import BatchConfig, SchemaRegistryConfig, load_config
from connector.kafka_source import DEFAULTS as CONSUMER_DEFAULTS
from connector.mapping import Mapper
from connector.pipeline import Tuning
from connector.registry_decoding import Backoff, RegistryDecoder
from connector.schema_registry import SchemaRegistryClient
from sandbox.kafka_broker import KafkaBroker, kafka_version
from sandbox.schema_registry import SchemaRegistry

HERE = Path(__file__).resolve().parent
PARTITIONS = 4
SEED = 20240505
STREAM = "bench"
MAPPING = """\
columns:
  id:       {from: value.id, type: int64}
  ts:       {from: value.ts, type: 'datetime64(3)', unit: ms}
  customer: {from: value.user.name, type: string}
  country:  {from: value.user.country, type: 'low_cardinality(string)'}
  amount:   {from: value.amount, type: float64}
  qty:      {from: value.qty, type: int32}
"""
BASE_TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
#: The same events as Avro (``--format avro``): what a producer using Confluent's serializers writes.
AVRO_SCHEMA = orjson.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "bench",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {
                "name": "user",
                "type": {
                    "type": "record",
                    "name": "User",
                    "fields": [
                        {"name": "name", "type": "string"},
                        {"name": "country", "type": "string"},
                        {"name": "tier", "type": "string"},
                    ],
                },
            },
            {"name": "amount", "type": "double"},
            {"name": "qty", "type": "int"},
            {"name": "sku", "type": "string"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "comment", "type": "string"},
        ],
    }
).decode()


# ---------------------------------------------------------------------------
# The workload


class Messages:
    """Deterministic ~200-byte order events: nested object, epoch-ms timestamp, numbers, strings."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.names = [f"user_{k:05d}" for k in range(5000)]
        self.countries = ["DE", "FR", "US", "GB", "JP", "BR", "IN", "NL", "SE", "ES"]
        self.tiers = ["free", "silver", "gold", "platinum"]
        self.tags = ["new", "promo", "repeat", "gift", "mobile", "web"]
        words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "tempor"]
        self.comments = [" ".join(self.rng.sample(words, 4)) for _ in range(64)]

    def value(self, i: int, ts_ms: int) -> bytes:
        return orjson.dumps(self.record(i, ts_ms))

    def record(self, i: int, ts_ms: int) -> dict[str, Any]:
        """The event as an object (the Avro workload writes ``ts`` as a timestamp-millis)."""
        r = self.rng.random
        return {
            "id": i,
            "ts": ts_ms,
            "user": {
                "name": self.names[int(r() * 5000)],
                "country": self.countries[int(r() * 10)],
                "tier": self.tiers[int(r() * 4)],
            },
            "amount": round(r() * 2000, 2),
            "qty": int(r() * 20) + 1,
            "sku": f"SKU-{int(r() * 1_000_000):06d}",
            "tags": [self.tags[int(r() * 6)], self.tags[int(r() * 6)]],
            "comment": self.comments[int(r() * 64)],
        }


def new_producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})


def produce(producer: Producer, topic: str, value: bytes, partition: int) -> None:
    while True:
        try:
            producer.produce(topic, value=value, partition=partition)
            return
        except BufferError:
            producer.poll(0.05)


#: The workloads (``--workload``): the message values and the mapping that reads them.
WORKLOADS = ("current", "realistic")


def mapping_of(workload: str) -> str:
    return REALISTIC_MAPPING if workload == "realistic" else MAPPING


def values_of(workload: str) -> Callable[[int], bytes]:
    """The i-th message value of a workload, from a fixed seed."""
    if workload == "realistic":
        return RealisticEvents().value
    messages = Messages()
    return lambda i: messages.value(i, BASE_TS_MS + i)


def avro_serializer(registry_url: str, topic: str) -> Callable[[dict[str, Any]], bytes]:
    """Confluent's own AvroSerializer for the workload's schema, as an Avro producer would use it."""
    from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serializer = AvroSerializer(ConfluentClient({"url": registry_url}), AVRO_SCHEMA)
    ctx = SerializationContext(topic, MessageField.VALUE)
    return lambda record: bytes(serializer(record, ctx))


def produce_backlog(
    bootstrap: str, topic: str, n: int, workload: str = "current", registry_url: str | None = None
) -> int:
    """Produce messages 0..n-1 round-robin over the partitions (as Avro with a registry); return the value bytes."""
    producer, value_of, total = new_producer(bootstrap), values_of(workload), 0
    if registry_url:
        serialize, messages = avro_serializer(registry_url, topic), Messages()

        def value_of(i: int) -> bytes:
            return serialize(messages.record(i, BASE_TS_MS + i))

    for i in range(n):
        value = value_of(i)
        total += len(value)
        produce(producer, topic, value, i % PARTITIONS)
        if i % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("backlog still unacknowledged after 120 s")
    return total


# ---------------------------------------------------------------------------
# One measured run of a stage


@dataclass
class Run:
    """One drain of the topic by one stage."""

    stage: str
    messages: int
    seconds: float  # from partition assignment to the last message (or process exit)
    startup_s: float  # from start (subscribe, or process spawn) to partition assignment
    cpu_s: float
    value_bytes: int
    peak_rss_mb: float | None = None
    sink: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    #: Share of all cores busy during the stage, and the broker's CPU (when the benchmark started it).
    machine_busy: float | None = None
    broker_cpu_s: float | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


class Probe:
    """Machine-wide busy time (``/proc/stat``) and one process's CPU (``/proc/PID/stat``) over a stage."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.start = self._read()

    def _read(self) -> tuple[float, float, float | None]:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        process = None
        if self.pid is not None and Path(f"/proc/{self.pid}/stat").exists():
            stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            process = (float(stat[11]) + float(stat[12])) / os.sysconf("SC_CLK_TCK")
        return sum(fields), idle, process

    def finish(self, run: Run) -> Run:
        total, idle, process = self._read()
        busy = (total - self.start[0]) - (idle - self.start[1])
        run.machine_busy = busy / (total - self.start[0]) if total > self.start[0] else None
        if process is not None and self.start[2] is not None:
            run.broker_cpu_s = process - self.start[2]
        return run


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def consumer_settings(bootstrap: str, group: str) -> dict[str, Any]:
    """The connector's own consumer settings (kafka_source.DEFAULTS), for a fair ceiling."""
    return {
        **CONSUMER_DEFAULTS,
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }


def drain_in_process(stage: str, bootstrap: str, topic: str, n: int, work: Callable[[list[Any]], int]) -> Run:
    """Consume ``n`` messages as the pipeline does (same batch size and timeout), applying ``work``."""
    tuning = Tuning()
    consumer = Consumer(consumer_settings(bootstrap, f"bench-{stage}-{uuid.uuid4().hex[:8]}"))
    assigned: list[float] = []
    consumer.subscribe([topic], on_assign=lambda _c, parts: assigned.append(time.perf_counter()) if parts else None)
    gc.collect()
    cpu0, t0 = cpu_self(), time.perf_counter()
    done = value_bytes = 0
    idle_since = t0
    try:
        while done < n:
            batch = consumer.consume(num_messages=tuning.poll_messages, timeout=tuning.poll_timeout_s)
            if not batch:
                if time.perf_counter() - idle_since > 60:
                    raise RuntimeError(f"stage {stage}: no message for 60 s after {done} of {n}")
                continue
            idle_since = time.perf_counter()
            value_bytes += work(batch)
            done += len(batch)
        t1, cpu1 = time.perf_counter(), cpu_self()
    finally:
        consumer.close()
    start = assigned[0] if assigned else t0
    return Run(stage, done, t1 - start, start - t0, cpu1 - cpu0, value_bytes)


def touch_values(batch: list[Any]) -> int:
    """Stage a: look at each value and nothing else."""
    total = 0
    for message in batch:
        if message.error() is None:
            total += len(message.value())
    return total


def build_rows(mapper: Mapper, registry_url: str | None = None) -> Callable[[list[Any]], int]:
    """Stage b: decode and map each message as the pipeline does, keeping the rows of one batch."""
    build_value = mapper.build_value
    if registry_url:
        schemas = SchemaRegistryClient(SchemaRegistryConfig(url=registry_url))
        build_value = mapper.decoding_with(RegistryDecoder(schemas, Backoff(0.1, 1.0), stopping=lambda: False).decode)

    def work(batch: list[Any]) -> int:
        rows, total = [], 0
        for message in batch:
            if message.error() is None:
                value = message.value()
                total += len(value)
                rows.append(build_value(message, value))
        return total

    return work


def naive_loop(bootstrap: str, topic: str, n: int, sink: Sink, mapper: Mapper) -> Run:
    """Stage d: what a user writes from Timeplus's REST page, with a keep-alive session."""
    sink.reset(expected=sink.expected_ids)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-d-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    assigned: list[float] = []
    consumer.subscribe([topic], on_assign=lambda _c, parts: assigned.append(time.perf_counter()) if parts else None)
    session = requests.Session()
    url = f"{sink.url}/proton/v1/ingest/streams/{STREAM}"
    columns = list(mapper.columns)
    cpu0, t0 = cpu_self(), time.perf_counter()
    done = value_bytes = 0
    try:
        while done < n:
            message: Any = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            value = message.value()
            value_bytes += len(value)
            row = mapper.build(message, json.loads(value))
            session.post(url, json={"columns": columns, "data": [row]}, timeout=10).raise_for_status()
            consumer.commit(message=message, asynchronous=False)
            done += 1
        t1, cpu1 = time.perf_counter(), cpu_self()
    finally:
        consumer.close()
        session.close()
    start = assigned[0] if assigned else t0
    run = Run("d", done, t1 - start, start - t0, cpu1 - cpu0, value_bytes, sink=sink.stats())
    if run.sink and (run.sink["rows"] != n or run.sink["duplicates"]):
        run.problems.append(f"sink saw {run.sink['rows']} rows, {run.sink['duplicates']} duplicates; sent {n}")
    return run


# ---------------------------------------------------------------------------
# The sink and the connector as subprocesses


class Sink:
    """``bench/sink.py`` in its own process, so its CPU is not counted as the connector's."""

    def __init__(self, expected_ids: int) -> None:
        self.expected_ids = expected_ids
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "sink.py")], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("port="):
            self.process.kill()
            raise RuntimeError(f"the sink did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.strip().split('=')[1])}"
        self._session = requests.Session()

    def reset(self, expected: int, *, latency: bool = False) -> None:
        body = orjson.dumps({"expected": expected, "latency": latency})
        self._session.post(f"{self.url}/_bench/reset", data=body, timeout=10).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self._session.get(f"{self.url}/_bench/stats", timeout=10)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def close(self) -> None:
        self._session.close()
        self.process.terminate()
        self.process.wait(10)


def connector_config(
    path: Path,
    *,
    bootstrap: str,
    group: str,
    topic: str,
    url: str,
    gzip: bool,
    max_rows: int | None,
    in_flight: int | None = None,
    metrics: bool = False,
    ndjson: bool = False,
    mapping: str = MAPPING,
    registry_url: str | None = None,
    exactly_once: bool = False,
) -> Path:
    batch = f"batch: {{max_rows: {max_rows}}}\n" if max_rows else ""
    batch += "delivery: exactly_once\n" if exactly_once else ""
    batch += "http: {listen: '127.0.0.1:0'}\n" if metrics else ""
    requests = f"  max_in_flight: {in_flight}\n" if in_flight else ""
    # NDJSON goes to the app server's route (Proton's takes compact only); the sink serves both.
    requests += "  workspace: default\n  body_format: ndjson\n" if ndjson else ""
    registry = f"schema_registry: {{url: '{registry_url}'}}\n" if registry_url else ""
    fmt = "    format: avro\n" if registry_url else ""
    path.write_text(
        f"kafka:\n  bootstrap.servers: '{bootstrap}'\n  group.id: '{group}'\n"
        f"timeplus:\n  url: '{url}'\n  gzip: {'true' if gzip else 'false'}\n{requests}"
        f"{batch}{registry}"
        f"mappings:\n  - topic: '{topic}'\n    stream: {STREAM}\n{fmt}" + textwrap.indent(mapping, "    ")
    )
    return path


_ASSIGNED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO connector\.pipeline: assigned (?!nothing)", re.M)


def assigned_at(log: Path) -> float | None:
    """Wall-clock time of the first 'assigned' line the connector logged."""
    found = _ASSIGNED.search(log.read_text(errors="replace")) if log.exists() else None
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


_LATENCY = re.compile(r"consume-to-ack latency p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms")


def consume_to_ack(log: Path) -> dict[str, float] | None:
    """The connector's own consume-to-ack percentiles, from the summary it logs when it stops."""
    found = _LATENCY.search(log.read_text(errors="replace")) if log.exists() else None
    if found is None:
        return None
    return dict(zip(("p50", "p99", "max"), map(float, found.groups()), strict=True))


class ConnectorRun:
    """``workers`` connector processes of one consumer group; rusage comes from ``wait4``."""

    def __init__(self, config: Path, workdir: Path, *, workers: int, until_caught_up: bool) -> None:
        # --no-check: the bench's sink serves ingest only, not Timeplus's stream listing.
        args = [sys.executable, "-m", "connector.cli", "run", "--no-check", "-c", str(config)]
        args += ["--until-caught-up"] if until_caught_up else []
        self.logs = [workdir / f"connector-{uuid.uuid4().hex[:6]}-{w}.log" for w in range(workers)]
        self.started = time.time()
        self.processes = []
        for log in self.logs:
            with log.open("wb") as out:
                self.processes.append(subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT))
        self.cpu_s = 0.0
        self.peak_rss_mb: list[float] = []
        self.codes: list[int] = []

    def wait_assigned(self, timeout: float) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [t for t in map(assigned_at, self.logs) if t is not None]
            if found:
                return min(found)
            time.sleep(0.05)
        raise RuntimeError(f"the connector was not assigned partitions within {timeout} s:\n{self.tail()}")

    def wait(self, timeout: float) -> float:
        """Wait for every process; return the wall-clock time the last one exited."""
        deadline = time.time() + timeout
        for process in self.processes:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.time() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.002)
            process.returncode = os.waitstatus_to_exitcode(status)
            self.codes.append(process.returncode)
            self.cpu_s += usage.ru_utime + usage.ru_stime
            self.peak_rss_mb.append(usage.ru_maxrss / 1024)
        return time.time()

    def terminate(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)

    def tail(self, lines: int = 15) -> str:
        return "\n".join("\n".join(log.read_text(errors="replace").splitlines()[-lines:]) for log in self.logs)


def connector_stage(stage: str, args: argparse.Namespace, topic: str, sink: Sink, workdir: Path, **variant: Any) -> Run:
    """Stage c (and its variants): the real CLI drains the backlog into the sink."""
    sink.reset(expected=args.messages)
    group = f"bench-{stage}-{uuid.uuid4().hex[:8]}"
    config = connector_config(
        workdir / f"{group}.yaml",
        bootstrap=args.bootstrap,
        group=group,
        topic=topic,
        url=sink.url,
        gzip=variant.get("gzip", False),
        max_rows=variant.get("max_rows"),
        in_flight=variant.get("in_flight"),
        metrics=variant.get("metrics", False),
        ndjson=variant.get("ndjson", False),
        exactly_once=variant.get("exactly_once", False),
        mapping=mapping_of(args.workload),
        registry_url=args.registry_url,
    )
    run = ConnectorRun(config, workdir, workers=variant.get("workers", 1), until_caught_up=True)
    ended = run.wait(timeout=max(300.0, args.messages / 10_000))
    start = min((t for t in map(assigned_at, run.logs) if t is not None), default=run.started)
    stats = sink.stats()
    result = Run(
        stage,
        args.messages,
        ended - start,
        start - run.started,
        run.cpu_s,
        args.value_bytes,
        peak_rss_mb=max(run.peak_rss_mb),
        sink=stats,
    )
    if any(run.codes):
        result.problems.append(f"connector exit codes {run.codes}:\n{run.tail()}")
    if stats["missing"] or stats["duplicates"] or stats["out_of_range"]:
        result.problems.append(
            f"sink: {stats['missing']} missing, {stats['duplicates']} duplicates, {stats['out_of_range']} foreign ids"
        )
    if variant.get("exactly_once") and stats["requests_with_id"] != stats["requests"]:
        result.problems.append(f"sink: {stats['requests'] - stats['requests_with_id']} requests without an id")
    return result


def latency_run(args: argparse.Namespace, bootstrap: str, sink: Sink, workdir: Path) -> dict[str, Any]:
    """Produce at a fixed rate into a fresh topic while the connector runs; the sink measures produce-to-ack."""
    total = int(args.latency_rate * args.latency_seconds)
    topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
    for name in (topic, f"{topic}-warmup"):
        create_topic(bootstrap, name)
    # Warm the producer up first (idempotence PID, metadata), so its start-up is not measured.
    producer, messages = new_producer(bootstrap), Messages(seed=SEED + 1)
    produce(producer, f"{topic}-warmup", b"{}", 0)
    producer.flush(30)
    producer.list_topics(topic, timeout=30)
    sink.reset(expected=total, latency=True)
    group = f"bench-latency-{uuid.uuid4().hex[:8]}"
    config = connector_config(
        workdir / f"{group}.yaml",
        bootstrap=bootstrap,
        group=group,
        topic=topic,
        url=sink.url,
        gzip=False,
        max_rows=None,
    )
    run = ConnectorRun(config, workdir, workers=1, until_caught_up=False)
    run.wait_assigned(timeout=60)
    start, chunk = time.monotonic(), max(1, int(args.latency_rate / 200))  # a burst every 5 ms
    for i in range(total):
        if i % chunk == 0:
            time.sleep(max(0.0, start + i / args.latency_rate - time.monotonic()))
            producer.poll(0)
        produce(producer, topic, messages.value(i, int(time.time() * 1000)), i % PARTITIONS)
    produced_in = time.monotonic() - start
    producer.flush(30)
    deadline = time.monotonic() + 60
    while sink.stats()["rows"] < total and time.monotonic() < deadline:
        time.sleep(0.1)
    run.terminate()
    run.wait(timeout=60)
    stats = sink.stats()
    problems = []
    if any(run.codes):
        problems.append(f"connector exit codes {run.codes}:\n{run.tail()}")
    if stats["missing"] or stats["duplicates"]:
        problems.append(f"sink: {stats['missing']} missing, {stats['duplicates']} duplicates")
    consume_latency = consume_to_ack(run.logs[0])
    if consume_latency is None:
        problems.append(f"the connector logged no consume-to-ack latency:\n{run.tail()}")
    return {
        "what": "produce-to-ack: the sink's clock when it parsed the request minus the produce time in the row",
        "consume_to_ack_ms": consume_latency,
        "consume_to_ack_what": "the connector's own histogram: from the poll that read each message "
        "to Timeplus's (the sink's) answer for its row",
        "messages": total,
        "target_rate": args.latency_rate,
        "achieved_rate": total / produced_in,
        "linger_ms": BatchConfig().linger_ms,
        "latency_ms": stats["latency_ms"],
        "missing": stats["missing"],
        "duplicates": stats["duplicates"],
        "problems": problems,
    }


# ---------------------------------------------------------------------------
# Reporting


def summarise(runs: list[Run]) -> dict[str, Any]:
    rates = [r.rate for r in runs]
    median = statistics.median(rates)
    last = runs[-1]
    return {
        "msgs_per_s": median,
        "msgs_per_s_min": min(rates),
        "msgs_per_s_max": max(rates),
        "spread": (max(rates) - min(rates)) / median if median else None,
        "mb_per_s": statistics.median(r.value_bytes / 1e6 / r.seconds for r in runs if r.seconds > 0),
        "wall_msgs_per_s": statistics.median(r.messages / (r.seconds + r.startup_s) for r in runs),
        "startup_s": statistics.median(r.startup_s for r in runs),
        "cpu_s_per_million": statistics.median(r.cpu_s / r.messages * 1e6 for r in runs if r.messages),
        "peak_rss_mb": max((r.peak_rss_mb for r in runs if r.peak_rss_mb is not None), default=None),
        "machine_busy": _median([r.machine_busy for r in runs]),
        "broker_cpu_s_per_million": _median([r.broker_cpu_s / r.messages * 1e6 for r in runs if r.broker_cpu_s]),
        "sink_cpu_s_per_million": _median([r.sink["sink_cpu_s"] / r.messages * 1e6 for r in runs if r.sink]),
        "messages": last.messages,
        "runs": [asdict(r) | {"msgs_per_s": r.rate} for r in runs],
        "problems": [p for r in runs for p in r.problems],
    }


def _median(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gb": round(int(mem.group(1)) / 1024**2, 1) if mem else None,
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "confluent_kafka": metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "orjson": metadata.version("orjson"),
        "requests": metadata.version("requests"),
        "connector": connector.__version__,
        "kafka_broker": kafka_version(),
    }


LABELS = {
    "a": "a  raw consume ceiling",
    "b": "b  consume + decode + map",
    "c": "c  connector → sink",
    "d": "d  naive loop",
}


def markdown(report: dict[str, Any]) -> str:
    m, p = report["machine"], report["params"]
    lines = [
        f"# Benchmark — {p['messages']:,} messages, {p['repeats']} repeat(s), {m['date']}",
        "",
        f"Machine: {m['cpu_count']} cores ({m['cpu_model']}), {m['memory_gb']} GB, {m['platform']}; "
        f"load average at start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".",
        f"Workload {p['workload']}: ~{p['avg_value_bytes']:.0f}-byte {p.get('format', 'json').upper()} values, "
        f"{PARTITIONS} partitions, {p['mapping'].count('from:')} typed columns"
        + (f"; naive loop on {p['naive_messages']:,} messages." if "d" in report["stages"] else "."),
        "",
        "| stage | msgs/s (median) | min - max | MB/s | start-up s | wall msgs/s | CPU s / M msgs | peak RSS MB "
        "| machine busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in report["stages"].items():
        label = LABELS.get(name, f"c  {name[2:]}")
        rss = f"{s['peak_rss_mb']:.0f}" if s["peak_rss_mb"] is not None else "-"
        lines.append(
            f"| {label} | {s['msgs_per_s']:,.0f} | {s['msgs_per_s_min']:,.0f} - {s['msgs_per_s_max']:,.0f} "
            f"| {s['mb_per_s']:.1f} | {s['startup_s']:.2f} | {s['wall_msgs_per_s']:,.0f} "
            f"| {s['cpu_s_per_million']:.1f} | {rss} | {s['machine_busy'] or 0:.0%} |"
        )
    lines.append("")
    if report["ratios"]:
        lines.append("Ratios (medians): " + ", ".join(f"{k} = {v:.2f}" for k, v in report["ratios"].items()))
    if report.get("c/b_per_repeat"):
        per_repeat = report["c/b_per_repeat"]
        lines[-1] += (
            f"; c/b within each repeat: {', '.join(f'{r:.2f}' for r in per_repeat)} "
            f"(median {statistics.median(per_repeat):.2f})"
        )
    lat = report.get("latency")
    if lat and lat["consume_to_ack_ms"]:
        q = lat["consume_to_ack_ms"]
        lines.append(
            f"Consume-to-ack latency at {lat['achieved_rate']:,.0f} msg/s (linger {lat['linger_ms']} ms, "
            f"{lat['messages']:,} rows, the connector's own measure): "
            f"p50 {q['p50']:.0f} ms, p99 {q['p99']:.0f} ms, max {q['max']:.0f} ms."
        )
    if lat and lat["latency_ms"]:
        q = lat["latency_ms"]
        lines.append(
            f"Produce-to-ack latency in the same run (the sink's clock minus the produce time in each row): "
            f"p50 {q['p50']:.0f} ms, p99 {q['p99']:.0f} ms, max {q['max']:.0f} ms."
        )
    c = report["stages"].get("c")
    if c and c["broker_cpu_s_per_million"] is not None:
        lines.append(
            f"During stage c the broker used {c['broker_cpu_s_per_million']:.1f} and the sink "
            f"{c['sink_cpu_s_per_million']:.1f} CPU s per million messages, on the same cores."
        )
    lines.append(
        "Stages a, b and d run in this script with the connector's GC settings (connector.cli.tune_gc). "
        "CPU s / M msgs counts every thread of the process doing the stage (this script for a, b and d; "
        "the connector processes for c, start-up included). "
        "Rates run from partition assignment to the last message (stage c: to process exit); "
        "start-up is the time before assignment (c: process start and group join). "
        "Every stage c run was checked at the sink: "
        + ("nothing lost or duplicated." if not report["problems"] else "PROBLEMS, see the JSON.")
    )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Main


@contextmanager
def services(bootstrap: str | None, expected_ids: int) -> Iterator[tuple[str, int | None, Sink, Path]]:
    """The broker (the given one, or one started here) and its pid, the sink, and a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # Kafka's default initial rebalance delay (3 s; the tests' broker uses 0 for speed): the
        # members of a group that start together, as --workers starts them, join one generation,
        # as on a production broker, instead of two cooperative rebalances that idle half the
        # partitions for a heartbeat interval or two.
        overrides = {"group.initial.rebalance.delay.ms": "3000"}
        broker = None if bootstrap else KafkaBroker(Path(tmp) / "kafka", overrides=overrides)
        if broker is not None:
            broker.start()
        sink = Sink(expected_ids)
        try:
            if broker is not None:
                yield broker.bootstrap, broker.pid, sink, Path(tmp)
            else:
                yield str(bootstrap), None, sink, Path(tmp)
        finally:
            sink.close()
            if broker is not None:
                broker.stop()


def create_topic(bootstrap: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic  # the admin module re-exports it implicitly only

    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the future resolves
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(30)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2_000_000, help="backlog size (default 2,000,000)")
    parser.add_argument(
        "--workload",
        choices=WORKLOADS,
        default="current",
        help="current: ~200-byte orders, epoch-ms timestamps; realistic: ~260-byte events with ISO timestamps "
        "(Z and offsets), a uuid, an ipv4, a decimal (bench/workloads.py). The latency run always uses current.",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each stage; medians are reported")
    parser.add_argument(
        "--naive-messages", type=int, default=5000, help="stage d drains at most this many (it runs ~100 msg/s)"
    )
    parser.add_argument(
        "--stages", default="a,b,c,d", help="which of the stages a,b,c,d to run (variants always run c's way)"
    )
    parser.add_argument("--workers", type=int, default=1, help="also run stage c with this many processes")
    parser.add_argument("--gzip", action="store_true", help="also run stage c with gzip request bodies")
    parser.add_argument("--exactly-once", action="store_true", help="also run stage c with delivery: exactly_once")
    parser.add_argument("--metrics", action="store_true", help="also run stage c serving Prometheus metrics (--http)")
    parser.add_argument(
        "--ndjson", action="store_true", help="also run stage c with timeplus.body_format: ndjson (app server route)"
    )
    parser.add_argument(
        "--rows-per-request", default="", help="also run stage c with each batch.max_rows, e.g. 1000,5000,10000"
    )
    parser.add_argument(
        "--in-flight",
        default="",
        help="also run stage c with each timeplus.max_in_flight (with each --rows-per-request if given), e.g. 2,8",
    )
    parser.add_argument("--latency-rate", type=float, default=20_000, help="msg/s of the latency run")
    parser.add_argument("--latency-seconds", type=float, default=10, help="length of the latency run (0: skip)")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument(
        "--format",
        choices=["json", "avro"],
        default="json",
        help="avro: the same events through a Schema Registry (stages a, b, c; no latency run)",
    )
    parser.add_argument("--json-out", type=Path, default=HERE / "results" / "latest.json.tmp")
    parser.add_argument("--md-out", type=Path, help="also write the Markdown report here")
    parser.add_argument(
        "--png-out", type=Path, default=HERE / "results" / "latest.tmp.png", help="the report drawn as a PNG"
    )
    args = parser.parse_args(argv)
    args.rows_per_request = [int(x) for x in args.rows_per_request.split(",") if x.strip()]
    args.in_flight = [int(x) for x in args.in_flight.split(",") if x.strip()]
    args.stages = [x.strip() for x in args.stages.split(",") if x.strip()]
    if not set(args.stages) <= set(LABELS):
        parser.error(f"--stages: choose from {','.join(LABELS)}")
    if args.format == "avro":
        args.stages = [x for x in args.stages if x != "d"]  # the naive loop reads JSON
        args.latency_seconds = 0
    return args


def stage_table(
    args: argparse.Namespace, topic: str, mapper: Mapper, workdir: Path
) -> dict[str, Callable[[Sink], Run]]:
    """Every stage of this run, by name; each drains ``topic`` once with a fresh group."""
    n, bootstrap = args.messages, args.bootstrap

    def connector_variant(name: str, **variant: Any) -> Callable[[Sink], Run]:
        return lambda sink: connector_stage(name, args, topic, sink, workdir, **variant)

    every: dict[str, Callable[[Sink], Run]] = {
        "a": lambda _sink: drain_in_process("a", bootstrap, topic, n, touch_values),
        "b": lambda _sink: drain_in_process("b", bootstrap, topic, n, build_rows(mapper, args.registry_url)),
        "c": connector_variant("c"),
        "d": lambda sink: naive_loop(bootstrap, topic, min(n, args.naive_messages), sink, mapper),
    }
    stages = {name: every[name] for name in args.stages}
    if args.workers > 1:
        stages[f"c_workers{args.workers}"] = connector_variant(f"c_workers{args.workers}", workers=args.workers)
    if args.gzip:
        stages["c_gzip"] = connector_variant("c_gzip", gzip=True)
    if args.metrics:
        stages["c_metrics"] = connector_variant("c_metrics", metrics=True)
    if args.ndjson:
        stages["c_ndjson"] = connector_variant("c_ndjson", ndjson=True)
    if args.exactly_once:
        stages["c_exactly_once"] = connector_variant("c_exactly_once", exactly_once=True)
    for rows in args.rows_per_request or [None]:
        for in_flight in args.in_flight or [None]:
            name = "c" + (f"_rows{rows}" if rows else "") + (f"_inflight{in_flight}" if in_flight else "")
            if name != "c":
                stages[name] = connector_variant(name, max_rows=rows, in_flight=in_flight)
    return stages


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tune_gc()  # stages a, b and d run in this process: with the connector's collector settings, as c does
    report: dict[str, Any] = {"machine": machine(), "versions": versions()}
    given_broker = args.bootstrap is not None
    with services(args.bootstrap, args.messages) as (bootstrap, broker_pid, sink, workdir), ExitStack() as stack:
        args.bootstrap = bootstrap
        args.registry_url = None
        if args.format == "avro":
            args.registry_url = stack.enter_context(SchemaRegistry(workdir / "registry")).url
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        create_topic(bootstrap, topic)
        print(f"producing {args.messages:,} {args.format} messages into {topic} on {bootstrap} …", file=sys.stderr)
        t0 = time.perf_counter()
        args.value_bytes = produce_backlog(bootstrap, topic, args.messages, args.workload, args.registry_url)
        print(f"produced in {time.perf_counter() - t0:.1f} s (not counted)", file=sys.stderr)
        config = connector_config(
            workdir / "mapping.yaml",
            bootstrap=bootstrap,
            group="-",
            topic=topic,
            url=sink.url,
            gzip=False,
            max_rows=None,
            mapping=mapping_of(args.workload),
            registry_url=args.registry_url,
        )
        mapper = Mapper(load_config(config).mappings[0])
        stages = stage_table(args, topic, mapper, workdir)
        runs: dict[str, list[Run]] = {name: [] for name in stages}
        for repeat in range(args.repeats):  # interleaved, so drift on a noisy machine hits every stage
            for name, stage in stages.items():
                probe = Probe(broker_pid)
                run = probe.finish(stage(sink))
                runs[name].append(run)
                print(
                    f"  repeat {repeat + 1}/{args.repeats} {name:>12}: {run.rate:>12,.0f} msg/s "
                    f"(start-up {run.startup_s:.2f} s){'  PROBLEM' if run.problems else ''}",
                    file=sys.stderr,
                )
        latency = None
        if args.latency_seconds > 0:
            print(f"latency run: {args.latency_rate:,.0f} msg/s for {args.latency_seconds:g} s …", file=sys.stderr)
            latency = latency_run(args, bootstrap, sink, workdir)
    report["params"] = {
        "messages": args.messages,
        "repeats": args.repeats,
        "naive_messages": min(args.messages, args.naive_messages),
        "partitions": PARTITIONS,
        "avg_value_bytes": args.value_bytes / max(1, args.messages),
        "batch": asdict(BatchConfig()),
        "consumer_defaults": CONSUMER_DEFAULTS,
        "poll_messages": Tuning().poll_messages,
        "workload": args.workload,
        "mapping": mapping_of(args.workload),
        "format": args.format,
        "broker": "given with --bootstrap" if given_broker else "started by the benchmark",
    }
    report["stages"] = {name: summarise(r) for name, r in runs.items()}
    rate = {name: s["msgs_per_s"] for name, s in report["stages"].items()}
    report["ratios"] = {f"c/{x}": rate["c"] / rate[x] for x in "bad" if "c" in rate and rate.get(x)}
    if "b" in runs and "c" in runs:
        # Stages of one repeat ran back to back, so their ratio is less exposed to the machine's drift.
        report["c/b_per_repeat"] = [c.rate / b.rate for b, c in zip(runs["b"], runs["c"], strict=True) if b.rate]
    report["latency"] = latency
    report["problems"] = [p for s in report["stages"].values() for p in s["problems"]]
    report["problems"] += latency["problems"] if latency else []
    text = markdown(report)
    print(text)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if args.md_out:
        args.md_out.write_text(text)
    draw(report, args.png_out)
    print(f"wrote {args.json_out} and {args.png_out}", file=sys.stderr)
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
