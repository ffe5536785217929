"""One converter per column type: a decoded JSON value to Timeplus's JSON form, or ValueError.

``make_converter(t, unit, floats)`` compiles a parsed type into one small function. It
returns the value Timeplus reads for the column (always something orjson writes: int
within 64 bits, float, str, bool, list, dict; ``json`` columns pass objects on as they
were decoded) or raises ``ValueError`` with a reason a user can act on, never another
exception. A converter that needs the literal of a float it cannot trust raises
``exact_json.InexactFloat`` (see ``Floats``).

Choices where Timeplus itself would guess or silently clip:

* Integer epochs need an explicit ``unit`` (Proton guesses s/ms/us/ns from the size).
* Sub-second digits beyond a column's precision are cut, as Proton does.
* Decimals are sent as exact strings; too many digits are refused, never rounded.
* Integers, dates and datetimes outside the column's range are refused, never clamped.
* ``null`` for a non-nullable type is refused (Proton would store the type's default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from connector.exact_json import Floats
from connector.fast_datetimes import date_converter, datetime_converter, show
from connector.fast_scalars import (
    decimal_converter,
    fixed_string_converter,
    float_converter,
    int_converter,
    ip_converter,
    string_converter,
    utf8,
    uuid_converter,
)
from connector.types import TimeplusType

Converter = Callable[[Any], Any]

_INTS: Final = frozenset(f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64, 128, 256))
_DECIMALS: Final = frozenset(("decimal", "decimal32", "decimal64", "decimal128", "decimal256"))


def make_converter(t: TimeplusType, unit: str | None = None, floats: Floats = Floats.UNCHECKED) -> Converter:
    """Compile a function turning a source value into Timeplus's JSON form for ``t``."""
    return _converter(t, unit, f"null for non-nullable column of type {t}", floats)


def wants_digits(t: TimeplusType) -> bool:
    """Whether a column of type ``t`` usually needs the digits of float literals (decimals).

    A mapping with such a column has every message checked for literals that orjson
    would alter (``Floats.CHECKED``) instead of finding them one at a time.
    """
    return t.name in _DECIMALS or any(wants_digits(a) for a in t.args)


def passes_numbers_on(t: TimeplusType) -> bool:
    """Whether a column of type ``t`` passes decoded numbers on unconverted (``json``).

    Such a column gets its messages decoded with every literal exact (``decode_json``);
    so do untyped columns, which pass everything on.
    """
    return t.name == "json" or any(passes_numbers_on(a) for a in t.args)


def _converter(t: TimeplusType, unit: str | None, null: str, floats: Floats) -> Converter:
    name = t.name
    if name == "nullable":
        inner = _converter(t.args[0], unit, null, floats)
        return lambda v: None if v is None else inner(v)
    if name == "low_cardinality":
        return _converter(t.args[0], unit, null, floats)
    if name in _INTS:
        return int_converter(name, null, floats)
    if name in ("float32", "float64"):
        return float_converter(name, null)
    if name in _DECIMALS:
        return decimal_converter(str(t), t.precision or 0, t.scale or 0, null, floats)
    if name == "string":
        return string_converter(name, null, floats)
    if name == "fixed_string":
        return fixed_string_converter(str(t), t.length or 0, null, floats)
    if name in ("date", "date32"):
        return date_converter(name, unit, null, floats)
    if name in ("datetime", "datetime64"):
        return datetime_converter(name, t.precision or 0, t.tz, unit, null, floats)
    if name == "uuid":
        return uuid_converter(null)
    if name in ("ipv4", "ipv6"):
        return ip_converter(name, null)
    if name == "bool":
        return _bool_converter(null)
    if name in ("enum8", "enum16"):
        return _enum_converter(t, null)
    if name == "json":
        return _json_converter(null)
    element_null = "null in a non-nullable element of type {}"
    if name == "array":
        element = _converter(t.args[0], unit, element_null.format(t.args[0]), floats)
        return _array_converter(t, element, null)
    if name == "map":
        key = _converter(t.args[0], unit, "null map key", floats)
        value = _converter(t.args[1], unit, element_null.format(t.args[1]), floats)
        return _map_converter(t, key, value, null)
    if name == "tuple":
        elements = tuple(_converter(a, unit, element_null.format(a), floats) for a in t.args)
        return _tuple_converter(t, elements, null)
    raise ValueError(f"no converter for type {t}")  # parse_type admits nothing else


# -- bool, enum, json -------------------------------------------------------------


def _bool_converter(null: str) -> Converter:
    words = {"true": True, "false": False, "1": True, "0": False}

    def convert(v: Any) -> bool:
        if v is True or v is False:
            return v
        if type(v) is int and (v == 0 or v == 1):
            return v == 1
        if isinstance(v, bytes):
            v = utf8(v)
        if isinstance(v, str):
            found = words.get(v.strip().lower())
            if found is not None:
                return found
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{show(v)} is not a valid bool (expected true, false, 1 or 0)")

    return convert


def _enum_converter(t: TimeplusType, null: str) -> Converter:
    names = {n for n, _ in t.members}
    by_number = {v: n for n, v in t.members}

    def convert(v: Any) -> str:
        if isinstance(v, bytes):
            v = utf8(v)
        if isinstance(v, str) and v in names:
            return v
        if type(v) is int and v in by_number:
            return by_number[v]
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{show(v)} is not a value of {t}")

    return convert


def _json_converter(null: str) -> Converter:
    def convert(v: Any) -> Any:
        if type(v) is dict:
            return v
        if v is None:
            raise ValueError(null)
        if isinstance(v, str | bytes):
            try:
                parsed = orjson.loads(v)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        raise ValueError(f"expected a JSON object for json, got {show(v)}")

    return convert


# -- containers ---------------------------------------------------------------


def _at(where: str, exc: ValueError) -> ValueError:
    """Prefix a nested reason with the index or key it came from: ``[3][1]: ...``."""
    reason = str(exc)
    return ValueError(f"{where}{reason}" if reason.startswith("[") else f"{where}: {reason}")


def _array_converter(t: TimeplusType, element: Converter, null: str) -> Converter:
    def convert(v: Any) -> list[Any]:
        if type(v) is not list and type(v) is not tuple:
            if v is None:
                raise ValueError(null)
            raise ValueError(f"expected a list for {t}, got {show(v)}")
        try:
            return [element(x) for x in v]
        except ValueError:
            pass
        # Convert again, one by one, only to find the index to name.
        for i, x in enumerate(v):
            try:
                element(x)
            except ValueError as exc:
                raise _at(f"[{i}]", exc) from None
        raise AssertionError("unreachable")

    return convert


def _map_converter(t: TimeplusType, key: Converter, value: Converter, null: str) -> Converter:
    def convert(v: Any) -> dict[str, Any]:
        if type(v) is not dict:
            if v is None:
                raise ValueError(null)
            raise ValueError(f"expected an object for {t}, got {show(v)}")
        out: dict[str, Any] = {}
        for k, x in v.items():
            try:
                converted = key(k)
            except ValueError as exc:
                raise ValueError(f"key {show(k)}: {exc}") from None
            try:
                # JSON object keys are strings; Proton reads them back as the key type.
                out[converted if type(converted) is str else str(converted)] = value(x)
            except ValueError as exc:
                raise _at(f"[{show(k)}]", exc) from None
        return out

    return convert


def _tuple_converter(t: TimeplusType, elements: tuple[Converter, ...], null: str) -> Converter:
    fields = t.fields
    count = len(elements)

    def convert(v: Any) -> list[Any]:
        items: Any
        if type(v) is dict and fields:
            missing = [f for f in fields if f not in v]
            if missing:
                raise ValueError(f"missing field {missing[0]!r} for {t}")
            items = [v[f] for f in fields]
        elif type(v) is list or type(v) is tuple:
            items = v
            if len(items) != count:
                raise ValueError(f"expected {count} elements for {t}, got {len(items)}")
        elif v is None:
            raise ValueError(null)
        else:
            raise ValueError(f"expected a list for {t}, got {show(v)}")
        out: list[Any] = []
        for i, (element, x) in enumerate(zip(elements, items, strict=True)):
            try:
                out.append(element(x))
            except ValueError as exc:
                raise _at(f"[{fields[i]!r}]" if fields else f"[{i}]", exc) from None
        return out

    return convert
