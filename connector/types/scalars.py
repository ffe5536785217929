"""Text-like and other scalar columns: bool, string, fixed_string, uuid, ipv4/ipv6, enum.

* string: text as it is; other JSON values as their JSON text, numbers with the digits of
  their literal.
* uuid, ipv4, ipv6: the common spelling is checked and passed on as it is (≤ 1 µs);
  other spellings go through the stdlib and are sent in canonical form.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from decimal import Decimal
from typing import Any, Final

import orjson

from connector.exact_json import Floats, InexactFloat, encode_exact
from connector.types.grammar import TimeplusType
from connector.types.values import Converter, show, utf8


def bool_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """bool: true/false, 1/0, and their text."""
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


def enum_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """enum8 / enum16: a name, or its number; sent as the name."""
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


def _holds_float(v: Any) -> bool:
    if type(v) is float:
        return True
    if type(v) is dict:
        return any(_holds_float(x) for x in v.values())
    if type(v) is list:
        return any(_holds_float(x) for x in v)
    return False


def text_of(v: Any, type_name: str, null: str, floats: Floats) -> str:
    """Any JSON value as the text a string column stores: its JSON spelling for non-strings.

    Numbers keep the digits of their literal (an int of any size, a Decimal as written).
    """
    if isinstance(v, str):
        return v
    if v is None:
        raise ValueError(null)
    if isinstance(v, bytes):
        return utf8(v)
    kind = type(v)
    if kind is int:
        return str(v)
    if kind is Decimal:
        return str(v)
    if kind is float and v - v != 0.0:
        raise ValueError(f"{show(v)} is not a valid {type_name}")
    try:
        if floats is not Floats.EXACT and _holds_float(v):
            raise InexactFloat
    except RecursionError:
        raise ValueError(f"{show(v)} is nested too deeply for {type_name}") from None
    try:
        return encode_exact(v).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise ValueError(f"{show(v)} cannot be written as {type_name}: {exc}") from None


def string_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """string: text as it is; other JSON values as their JSON text."""
    type_name = str(t)

    def convert(v: Any) -> Any:
        if type(v) is str:
            return v
        return text_of(v, type_name, null, floats)

    return convert


def fixed_string_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """fixed_string(N): text of at most N UTF-8 bytes."""
    type_name, length = str(t), t.length or 0

    def convert(v: Any) -> Any:
        text = v if type(v) is str else text_of(v, type_name, null, floats)
        if len(text) <= length and text.isascii():
            return text
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > length:
            raise ValueError(f"{show(text)} is too long for {type_name}: {size} bytes")
        return text

    return convert


#: ``[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}``, spelt so that ``re`` checks it
#: in 3/5 of the time: 36 hex digits or dashes, and dashes exactly where they belong. The
#: possessive counts (``{8}+``) match the same text without ``re``'s backtracking
#: machinery (measured: 60 ns less per value in the row builder, which calls this
#: pattern inline; a Python function doing the same test with str methods costs more).
UUID_CANONICAL: Final = re.compile(r"(?=[-0-9a-f]{36}+\Z)[^-]{8}+-[^-]{4}+-[^-]{4}+-[^-]{4}+-[^-]{12}+")
_UUID_TEXT: Final = re.compile(
    r"([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})"
)


def uuid_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """uuid: 36-character lower-case text (also read: upper case, no dashes, braces-free)."""
    canonical = UUID_CANONICAL.fullmatch

    def slow(v: Any) -> str:
        if isinstance(v, bytes):
            v = utf8(v)
        if isinstance(v, str):
            match = _UUID_TEXT.fullmatch(v.strip())
            if match is not None:
                return "-".join(match.groups()).lower()
        if v is None:
            raise ValueError(null)
        raise ValueError(f"{show(v)} is not a valid uuid")

    def convert(v: Any) -> Any:
        if type(v) is str and canonical(v) is not None:
            return v
        return slow(v)

    return convert


def ip_converter(t: TimeplusType, null: str, floats: Floats) -> Converter:
    """ipv4 / ipv6: dotted quads and IPv6 text; an IPv4 address in ipv6 is IPv4-mapped."""
    name = t.name
    v6 = name == "ipv6"
    family = socket.AF_INET6 if v6 else socket.AF_INET
    pton, ntop = socket.inet_pton, socket.inet_ntop

    def parse(v: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if type(v) is int and 0 <= v < (1 << (128 if v6 else 32)):
            return ipaddress.IPv6Address(v) if v6 else ipaddress.IPv4Address(v)
        if not isinstance(v, str) or "%" in v:  # no scoped addresses: Proton has no scope
            raise ValueError
        if not v6:
            return ipaddress.IPv4Address(v)
        try:
            return ipaddress.IPv6Address(v)
        except ValueError:
            return ipaddress.IPv6Address(f"::ffff:{ipaddress.IPv4Address(v)}")

    def slow(v: Any) -> str:
        if v is None:
            raise ValueError(null)
        if isinstance(v, bytes):
            v = utf8(v)
        try:
            return str(parse(v.strip() if isinstance(v, str) else v))
        except ValueError:
            raise ValueError(f"{show(v)} is not a valid {name}") from None

    # inet_pton accepts only text ipaddress accepts too (no leading zeros, no spaces);
    # the slow path decides the rest. It raises OSError, or ValueError for text that is
    # no C string (NUL, a lone surrogate); other non-ASCII text reaches it as UTF-8,
    # whose bytes it refuses.
    if v6:

        def convert(v: Any) -> Any:
            if type(v) is str:
                try:
                    return ntop(family, pton(family, v))  # RFC 5952's form
                except (OSError, ValueError):
                    pass
            return slow(v)

    else:

        def convert(v: Any) -> Any:
            if type(v) is str:
                try:
                    pton(family, v)
                except (OSError, ValueError):
                    return slow(v)
                return v  # dotted quads without leading zeros: already canonical
            return slow(v)

    return convert
