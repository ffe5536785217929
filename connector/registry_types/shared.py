"""What the format modules of ``registry_types`` share: NoType, nullable types, paths and references."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from connector.ports import RegisteredSchema
from connector.types import parse_type

#: The deepest a schema is followed through references and $ref (a loop would never end).
MAX_DEPTH: Final = 64


class NoType(Exception):
    """A schema gives no faithful Timeplus type for a path; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nullable(type_name: str, why: str) -> str:
    """``nullable(type_name)``; NoType when Timeplus has no nullable form of it."""
    if type_name.startswith("nullable("):
        return type_name
    try:
        return str(parse_type(f"nullable({type_name})"))
    except ValueError:
        raise NoType(f"{why}, and Timeplus has no nullable {type_name} (a null would be stored as empty)") from None


def shown(path: Sequence[str]) -> str:
    return ".".join(("value", *path))


def named_dependencies(schema: RegisteredSchema, depth: int = 0) -> Iterator[tuple[str, RegisteredSchema]]:
    """Every schema ``schema`` references, with its name, each after those it references itself."""
    if depth > MAX_DEPTH:
        raise NoType(f"schema references nest deeper than {MAX_DEPTH}")
    for name, reference in schema.references:
        yield from named_dependencies(reference, depth + 1)
        yield name, reference


def is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit()
