"""The bench report drawn as a PNG: every stage and the latency figures, in a small file."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.plot import draw, stage_label

RESULTS = Path(__file__).parents[2] / "bench" / "results"


def test_a_kept_report_draws_as_a_small_png(tmp_path: Path) -> None:
    out = tmp_path / "bench.png"
    draw(orjson.loads((RESULTS / "2cpu.json").read_bytes()), out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < len(data) < 200_000


def test_a_report_without_a_latency_run_still_draws(tmp_path: Path) -> None:
    report = orjson.loads((RESULTS / "2cpu.json").read_bytes())
    report["latency"] = None
    draw(report, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 1_000


def test_variants_get_readable_labels() -> None:
    assert stage_label("c") == "c  connector"
    assert stage_label("c_rows1000_inflight2") == "c  rows1000 inflight2"
