"""``${VAR}`` and ``${VAR:-default}`` in config values, filled from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with its variables filled in, and the names of those that are not set.

    ``${VAR:-default}`` takes the default when VAR is unset or empty; an unset ``${VAR}``
    becomes empty and is named, so the caller reports it.
    """
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is None or (found == "" and default is not None):
            if default is None:
                missing.append(name)
                return ""
            return default
        return found

    return _VAR.sub(fill, text), missing
