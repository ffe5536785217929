"""Text-like columns: string, fixed_string, uuid, ipv4/ipv6, enum, json."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from . import codes
from .codes import ProtonError
from .values import ColumnType, ValueRejected, expected_error


def quote(text: str) -> str:
    """A SQL string literal, as type names print enum labels and time zones."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StringType(ColumnType):
    """string: JSON strings only (a number is refused, not stringified)."""

    name = "string"

    def default(self) -> str:
        return ""

    def _convert(self, value: Any) -> str:
        if type(value) is str:
            return value
        raise expected_error("'\"' (a JSON string) for string", value)

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        if set(map(type, values)) == {str}:
            return values
        return super().convert_column(values)


class FixedStringType(ColumnType):
    """fixed_string(N): a string of at most N bytes, stored NUL-padded like Proton."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ProtonError(codes.ARGUMENT_OUT_OF_BOUND, "fixed_string size must be positive")
        self.name = f"fixed_string({size})"
        self.size = size

    def default(self) -> str:
        return "\x00" * self.size

    def _convert(self, value: Any) -> str:
        if type(value) is not str:
            raise expected_error(f"a JSON string for {self.name}", value)
        length = len(value.encode())
        if length > self.size:
            raise ValueRejected(codes.TOO_LARGE_STRING_SIZE, f"Too large value for {self.name}")
        return value + "\x00" * (self.size - length)


class UUIDType(ColumnType):
    """uuid: the 36-character form, stored lower-case."""

    name = "uuid"
    _TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

    def default(self) -> str:
        return "00000000-0000-0000-0000-000000000000"

    def _convert(self, value: Any) -> str:
        if type(value) is not str:
            raise expected_error("a JSON string for uuid", value)
        if not self._TEXT.fullmatch(value):
            raise ValueRejected(codes.CANNOT_PARSE_UUID, f"Cannot parse uuid {value!r}")
        return value.lower()


class IPv4Type(ColumnType):
    """ipv4: dotted quad string."""

    name = "ipv4"

    def default(self) -> str:
        return "0.0.0.0"

    def _convert(self, value: Any) -> str:
        if type(value) is not str:
            raise expected_error("a JSON string for ipv4", value)
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise ValueRejected(codes.CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING, f"Invalid IPv4 value {value!r}") from None


class IPv6Type(ColumnType):
    """ipv6: any IPv6 text, or IPv4 text stored as IPv4-mapped (like ClickHouse)."""

    name = "ipv6"

    def default(self) -> str:
        return "::"

    def _convert(self, value: Any) -> str:
        if type(value) is not str:
            raise expected_error("a JSON string for ipv6", value)
        try:
            address = ipaddress.IPv6Address(value)
        except ValueError:
            try:
                return f"::ffff:{ipaddress.IPv4Address(value)}"
            except ValueError:
                raise ValueRejected(
                    codes.CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING, f"Invalid IPv6 value {value!r}"
                ) from None
        mapped = address.ipv4_mapped
        return f"::ffff:{mapped}" if mapped is not None else str(address)


class EnumType(ColumnType):
    """enum8 / enum16: the element name, or its number; stored as the name."""

    def __init__(self, kind: str, elements: list[tuple[str, int]]) -> None:
        if not elements:
            raise ProtonError(codes.BAD_ARGUMENTS, f"{kind} needs at least one element")
        bits = 8 if kind == "enum8" else 16
        for label, number in elements:
            if not -(1 << (bits - 1)) <= number < (1 << (bits - 1)):
                raise ProtonError(codes.ARGUMENT_OUT_OF_BOUND, f"{label!r} = {number} out of {kind}")
        self.by_name = dict(elements)
        self.by_number = {number: label for label, number in elements}
        inner = ", ".join(f"{quote(label)} = {number}" for label, number in elements)
        self.name = f"{kind}({inner})"

    def default(self) -> str:
        # DataTypeEnum sorts its values; the default is the smallest one.
        return self.by_number[min(self.by_number)]

    def _convert(self, value: Any) -> str:
        if type(value) is str and value in self.by_name:
            return value
        if type(value) is int and value in self.by_number:
            return self.by_number[value]
        if type(value) in (str, int):
            raise ValueRejected(codes.BAD_ARGUMENTS, f"Unknown element {value!r} for {self.name}")
        raise expected_error(f"a JSON string for {self.name}", value)


class JsonType(ColumnType):
    """json: a JSON object, stored as it is."""

    name = "json"

    def default(self) -> dict[str, Any]:
        return {}

    def _convert(self, value: Any) -> dict[str, Any]:
        if type(value) is dict:
            return value
        raise expected_error("'{' (a JSON object) for json", value)
