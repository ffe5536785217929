"""Where a message's CPU goes between consume and batch: decode, each column.

Builds the workload's ``Mapper`` from the same config as the benchmark's stages b and c,
makes real ``confluent_kafka.Message`` objects of the workload's values, and prints CPU
µs per message (best of several runs of ``process_time``) for:

* the whole of stage b's work per message: ``mapper.build_value(msg, value)``, decode included;
* JSON decode alone: orjson (the general path) and, when the mapping has a ``Shape``, msgspec
  decoding only the fields it reads (the path ``build_value`` takes);
* ``build_value`` with no column, and the cost of each column: the mapping's build less
  the build without that column.

Each measurement decodes the message it builds, so the decoded value is in the CPU's
cache as it is in the pipeline (building rows from values decoded long before measures
cache misses instead). ``--profile`` also runs stage b's loop under cProfile.

    .venv/bin/python -m bench.profile_mapping [--workload realistic|current] [--messages N]

It measures and prints; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import confluent_kafka

from bench.bench import WORKLOADS, connector_config, mapping_of, values_of
from connector.cli import tune_gc
from connector.config import ColumnConfig, MappingConfig, load_config
from connector.mapping import Mapper, decode_value


def mapping_config(workload: str) -> MappingConfig:
    """The benchmark's mapping of ``workload``, loaded as the connector loads it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = connector_config(
            Path(tmp) / "bench.yaml",
            bootstrap="localhost:9092",
            group="profile",
            topic="bench",
            url="http://localhost:3218",
            gzip=False,
            max_rows=None,
            mapping=mapping_of(workload),
        )
        return load_config(path).mappings[0]


def cpu_us(work: Callable[[], object], count: int, repeats: int) -> float:
    """Best CPU µs per item of ``work`` over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best / count * 1e6


def report(workload: str, n: int, repeats: int) -> list[tuple[str, float]]:
    """(phase, CPU µs per message) rows."""
    config = mapping_config(workload)
    mapper = Mapper(config)
    messages = _messages(workload, n)
    fmt = mapper.format

    def loop(build_value: Callable[[Any, Any], Any]) -> Callable[[], None]:
        def run() -> None:
            rows: list[Any] = []
            for message in messages:
                rows.append(build_value(message, message.value()))
                if len(rows) == 1000:  # the pipeline hands rows on per poll
                    rows = []

        return run

    def decode_all(decode: Callable[[bytes], Any]) -> Callable[[], None]:
        def run() -> None:
            for message in messages:
                decode(message.value())

        return run

    def measure(work: Callable[[], None]) -> float:
        return cpu_us(work, n, repeats)

    shape = mapper.shape
    rows = [
        ("stage b's work: Mapper.build_value (decode + build)", measure(loop(mapper.build_value))),
        ("JSON decode: orjson (decode_value, the general path)", measure(decode_all(lambda v: decode_value(v, fmt)))),
    ]
    if shape is not None:
        rows.append(
            ("JSON decode: msgspec, only the fields read (this mapping's path)", measure(decode_all(shape.decode)))
        )
    rows.append(
        (
            "Mapper.build_value with no column (no Shape: decodes with orjson)",
            measure(loop(_mapper_of(config, ()).build_value)),
        )
    )
    full = loop(mapper.build_value)
    for column in config.columns:
        without = loop(_mapper_of(config, tuple(c for c in config.columns if c is not column)).build_value)
        # Interleaved, so that both figures see the same machine: a column costs a few
        # tenths of a µs, less than a shared machine's drift between two measurements.
        best_full = best_without = float("inf")
        for _ in range(repeats):
            best_full = min(best_full, cpu_us(full, n, 1))
            best_without = min(best_without, cpu_us(without, n, 1))
        rows.append((f"  column {column.name}: {column.type or 'untyped'}", best_full - best_without))
    return rows


def _messages(workload: str, n: int) -> list[Any]:
    """The first ``n`` messages of the workload, as confluent-kafka's consumer returns them."""
    value_of = values_of(workload)
    return [confluent_kafka.Message(topic="bench", partition=0, offset=i, value=value_of(i)) for i in range(n)]


def _mapper_of(config: MappingConfig, columns: tuple[ColumnConfig, ...]) -> Mapper:
    """The mapping with only ``columns``."""
    return Mapper(replace(config, columns=columns))


def profile(workload: str, n: int) -> None:
    config = mapping_config(workload)
    mapper = Mapper(config)
    messages = _messages(workload, n)
    profiler = cProfile.Profile()
    profiler.enable()
    for message in messages:
        mapper.build_value(message, message.value())
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=WORKLOADS, default="realistic")
    parser.add_argument("--messages", type=int, default=50_000, help="messages per run (default 50,000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure; the best counts (default 5)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions")
    args = parser.parse_args(argv)
    tune_gc()
    print(f"workload {args.workload}: CPU µs per message (best of {args.repeats} runs of {args.messages:,})")
    for phase, us in report(args.workload, args.messages, args.repeats):
        print(f"{us:7.3f}  {phase}")
    if args.profile:
        profile(args.workload, args.messages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
