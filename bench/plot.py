"""Draws a benchmark report as a PNG: throughput per stage and variant, and latency percentiles.

``make bench`` draws each run next to its JSON; ``python -m bench.plot REPORT.json OUT.png``
redraws a report kept in ``bench/results`` (the README shows ``bench/results/2cpu.png``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt
import orjson

STAGE_NAMES = {
    "a": "a  raw consume",
    "b": "b  consume+decode+map",
    "c": "c  connector",
    "d": "d  naive loop",
}


def stage_label(name: str) -> str:
    """A short label for a stage or variant (``c_gzip`` → ``c  gzip``)."""
    return STAGE_NAMES.get(name, f"c  {name[2:].replace('_', ' ')}")


def draw(report: dict[str, Any], path: Path) -> None:
    """Write ``report`` (bench.py's JSON) as a PNG at ``path``."""
    stages: dict[str, dict[str, Any]] = report["stages"]
    latency: dict[str, Any] | None = report.get("latency")
    figure, (rates, delays) = plt.subplots(
        1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [3, 2]}, layout="constrained"
    )
    names = list(stages)[::-1]  # top to bottom in report order
    medians = [stages[n]["msgs_per_s"] for n in names]
    low = [m - stages[n]["msgs_per_s_min"] for n, m in zip(names, medians, strict=True)]
    high = [stages[n]["msgs_per_s_max"] - m for n, m in zip(names, medians, strict=True)]
    colours = ["tab:orange" if n.startswith("c") else "tab:gray" for n in names]
    rates.barh([stage_label(n) for n in names], medians, xerr=[low, high], color=colours, capsize=3)
    rates.set_xscale("log")
    rates.set_xlabel("messages/s (median, min-max; log scale)")
    for y, value in enumerate(medians):
        rates.annotate(f"{value:,.0f}", (value, y), xytext=(4, 5), textcoords="offset points", fontsize=8)
    params = report.get("params", {})
    rates.set_title(
        f"Throughput: {params.get('messages', 0):,} messages, {params.get('repeats', '?')} repeat(s)", fontsize=10
    )
    if latency:
        kinds = [("consume-to-ack", latency.get("consume_to_ack_ms")), ("produce-to-ack", latency.get("latency_ms"))]
        percentiles = ("p50", "p99", "max")
        width = 0.38
        for i, (kind, figures) in enumerate(kinds):
            if not figures:
                continue
            values = [figures.get(p) or 0 for p in percentiles]
            positions = [x + (i - 0.5) * width for x in range(len(percentiles))]
            bars = delays.bar(positions, values, width, label=kind)
            delays.bar_label(bars, fmt="%.0f", fontsize=8)
        delays.set_xticks(range(len(percentiles)), percentiles)
        delays.set_ylabel("ms")
        delays.margins(y=0.15)
        linger = latency.get("linger_ms", 0)
        delays.axhline(linger, color="gray", linestyle=":", linewidth=1, label=f"linger_ms {linger}")
        delays.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=3, frameon=False)
        delays.set_title(f"Latency at {latency.get('achieved_rate', 0):,.0f} msg/s", fontsize=10)
    else:
        delays.set_axis_off()
        delays.set_title("no latency run", fontsize=10)
    figure.savefig(path, format="png", dpi=80)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw a bench report (JSON) as a PNG.")
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    args = parser.parse_args(argv)
    draw(orjson.loads(args.report.read_bytes()), args.png)
    print(f"wrote {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
