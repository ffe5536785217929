"""The base of every column type: a value is checked, normalised, or rejected with a Proton code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import codes


class ValueRejected(Exception):
    """One JSON value does not fit its column; ``code`` is the Proton error code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's kind, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def expected_error(what: str, value: Any) -> ValueRejected:
    # ClickHouse's text parsers stop at the first unexpected character and the row
    # reader then fails its next assertion: CANNOT_PARSE_INPUT_ASSERTION_FAILED.
    return ValueRejected(
        codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
        f"Cannot parse input: expected {what}, got {json_kind(value)} {shown(value)}",
    )


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ColumnType:
    """A column type: its canonical name, default value and value conversion."""

    name: str = ""
    nullable = False

    def default(self) -> Any:
        """The value Proton stores for an omitted column or a ``null``."""
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """Check one JSON value and return it as stored; raise ValueRejected."""
        if value is None:
            return self.default()  # Proton: null in a non-nullable column -> default
        return self._convert(value)

    def _convert(self, value: Any) -> Any:
        raise NotImplementedError

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        """Convert a whole column; subclasses add C-speed fast paths for benchmarks."""
        convert = self.convert
        return [convert(v) for v in values]

    def convert_key(self, text: str) -> Any:
        """Convert a JSON object key (always a string) used as a map key."""
        return self.convert(text)

    def __repr__(self) -> str:
        return f"<{self.name}>"
