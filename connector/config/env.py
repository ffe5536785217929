"""``${VAR}`` in config values, filled from the environment with the POSIX shell's forms.

Supported, as ``sh`` and docker compose read them (``word`` may itself hold
substitutions, and is only evaluated when it is used)::

    ${VAR}          the value; an error when VAR is not set
    ${VAR:-word}    word when VAR is unset or empty
    ${VAR-word}     word when VAR is unset
    ${VAR:?word}    an error saying word when VAR is unset or empty
    ${VAR?word}     an error saying word when VAR is unset
    ${VAR:+word}    word when VAR is set and not empty, else empty
    ${VAR+word}     word when VAR is set, else empty

Any other form after ``${`` (``${VAR:=x}``, ``${#VAR}``, ``${VAR%x}``, an unclosed
``${``) is an error, never literal text: a config value that silently kept
``${GROUP-default}`` as text would, say, start a new consumer group. A ``$`` not
followed by ``{`` stays as it is (there was never an escape such as ``$$``, so a
password like ``pa$$word`` keeps its meaning), and a substituted value is not
scanned again. Error messages name variables and positions, never the text around
them: the text may be a password written inline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Operators after the name, longest first so that ``:-`` is not read as ``:`` then ``-``.
_OPERATORS: Final = (":-", ":?", ":+", "-", "?", "+")
FORMS: Final = "${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, ${VAR:+alt}, ${VAR+alt}"


class SubstitutionError(ValueError):
    """A value whose ``${...}`` cannot be read or evaluated; ``problems`` says each reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    operator: str | None  # None: plain ${VAR}
    word: tuple[str | _Var, ...]


_Parts: TypeAlias = tuple[str | _Var, ...]


def substitute(text: str, env: Mapping[str, str]) -> str:
    """``text`` with its substitutions replaced from ``env``; raise SubstitutionError."""
    if "${" not in text:
        return text
    parts, end = _parse(text, 0, nested=False)
    assert end == len(text)
    problems: list[str] = []
    result = _evaluate(parts, env, problems)
    if problems:
        raise SubstitutionError(problems)
    return result


def _parse(text: str, start: int, *, nested: bool) -> tuple[_Parts, int]:
    """Parts from ``start`` up to the end (or, nested, up to the ``}`` closing a word)."""
    parts: list[str | _Var] = []
    literal_start = position = start
    while position < len(text):
        char = text[position]
        if nested and char == "}":
            break
        if char == "$" and text.startswith("${", position):
            if position > literal_start:
                parts.append(text[literal_start:position])
            var, position = _parse_var(text, position)
            parts.append(var)
            literal_start = position
            continue
        position += 1
    if position > literal_start:
        parts.append(text[literal_start:position])
    return tuple(parts), position


def _parse_var(text: str, start: int) -> tuple[_Var, int]:
    """The substitution opening at ``text[start:]`` (``${``) and the position after its ``}``."""
    name_match = _NAME.match(text, start + 2)
    if name_match is None:
        raise SubstitutionError([f"'${{' at position {start} is not followed by a variable name (supported: {FORMS})"])
    name = name_match.group()
    position = name_match.end()
    if text.startswith("}", position):
        return _Var(name, None, ()), position + 1
    operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
    if operator is None:
        if position >= len(text):
            raise SubstitutionError([f"'${{{name}' at position {start} is not closed by '}}'"])
        raise SubstitutionError(
            [f"'${{{name}' at position {start} is followed by an unsupported form (supported: {FORMS})"]
        )
    word, position = _parse(text, position + len(operator), nested=True)
    if position >= len(text):
        raise SubstitutionError([f"'${{{name}{operator}' at position {start} is not closed by '}}'"])
    return _Var(name, operator, word), position + 1


def _evaluate(parts: _Parts, env: Mapping[str, str], problems: list[str]) -> str:
    return "".join(part if isinstance(part, str) else _value(part, env, problems) for part in parts)


def _value(var: _Var, env: Mapping[str, str], problems: list[str]) -> str:
    found = env.get(var.name)
    operator = var.operator
    if operator is None:
        if found is None:
            problems.append(f"environment variable {var.name} is not set")
            return ""
        return found
    # With a colon, an empty value counts as unset.
    missing = found is None or (operator.startswith(":") and found == "")
    kind = operator[-1]
    if kind == "-":
        return _evaluate(var.word, env, problems) if missing else found or ""
    if kind == "+":
        return "" if missing else _evaluate(var.word, env, problems)
    # "?": an error with the word as its message.
    if missing:
        message = _evaluate(var.word, env, problems)
        state = "is not set or empty" if operator == ":?" else "is not set"
        problems.append(f"environment variable {var.name} {state}" + (f": {message}" if message else ""))
        return ""
    return found or ""
