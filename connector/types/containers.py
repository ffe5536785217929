"""Converters of container types: array, map, tuple, and json objects."""

from __future__ import annotations

from typing import Any

import orjson

from connector.types.grammar import TimeplusType
from connector.types.values import Converter, show


def json_converter(t: TimeplusType, null: str) -> Converter:
    def convert(v: Any) -> Any:
        if type(v) is dict:  # an object only: Proton's json column refuses arrays
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


def _at(where: str, exc: ValueError) -> ValueError:
    """Prefix a nested reason with the index or key it came from: ``[3][1]: ...``."""
    reason = str(exc)
    return ValueError(f"{where}{reason}" if reason.startswith("[") else f"{where}: {reason}")


def array_converter(t: TimeplusType, element: Converter, null: str, same: type | None = None) -> Converter:
    """array(T); ``same`` is the type of elements already in T's JSON form (str for strings)."""

    def convert(v: Any) -> list[Any]:
        if type(v) is not list and type(v) is not tuple:
            if v is None:
                raise ValueError(null)
            raise ValueError(f"expected a list for {t}, got {show(v)}")
        if type(v) is list:
            if same is str:
                try:
                    "".join(v)  # the quickest test that every element is text (in C)
                except TypeError:
                    pass
                else:
                    return v  # array(string) of strings: passed on as decoded
            elif same is not None and set(map(type, v)) <= {same}:
                return v
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


def map_converter(t: TimeplusType, key: Converter, value: Converter, null: str) -> Converter:
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


def tuple_converter(t: TimeplusType, elements: tuple[Converter, ...], null: str) -> Converter:
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
