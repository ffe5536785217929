"""The entry point: ``column_type`` gives everything mapping needs about a typed column."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from connector.exact_json import Floats
from connector.types.containers import array_converter, json_converter, map_converter, tuple_converter
from connector.types.datetimes import EPOCH_UNITS, date_converter, datetime_converter
from connector.types.grammar import DECIMAL_ALIASES, ENUMS, INT_BITS, TimeplusType, is_nullable, parse_type
from connector.types.numbers import (
    FLOAT32_MAX,
    JSON_INT_MAX,
    JSON_INT_MIN,
    decimal_converter,
    float_converter,
    int_converter,
    int_range,
)
from connector.types.scalars import (
    UUID_CANONICAL,
    bool_converter,
    enum_converter,
    fixed_string_converter,
    ip_converter,
    string_converter,
    uuid_converter,
)
from connector.types.values import Converter

_PASSTHROUGH: Final[dict[str, type]] = {"string": str, "bool": bool, "json": dict}
DECIMALS: Final = ("decimal", *DECIMAL_ALIASES)


class AsIs(NamedTuple):
    """Values of exactly ``kind``, strictly between ``above`` and ``below`` and matched by ``match``.

    (None: no bound, no match needed.) Such values are their own JSON form: the
    converters return them unchanged, so the mapper tests for them inline and calls no
    converter (``connector.mapping``).
    """

    kind: type
    above: float | None = None
    below: float | None = None
    match: Callable[[Any], object] | None = None
    """A C function (a compiled pattern's fullmatch) truthy for the values passed on."""


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A column's parsed type compiled for one epoch unit; built by ``column_type``.

    Constants and defaults go through ``convert`` too, once, when the config is loaded.
    """

    parsed: TimeplusType
    """The parsed type; ``str()`` gives its canonical spelling."""
    unit: str | None
    """Unit of epoch numbers read into date/time types (None: epoch numbers are refused)."""
    converters: tuple[Converter, Converter, Converter] = field(repr=False, compare=False)
    """The converter for values decoded at each ``Floats`` level, indexed by it.

    Each turns a source value into Timeplus's JSON form or raises ValueError with a reason;
    one that needs the literal of a float its level cannot vouch for raises InexactFloat.
    """
    nullable: bool
    """True when null is a value of the column (``nullable(T)``, also under low_cardinality)."""
    as_is: AsIs | None
    """Which values are already in their JSON form (the converters return them unchanged)."""
    null_reason: str
    """The reason given for a null in this column when it is not nullable."""
    wants_digits: bool
    """Its values are mostly float literals whose digits matter (decimals): check every message."""
    passes_numbers_on: bool
    """It passes decoded numbers on unconverted (``json``): decode every literal exactly."""

    @property
    def convert(self) -> Converter:
        """The converter of exactly known values (constants, defaults, exactly decoded messages)."""
        return self.converters[Floats.EXACT]

    def __str__(self) -> str:
        return str(self.parsed)


def column_type(text: str, unit: str | None = None) -> ColumnType:
    """Parse a column's type and compile its converters; ValueError says what is wrong."""
    if unit is not None and unit not in EPOCH_UNITS:
        raise ValueError(f"unknown unit {unit!r} (expected one of {', '.join(EPOCH_UNITS)})")
    t = parse_type(text)
    null_reason = f"null for non-nullable column of type {t}"
    unchecked, checked, exact = (_converter(t, unit, null_reason, floats) for floats in Floats)
    return ColumnType(
        parsed=t,
        unit=unit,
        converters=(unchecked, checked, exact),
        nullable=is_nullable(t),
        as_is=_as_is(t),
        null_reason=null_reason,
        wants_digits=_anywhere(t, DECIMALS),
        passes_numbers_on=_anywhere(t, ("json",)),
    )


def _anywhere(t: TimeplusType, names: Iterable[str]) -> bool:
    return t.name in names or any(_anywhere(a, names) for a in t.args)


def _passthrough_type(t: TimeplusType) -> type | None:
    """The Python type whose values the converter of ``t`` returns unchanged, if any."""
    while t.name in ("nullable", "low_cardinality"):
        t = t.args[0]
    return _PASSTHROUGH.get(t.name)


def _as_is(t: TimeplusType) -> AsIs | None:
    while t.name in ("nullable", "low_cardinality"):
        t = t.args[0]
    same = _PASSTHROUGH.get(t.name)
    if same is not None:
        return AsIs(same)
    if t.name in INT_BITS:
        low, high = int_range(t.name)
        # Beyond the 64-bit JSON range integers go as quoted text: the converter decides.
        return AsIs(int, max(low, JSON_INT_MIN) - 1, min(high, JSON_INT_MAX) + 1)
    if t.name == "uuid":
        return AsIs(str, match=UUID_CANONICAL.fullmatch)
    if t.name == "float64":
        return AsIs(float, -math.inf, math.inf)  # also refuses NaN: no comparison holds
    if t.name == "float32":
        return AsIs(float, -FLOAT32_MAX, FLOAT32_MAX)
    return None


_SCALARS: Final[dict[str, Callable[[TimeplusType, str, Floats], Converter]]] = {
    **dict.fromkeys(INT_BITS, int_converter),
    "float32": float_converter,
    "float64": float_converter,
    **dict.fromkeys(DECIMALS, decimal_converter),
    "bool": bool_converter,
    "string": string_converter,
    "fixed_string": fixed_string_converter,
    "uuid": uuid_converter,
    "ipv4": ip_converter,
    "ipv6": ip_converter,
    **dict.fromkeys(ENUMS, enum_converter),
}


def _converter(t: TimeplusType, unit: str | None, null: str, floats: Floats) -> Converter:
    name = t.name
    if name == "nullable":
        inner = _converter(t.args[0], unit, null, floats)
        return lambda v: None if v is None else inner(v)
    if name == "low_cardinality":
        return _converter(t.args[0], unit, null, floats)
    if name == "date" or name == "date32":
        return date_converter(t, unit, null, floats)
    if name == "datetime" or name == "datetime64":
        return datetime_converter(t, unit, null, floats)
    factory = _SCALARS.get(name)
    if factory is not None:
        return factory(t, null, floats)
    if name == "json":
        return json_converter(t, null)
    element_null = "null in a non-nullable element of type {}"
    if name == "array":
        element = _converter(t.args[0], unit, element_null.format(t.args[0]), floats)
        same = _passthrough_type(t.args[0]) if not is_nullable(t.args[0]) else None
        return array_converter(t, element, null, same if same is not dict else None)
    if name == "map":
        key = _converter(t.args[0], unit, "null map key", floats)
        return map_converter(t, key, _converter(t.args[1], unit, element_null.format(t.args[1]), floats), null)
    if name == "tuple":
        elements = tuple(_converter(a, unit, element_null.format(a), floats) for a in t.args)
        return tuple_converter(t, elements, null)
    raise ValueError(f"no converter for type {t}")  # parse_type admits nothing else
