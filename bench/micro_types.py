"""Micro-benchmark of the type layer (issue 10): ns per value, per converter and form.

Each row converts a list of 20,000 distinct values of one form with the converter the
mapper compiles for the column, and reports the best of several runs, minus the cost of
the empty loop. Values follow each other as in a topic (timestamps a few ms apart,
random uuids and addresses), so caches help only as far as real streams let them.
The last rows decode whole ~250-byte events (``bench/workloads.py``).

    .venv/bin/python bench/micro_types.py [--values N] [--repeats R] [--md-out FILE]

It measures and prints; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import inspect
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from connector import mapping
from connector.types import parse_type

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import RealisticEvents  # bench/ is a folder of scripts, not a package

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


def factories() -> list[tuple[str, Callable[..., Callable[[Any], Any]]]]:
    """The converter factories to compare: today's, and the new one while both exist."""
    found: list[tuple[str, Callable[..., Callable[[Any], Any]]]] = []
    try:
        from connector.types import make_converter as today

        found.append(("connector.types", today))
    except ImportError:
        pass
    try:
        from connector.type_converters import make_converter as new

        found.append(("connector.type_converters", new))
    except ImportError:
        pass
    return found


def converter(factory: Callable[..., Callable[[Any], Any]], type_name: str, unit: str | None) -> Callable[[Any], Any]:
    """The converter the mapper compiles for a column, on its hot path.

    A mapping with a decimal column has its messages checked for inexact literals
    before decoding, so its floats are exact (``Floats.CHECKED`` where the API has it).
    """
    t = parse_type(type_name)
    if "floats" in inspect.signature(factory).parameters:
        from connector.exact_json import Floats

        floats = Floats.CHECKED if "decimal" in type_name else Floats.UNCHECKED
        return factory(t, unit, floats)
    return factory(t, unit)


def best_ns(work: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        work()
        best = min(best, (time.perf_counter_ns() - start) / count)
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
    found: list[tuple[str, Callable[[bytes], Any]]] = [("orjson.loads", orjson.loads)]
    try:
        from connector.exact_json import might_lose_digits

        found.append(("check for literals orjson would alter", might_lose_digits))
    except ImportError:
        pass
    found.append(("mapping.decode_value(json)", lambda raw: mapping.decode_value(raw, "json")))
    return found


def table(n: int, repeats: int) -> str:
    rng = random.Random(20260101)
    makers = factories()
    lines = [
        "| form | column type | " + " | ".join(f"`{name}` ns/value" for name, _ in makers) + " |",
        "|---|---|" + "---:|" * len(makers),
    ]
    for form, type_name, unit, values in forms(n, rng):
        cells = []
        for _, factory in makers:
            try:
                cells.append(f"{measure(converter(factory, type_name, unit), values, repeats):,.0f}")
            except Exception as exc:  # a form a converter refuses: say so, keep going
                cells.append(f"fails: {type(exc).__name__}")
        lines.append(f"| {form} | `{type_name}`{f' unit {unit}' if unit else ''} | " + " | ".join(cells) + " |")
    events = RealisticEvents()
    bodies = [events.value(i) for i in range(n)]
    size = sum(map(len, bodies)) / len(bodies)
    lines += ["", "| decode a realistic event | ns/event |", "|---|---:|"]
    for name, decode in decoders():
        lines.append(f"| {name} ({size:.0f} bytes) | {measure(decode, bodies, repeats):,.0f} |")
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
