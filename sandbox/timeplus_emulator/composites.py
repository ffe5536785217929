"""Composite columns: nullable, low_cardinality, array, map, tuple."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import codes
from .codes import ProtonError
from .values import ColumnType, ValueRejected, expected_error


class NullableType(ColumnType):
    """nullable(T): null stays null."""

    nullable = True

    def __init__(self, inner: ColumnType) -> None:
        if isinstance(inner, NullableType | ArrayType | MapType | TupleType):
            raise ProtonError(codes.ILLEGAL_TYPE_OF_ARGUMENT, f"Nested type {inner.name} cannot be inside nullable")
        self.inner = inner
        self.name = f"nullable({inner.name})"

    def default(self) -> None:
        return None

    def convert(self, value: Any) -> Any:
        return None if value is None else self.inner.convert(value)

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        if type(None) not in set(map(type, values)):
            return self.inner.convert_column(values)
        return super().convert_column(values)


class LowCardinalityType(ColumnType):
    """low_cardinality(T): stored and checked exactly as T."""

    def __init__(self, inner: ColumnType) -> None:
        self.inner = inner
        self.nullable = inner.nullable
        self.name = f"low_cardinality({inner.name})"

    def default(self) -> Any:
        return self.inner.default()

    def convert(self, value: Any) -> Any:
        return self.inner.convert(value)

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        return self.inner.convert_column(values)

    def convert_key(self, text: str) -> Any:
        return self.inner.convert_key(text)


class ArrayType(ColumnType):
    """array(T): a JSON array; every element checked as T."""

    def __init__(self, inner: ColumnType) -> None:
        self.inner = inner
        self.name = f"array({inner.name})"

    def default(self) -> list[Any]:
        return []

    def _convert(self, value: Any) -> list[Any]:
        if type(value) is not list:
            raise expected_error(f"'[' (a JSON array) for {self.name}", value)
        convert = self.inner.convert
        return [convert(item) for item in value]


class MapType(ColumnType):
    """map(K, V): a JSON object; keys converted as K, values checked as V."""

    def __init__(self, key: ColumnType, value: ColumnType) -> None:
        self.key = key
        self.value = value
        self.name = f"map({key.name}, {value.name})"

    def default(self) -> dict[Any, Any]:
        return {}

    def _convert(self, value: Any) -> dict[Any, Any]:
        if type(value) is not dict:
            raise expected_error(f"'{{' (a JSON object) for {self.name}", value)
        return {self.key.convert_key(k): self.value.convert(v) for k, v in value.items()}


class TupleType(ColumnType):
    """tuple(T1, T2, ...) as a JSON array; a named tuple also as a JSON object."""

    def __init__(self, elements: list[ColumnType], names: list[str] | None) -> None:
        self.elements = elements
        self.names = names
        if names is None:
            self.name = f"tuple({', '.join(e.name for e in elements)})"
        else:
            self.name = f"tuple({', '.join(f'{n} {e.name}' for n, e in zip(names, elements, strict=True))})"

    def default(self) -> Any:
        values = [e.default() for e in self.elements]
        return values if self.names is None else dict(zip(self.names, values, strict=True))

    def _convert(self, value: Any) -> Any:
        if type(value) is dict and self.names is not None:
            unknown = set(value) - set(self.names)
            if unknown:
                raise ValueRejected(
                    codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                    f"Cannot parse input: {self.name} has no element {sorted(unknown)[0]!r}",
                )
            items = [value.get(n) for n in self.names]
        elif type(value) is list:
            if len(value) != len(self.elements):
                raise ValueRejected(
                    codes.CANNOT_PARSE_INPUT_ASSERTION_FAILED,
                    f"Cannot parse input: {self.name} needs {len(self.elements)} elements, got {len(value)}",
                )
            items = value
        else:
            raise expected_error(f"'[' (a JSON array) for {self.name}", value)
        converted = [e.convert(v) for e, v in zip(self.elements, items, strict=True)]
        return converted if self.names is None else dict(zip(self.names, converted, strict=True))
