"""Micro-benchmark of the type layer (issue 10): ns per value, per converter and form.

Each row converts a list of 20,000 distinct values of one form with the converter the
mapper compiles for the column, and reports the best of several runs, minus the cost of
the empty loop. Times are the process's CPU time, which other work on a shared machine
disturbs less than the wall clock. Values follow each other as in a topic (timestamps a few ms apart,
random uuids and addresses), so caches help only as far as real streams let them.
The last rows decode whole ~250-byte events (``bench/workloads.py``).

    .venv/bin/python -m bench.micro_types [--values N] [--repeats R] [--md-out FILE]

The table of the converters before issue 10 is kept in
``bench/results/RESULTS-micro-types-before.md`` (measured by this script on that code).

It measures and prints; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.profile_mapping import mapping_config
from bench.workloads import RealisticEvents
from connector.decoding import decode_value
from connector.exact_json import Floats, might_lose_digits
from connector.mapping import Mapper
from connector.types import column_type

START = datetime(2026, 1, 1, tzinfo=UTC)


def iso(i: int, *, sep: str = "T", digits: int = 3, zone: str = "Z") -> str:
    """The i-th instant, ~7 ms apart, as ISO-8601 text in the given shape."""
    moment = START + timedelta(milliseconds=7 * i, microseconds=(i * 37) % 1000)
    offset = timedelta(0)
    if zone not in ("Z", ""):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    local = (moment + offset).replace(tzinfo=None)
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}000"[:digits]
    return text + zone


def forms(n: int, rng: random.Random) -> list[tuple[str, str, str | None, list[Any]]]:
    """(form, column type, unit, values) for every row of the table."""
    base_ms = int(START.timestamp() * 1000)
    return [
        ("ISO `T…Z`, 3 digits", "datetime64(3)", None, [iso(i) for i in range(n)]),
        ("ISO `T…+02:00`", "datetime64(3)", None, [iso(i, zone="+02:00") for i in range(n)]),
        ("ISO `T…-05:30`, 6 digits", "datetime64(6)", None, [iso(i, digits=6, zone="-05:30") for i in range(n)]),
        ("ISO space, no zone", "datetime64(3)", None, [iso(i, sep=" ", zone="") for i in range(n)]),
        ("ISO `T…Z`, 9 digits", "datetime64(9)", None, [iso(i, digits=9) for i in range(n)]),
        ("ISO `T…Z` into a named zone", "datetime64(3, 'Europe/Berlin')", None, [iso(i) for i in range(n)]),
        ("ISO `T…Z`, no fraction", "datetime", None, [iso(i, digits=0) for i in range(n)]),
        ("epoch ms (int)", "datetime64(3)", "ms", [base_ms + 7 * i for i in range(n)]),
        ("date `YYYY-MM-DD`", "date", None, [(START + timedelta(days=i % 3650)).date().isoformat() for i in range(n)]),
        ("uuid, canonical", "uuid", None, [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]),
        (
            "ipv4, distinct",
            "ipv4",
            None,
            [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(n)],
        ),
        (
            "ipv6, distinct",
            "ipv6",
            None,
            [f"2001:db8::{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}" for _ in range(n)],
        ),
        (
            "decimal(10,2) from a JSON number",
            "decimal(10, 2)",
            None,
            [round(rng.random() * 10_000, 2) for _ in range(n)],
        ),
        ("decimal(10,2) from text", "decimal(10, 2)", None, [f"{rng.random() * 10_000:.2f}" for _ in range(n)]),
        ("int64", "int64", None, [rng.randrange(-(1 << 40), 1 << 40) for _ in range(n)]),
        ("float64", "float64", None, [rng.random() * 1000 for _ in range(n)]),
        ("string", "string", None, [f"user_{rng.randrange(5000):05d}" for _ in range(n)]),
    ]


def converter(type_name: str, unit: str | None) -> Callable[[Any], Any]:
    """The converter the mapper compiles for a column, on its hot path.

    A mapping with a decimal column checks each message for literals orjson would alter
    before building its row, so its converters see ``Floats.CHECKED``; others see
    orjson's floats unchecked (``connector.mapping``).
    """
    ct = column_type(type_name, unit)
    return ct.converters[Floats.CHECKED if ct.wants_digits else Floats.UNCHECKED]


def best_ns(work: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time_ns()
        work()
        best = min(best, (time.process_time_ns() - start) / count)
    return best


def measure(convert: Callable[[Any], Any], values: Sequence[Any], repeats: int) -> float:
    def run() -> None:
        for v in values:
            convert(v)

    def empty() -> None:
        for _ in values:
            pass

    convert(values[0])  # build caches of the first value, as a running connector has
    return max(best_ns(run, len(values), repeats) - best_ns(empty, len(values), repeats), 0.0)


def decoders() -> list[tuple[str, Callable[[bytes], Any]]]:
    shape = Mapper(mapping_config("realistic")).shape
    assert shape is not None
    return [
        ("orjson.loads", orjson.loads),
        ("check for literals orjson would alter (the general path, mappings with decimals)", might_lose_digits),
        ("decoding.decode_value(json)", lambda raw: decode_value(raw, "json")),
        ("msgspec into the realistic mapping's Shape (the fields it reads; no check needed)", shape.decode),
    ]


def table(n: int, repeats: int) -> str:
    rng = random.Random(20260101)
    lines = ["| form | column type | ns/value |", "|---|---|---:|"]
    for form, type_name, unit, values in forms(n, rng):
        ns = measure(converter(type_name, unit), values, repeats)
        lines.append(f"| {form} | `{type_name}`{f' unit {unit}' if unit else ''} | {ns:,.0f} |")
    events = RealisticEvents()
    bodies = [events.value(i) for i in range(n)]
    size = sum(map(len, bodies)) / len(bodies)
    lines += ["", f"| a realistic event ({size:.0f} bytes) | ns/event |", "|---|---:|"]
    for name, decode in decoders():
        lines.append(f"| {name} | {measure(decode, bodies, repeats):,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=20_000, help="values per form (default 20,000)")
    parser.add_argument("--repeats", type=int, default=7, help="runs per form; the best counts (default 7)")
    parser.add_argument("--md-out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    report = table(args.values, args.repeats)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    heading = f"Type layer, ns per value (best of {args.repeats}, {platform.python_version()}, {now})\n\n"
    print(heading + report)
    if args.md_out:
        args.md_out.write_text(heading + report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
