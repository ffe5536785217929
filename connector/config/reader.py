"""Reading YAML scalars and tables: each check records a problem under its path and goes on."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from connector.config.env import SubstitutionError, substitute
from connector.config.model import Secret

#: Checks one value found at a path; None when it is invalid (the problem is recorded).
Check = Callable[[str, Any], Any]
#: What ``interpolate`` gives for a value whose ``${...}`` failed; its problems are recorded already.
FAILED: Final = object()

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


class Reader:
    """Holds the environment for ``${VAR}`` and the problems found so far."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(f"{path}: {message}")

    def given(self, path: str, section: Mapping[str, Any], checks: Mapping[str, Check]) -> dict[str, Any]:
        """The checked values of the keys ``section`` sets: keys left out keep the model's defaults."""
        found: dict[str, Any] = {}
        for key, check in checks.items():
            if key in section:
                value = check(join(path, key), section[key])
                if value is not None:
                    found[key] = value
        return found

    def interpolate(self, path: str, value: Any) -> Any:
        """``value`` with its ``${...}`` filled in if it is a string; FAILED (problems recorded) if they cannot be."""
        if not isinstance(value, str):
            return value
        try:
            return substitute(value, self.env)
        except SubstitutionError as exc:
            for problem in exc.problems:
                self.fail(path, problem)
            return FAILED

    def string(self, path: str, value: Any, *, allow_empty: bool = False) -> str | None:
        """A string (numbers are taken as their text)."""
        value = self.interpolate(path, value)
        if value is FAILED:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(path, f"expected a string, got {kind(value)}")
            return None
        text = str(value)
        if not text and not allow_empty:
            self.fail(path, "must not be empty")
            return None
        return text

    def optional_string(self, path: str, value: Any) -> str | None:
        """A string, or None when absent or empty."""
        return None if value in (None, "") else self.string(path, value)

    def number(self, path: str, value: Any, *, minimum: float, integer: bool = False) -> float | None:
        """A number (or numeric text) of at least ``minimum``."""
        value = self.interpolate(path, value)
        if value is FAILED:
            return None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value) if integer else float(value)
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            self.fail(path, f"expected {'an integer' if integer else 'a number'}, got {show(value)}")
            return None
        if value < minimum:
            self.fail(path, f"must be at least {minimum:g}, got {value}")
            return None
        return float(value)

    def integer(self, path: str, value: Any, *, minimum: int, maximum: int | None = None) -> int | None:
        """An integer (or integer text) in ``minimum..maximum``."""
        found = self.number(path, value, minimum=minimum, integer=True)
        if found is not None and maximum is not None and found > maximum:
            self.fail(path, f"must be at most {maximum}, got {int(found)}")
            return None
        return None if found is None else int(found)

    def boolean(self, path: str, value: Any) -> bool | None:
        """true or false (also as text)."""
        value = self.interpolate(path, value)
        if value is FAILED:
            return None
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {show(value)}")
            return None
        return value

    def size(self, path: str, value: Any) -> int | None:
        """A positive byte count: a number, or text such as ``4MiB``."""
        value = self.interpolate(path, value)
        if value is FAILED:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        match = _SIZE.match(value) if isinstance(value, str) else None
        if match is None or float(match.group(1)) <= 0:
            self.fail(path, f"expected a positive size such as 4MiB or 1048576, got {show(value)}")
            return None
        unit = (match.group(2) or "b").lower()
        return int(float(match.group(1)) * _SIZE_UNITS[unit])

    def secret(self, path: str, value: Any, *, header: bool = False) -> Secret | None:
        """A Secret without surrounding whitespace, or None when absent or empty; never echoed in a problem.

        A secret read from a mounted file often ends in a newline that is no part of it
        (and no HTTP header value can begin or end with whitespace). ``header``: the
        value is sent as an HTTP header value, so it must be visible ASCII.
        """
        value = self.interpolate(path, value)
        if value is FAILED or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(path, f"expected a string, got {kind(value)}")
            return None
        text = str(value).strip()
        if not text:
            return None
        if header and not all(" " <= c <= "~" for c in text):
            # Neither the value nor where in it: only that it cannot be sent.
            self.fail(path, "holds a control or non-ASCII character, which an HTTP header cannot carry")
            return None
        return Secret(text)

    def choice(self, path: str, value: Any, allowed: tuple[str, ...]) -> str | None:
        """One of ``allowed``."""
        text = self.string(path, value)
        if text is not None and text not in allowed:
            self.fail(path, f"expected one of {', '.join(allowed)}, got {text!r}")
            return None
        return text

    def table(self, path: str, value: Any, known: set[str] | None) -> dict[str, Any]:
        """A mapping whose keys are all ``known`` (any keys when None); {} when it is not one."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {kind(value)}")
            return {}
        if known is not None:
            for key in value:
                if key not in known:
                    self.fail(join(path, key), f"unknown key (expected one of: {', '.join(sorted(known))})")
        return value


def default(model: type[Any], name: str) -> Any:
    """The default of field ``name`` of a model dataclass, for checks that depend on it."""
    for f in dataclasses.fields(model):
        if f.name == name:
            return f.default
    raise KeyError(name)


def join(path: str, key: Any) -> str:
    """The path of ``key`` inside ``path``; the top level has no prefix."""
    return str(key) if path == "<top>" else f"{path}.{key}"


def kind(value: Any) -> str:
    """What a YAML value is, for a problem: a mapping, a list, nothing, or its Python type."""
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), type(value).__name__)


def show(value: Any) -> str:
    """A value as a problem quotes it, cut at 60 characters."""
    if isinstance(value, dict | list) or value is None:
        return kind(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
