"""What every converter shares: how a reason shows a value, UTF-8 text, number texts."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

Converter = Callable[[Any], Any]


def show(v: Any) -> str:
    """A value as a reason shows it: JSON spelling for literals, repr for text."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list | tuple):
        return "a list"
    text = str(v) if isinstance(v, Decimal) else repr(v)  # a Decimal as its literal
    return text if len(text) <= 60 else text[:57] + "..."


def utf8(v: bytes) -> str:
    """``v`` as text; ValueError naming the first byte that is not UTF-8."""
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(utf8_reason(v, exc)) from None


def utf8_reason(v: bytes, exc: UnicodeDecodeError) -> str:
    """Why ``v`` is not UTF-8, naming the first bad byte and its position."""
    return f"not valid UTF-8 (byte 0x{v[exc.start]:02x} at position {exc.start}: {exc.reason})"


INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
