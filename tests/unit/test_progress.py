"""``--until-caught-up`` progress: the backlog shrinking per topic, as lines when not on a terminal."""

from __future__ import annotations

import io
import re
import textwrap

from connector.config import parse_config
from connector.pipeline import Tuning, build_pipeline
from connector.progress import LineProgress, TerminalProgress, progress_for
from tests.unit.fakes import FakeSink, FakeSource, json_records


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_every_interval_with_counts_percent_and_rate_per_topic() -> None:
    clock, lines = Clock(), list[str]()
    progress = LineProgress(lines.append, interval_s=5, clock=clock)
    clock.now += 2
    progress.update({"orders": (2_000, 10_000), "returns": (0, 40)})
    assert lines == []  # not yet due
    clock.now += 3
    progress.update({"orders": (5_000, 10_000), "returns": (40, 40)})
    assert lines == ["progress: orders 5,000/10,000 (50%, 1,000 msg/s); returns 40/40 (100%, 13 msg/s)"]
    clock.now += 1
    progress.update({"orders": (9_000, 10_000), "returns": (40, 40)})
    assert len(lines) == 1
    progress.close()
    assert lines[-1] == "progress: orders 9,000/10,000 (90%, 4,000 msg/s); returns 40/40 (100%, 0 msg/s)"
    progress.close()
    assert len(lines) == 2


def test_a_caught_up_run_reports_its_backlog_shrinking_to_the_end() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            kafka: {bootstrap.servers: 'unused:9092'}
            timeplus: {url: 'http://unused:3218'}
            batch: {max_rows: 100, linger_ms: 0}
            mappings:
              - topics: [orders, returns]
                stream: orders
                columns: {id: value.id}
            """
        ),
        env={},
    )
    orders = json_records("orders", 0, [{"id": i} for i in range(300)])
    returns = json_records("returns", 0, [{"id": i} for i in range(50)])
    # Offsets below 100 of orders were committed by an earlier run: they are no backlog.
    source = FakeSource({("orders", 0): orders, ("returns", 0): returns}, committed={("orders", 0): 100})
    lines: list[str] = []
    progress = LineProgress(lines.append, interval_s=0)
    build_pipeline(
        config,
        source,
        FakeSink(),
        until_caught_up=True,
        tuning=Tuning(poll_messages=40, poll_timeout_s=0.0, commit_interval_s=0.0),
        progress=progress,
    ).run()
    assert lines, "no progress line"
    assert lines[-1].startswith("progress: orders 200/200 (100%, ")
    assert "; returns 50/50 (100%, " in lines[-1]
    done = [int(re.search(r"orders ([\d,]+)/", line)[1].replace(",", "")) for line in lines]  # type: ignore[index]
    assert done == sorted(done) and done[0] < 200


def test_a_terminal_gets_one_bar_per_topic() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Tty()
    progress = progress_for(screen)
    assert isinstance(progress, TerminalProgress)
    progress.update({"orders": (500, 1_000), "returns": (1, 4)})
    progress.update({"orders": (1_000, 1_000), "returns": (4, 4)})
    progress.close()
    text = screen.getvalue()
    assert "orders: 100%" in text and "returns: 100%" in text and "1.00k/1.00k" in text
    assert isinstance(progress_for(io.StringIO()), LineProgress)
