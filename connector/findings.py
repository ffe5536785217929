"""What the online checks found, as immutable values, and the one place that draws tables.

``check``, ``run``'s start-up check, ``create-streams`` and ``preview`` all print through
``render_table``, so every table the CLI prints looks the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum


class Level(Enum):
    """How bad a finding is; ``PROBLEM`` makes ``check`` exit 1 and ``run`` refuse to start."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "PROBLEM"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the check table: what was checked, on what, the verdict and why."""

    level: Level
    check: str
    """kafka, topic, dlq topic, timeplus, stream or column."""
    subject: str
    """What it is about: a topic, a stream, ``stream.column``, a URL."""
    detail: str
    """The verdict in words a user can act on."""


def problems(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that must stop a start-up."""
    return [f for f in findings if f.level is Level.PROBLEM]


def findings_table(findings: Sequence[Finding]) -> str:
    """The table ``check`` prints, with a last line counting problems and warnings."""
    rows = [(f.level.value, f.check, f.subject, f.detail) for f in findings]
    table = render_table(("status", "check", "subject", "detail"), rows, max_width=300)
    bad = len(problems(findings))
    warnings = sum(1 for f in findings if f.level is Level.WARNING)
    return f"{table}\n{bad} problem(s), {warnings} warning(s)"


def render_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, max_width: int = 60) -> str:
    """Left-aligned columns separated by two spaces; cells longer than ``max_width`` end in ``…``."""
    cells = [[_cell(c, max_width) for c in header], *([_cell(c, max_width) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(text: str, max_width: int) -> str:
    text = " ".join(str(text).split())  # one line per row, whatever the value holds
    return text if len(text) <= max_width else text[: max_width - 1] + "…"
