"""The entry point: ``column_type`` gives everything mapping needs about a typed column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from connector.types.containers import array_converter, json_converter, map_converter, tuple_converter
from connector.types.datetimes import EPOCH_UNITS, date_converter, datetime_converter
from connector.types.grammar import INT_BITS, TimeplusType, is_nullable, parse_type
from connector.types.scalars import SCALARS, int_converter
from connector.types.values import Converter

_PASSTHROUGH: Final[dict[str, type]] = {"string": str, "bool": bool, "json": dict}


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A column's parsed type compiled for one epoch unit; built by ``column_type``.

    Constants and defaults go through ``convert`` too, once, when the config is loaded.
    """

    parsed: TimeplusType
    """The parsed type; ``str()`` gives its canonical spelling."""
    unit: str | None
    """Unit of epoch numbers read into date/time types (None: epoch numbers are refused)."""
    convert: Converter = field(repr=False, compare=False)
    """Turns a source value into Timeplus's JSON form; raises ValueError with a reason."""
    nullable: bool
    """True when null is a value of the column (``nullable(T)``, also under low_cardinality)."""
    passthrough: type | None
    """Values of exactly this Python type are already in their JSON form (``convert`` returns them)."""
    null_reason: str
    """The reason given for a null in this column when it is not nullable."""

    def __str__(self) -> str:
        return str(self.parsed)


def column_type(text: str, unit: str | None = None) -> ColumnType:
    """Parse a column's type and compile its converter; ValueError says what is wrong."""
    if unit is not None and unit not in EPOCH_UNITS:
        raise ValueError(f"unknown unit {unit!r} (expected one of {', '.join(EPOCH_UNITS)})")
    t = parse_type(text)
    null_reason = f"null for non-nullable column of type {t}"
    return ColumnType(
        parsed=t,
        unit=unit,
        convert=_converter(t, unit, null_reason),
        nullable=is_nullable(t),
        passthrough=_passthrough_type(t),
        null_reason=null_reason,
    )


def _passthrough_type(t: TimeplusType) -> type | None:
    """The Python type whose values the converter of ``t`` returns unchanged, if any."""
    while t.name in ("nullable", "low_cardinality"):
        t = t.args[0]
    return _PASSTHROUGH.get(t.name)


def _converter(t: TimeplusType, unit: str | None, null: str) -> Converter:
    name = t.name
    if name == "nullable":
        inner = _converter(t.args[0], unit, null)
        return lambda v: None if v is None else inner(v)
    if name == "low_cardinality":
        return _converter(t.args[0], unit, null)
    if name in INT_BITS:
        return int_converter(t, null)
    factory = SCALARS.get(name)
    if factory is not None:
        return factory(t, null)
    if name == "json":
        return json_converter(t, null)
    if name == "date" or name == "date32":
        return date_converter(t, unit, null)
    if name == "datetime" or name == "datetime64":
        return datetime_converter(t, unit, null)
    element_null = "null in a non-nullable element of type {}"
    if name == "array":
        return array_converter(t, _converter(t.args[0], unit, element_null.format(t.args[0])), null)
    if name == "map":
        key = _converter(t.args[0], unit, "null map key")
        return map_converter(t, key, _converter(t.args[1], unit, element_null.format(t.args[1])), null)
    if name == "tuple":
        elements = tuple(_converter(a, unit, element_null.format(a)) for a in t.args)
        return tuple_converter(t, elements, null)
    raise ValueError(f"no converter for type {t}")  # parse_type admits nothing else
