"""The streams a run starts with, from a YAML or JSON file.

Accepted shapes (every problem is reported at once, with its path)::

    streams:                       # the full form
      - name: orders
        columns:
          - {name: id, type: int64}
          - {name: total, type: 'decimal(10, 2)'}
    orders: {id: int64, total: 'decimal(10, 2)'}     # the simple form
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .codes import ProtonError
from .store import Column
from .types import parse_type


class StreamsFileError(ValueError):
    """The streams file is unreadable or describes invalid streams."""


def read_streams_file(path: str | Path) -> list[tuple[str, list[Column]]]:
    """(name, columns) of each stream in ``path``."""
    path = Path(path)
    try:
        text = path.read_text()
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise StreamsFileError(f"{path}: {exc}") from None
    return parse_streams(document, str(path))


def parse_streams(document: Any, where: str = "streams") -> list[tuple[str, list[Column]]]:
    """Streams from an already parsed document, in either accepted shape."""
    problems: list[str] = []
    if isinstance(document, dict) and set(document) == {"streams"}:
        entries = document["streams"]
        if isinstance(entries, dict):
            items = [(f"streams.{name}", name, columns) for name, columns in entries.items()]
        elif isinstance(entries, list):
            items = []
            for index, entry in enumerate(entries):
                if not isinstance(entry, dict) or "name" not in entry or "columns" not in entry:
                    problems.append(f"streams[{index}]: needs 'name' and 'columns'")
                    continue
                items.append((f"streams[{index}]", entry["name"], entry["columns"]))
        else:
            raise StreamsFileError(f"{where}: 'streams' must be a list or a mapping")
    elif isinstance(document, dict):
        items = [(str(name), name, columns) for name, columns in document.items()]
    else:
        raise StreamsFileError(f"{where}: expected a mapping of streams")
    result = []
    for place, name, spec in items:
        columns = _columns(place, spec, problems)
        if not isinstance(name, str) or not name:
            problems.append(f"{place}: stream name must be a non-empty string")
        elif columns is not None:
            result.append((name, columns))
    if problems:
        raise StreamsFileError(f"{where}:\n  " + "\n  ".join(problems))
    return result


def _columns(place: str, spec: Any, problems: list[str]) -> list[Column] | None:
    if isinstance(spec, dict):
        pairs = [(f"{place}.{name}", name, type_name) for name, type_name in spec.items()]
    elif isinstance(spec, list):
        pairs = []
        for index, column in enumerate(spec):
            if isinstance(column, dict) and "name" in column and "type" in column:
                pairs.append((f"{place}.columns[{index}]", column["name"], column["type"]))
            else:
                problems.append(f"{place}.columns[{index}]: needs 'name' and 'type'")
    else:
        problems.append(f"{place}: columns must be a list or a mapping")
        return None
    if not pairs:
        problems.append(f"{place}: a stream needs at least one column")
    columns = []
    for column_place, name, type_name in pairs:
        try:
            columns.append(Column(str(name), parse_type(str(type_name))))
        except ProtonError as exc:
            problems.append(f"{column_place}: {exc.message}")
    return columns
