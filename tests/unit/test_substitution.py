"""``${...}`` substitution: the POSIX forms mean what the POSIX shell makes of them.

The oracle is the system's ``sh`` itself (``sh -u``: an unset plain ``${VAR}`` is an
error, as it is in a config), run on templates and environments Hypothesis generates.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config.env import SubstitutionError, substitute

NAMES = ["A", "B", "C", "EMPTY"]
# Text that means the same inside sh's double quotes and in a config value.
LITERAL = st.text(alphabet="xyz019 .:/-_@,=+?", max_size=6)
VALUE = st.text(alphabet="vw29 .:/-_${}?+", max_size=6)
OPERATORS = ["", ":-", "-", ":+", "+", ":?", "?"]


def templates() -> st.SearchStrategy[str]:
    def var(word: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.builds(
            lambda name, op, w: "${" + name + (op + w if op else "") + "}",
            st.sampled_from(NAMES),
            st.sampled_from(OPERATORS),
            word,
        )

    # Words nest substitutions: ${A:-${B:-x}} and deeper.
    word = st.recursive(LITERAL, lambda inner: st.builds("".join, st.lists(st.one_of(LITERAL, var(inner)), max_size=3)))
    return st.builds("".join, st.lists(st.one_of(LITERAL, var(word)), min_size=1, max_size=4))


environments = st.dictionaries(st.sampled_from(NAMES), VALUE)


def shell(template: str, env: dict[str, str]) -> str | None:
    """What ``sh -u`` prints for ``"template"``; None when it fails (unset, or ${VAR?})."""
    done = subprocess.run(
        ["sh", "-uc", f'printf %s "{template}"'], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout if done.returncode == 0 else None


@settings(max_examples=300, deadline=None)
@given(template=templates(), env=environments)
def test_substitution_agrees_with_the_posix_shell(template: str, env: dict[str, str]) -> None:
    expected = shell(template, env)
    if expected is None:
        with pytest.raises(SubstitutionError):
            substitute(template, env)
    else:
        assert substitute(template, env) == expected


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        ("${G-fallback}", {}, "fallback"),
        ("${G-fallback}", {"G": ""}, ""),
        ("${G:-fallback}", {"G": ""}, "fallback"),
        ("${A:-${B}}", {"B": "b"}, "b"),
        ("${A:-${B:-${C:-deep}}}", {}, "deep"),
        ("${A:-${UNSET}}", {"A": "a"}, "a"),  # a default that is not used is not evaluated
        ("${A:+on}", {"A": "x"}, "on"),
        ("id-${A}-${B:-2}", {"A": "1"}, "id-1-2"),
    ],
)
def test_forms_users_write(template: str, env: dict[str, str], expected: str) -> None:
    assert substitute(template, env) == expected


@pytest.mark.parametrize("text", ["pa$$word", "$A", "a$", "cost: 5$", "}{", "{}"])
def test_a_dollar_not_followed_by_a_brace_stays_as_it_is(text: str) -> None:
    # Unlike sh: configs never had $VAR or a $$ escape, and inline passwords hold '$'.
    assert substitute(text, {"A": "nope"}) == text


def test_a_value_from_the_environment_is_not_substituted_again() -> None:
    assert substitute("${A}", {"A": "${B}", "B": "b"}) == "${B}"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("${A:=x}", "unsupported form"),
        ("${#A}", "not followed by a variable name"),
        ("${A%.x}", "unsupported form"),
        ("${A/a/b}", "unsupported form"),
        ("${A:1:2}", "unsupported form"),
        ("${ A }", "not followed by a variable name"),
        ("${}", "not followed by a variable name"),
        ("${A", "not closed"),
        ("${A:-${B}", "not closed"),
        ("${UNSET}", "environment variable UNSET is not set"),
        ("${UNSET:?say why}", "environment variable UNSET is not set or empty: say why"),
        ("${E?}", "environment variable E is not set"),
    ],
)
def test_unsupported_or_unset_is_an_error(template: str, problem: str) -> None:
    with pytest.raises(SubstitutionError) as info:
        substitute(template, {"A": "a"})
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_every_unset_variable_is_named() -> None:
    with pytest.raises(SubstitutionError) as info:
        substitute("${X}:${Y}", {})
    assert info.value.problems == ["environment variable X is not set", "environment variable Y is not set"]


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet="QRSTUVqrstuv", min_size=12, max_size=20),
    bad=st.sampled_from(["${", "${A", "${A:-x", "${A:=x}", "${#A}", "${ A}", "${9}"]),
    after=st.text(alphabet="QRSTUV", max_size=5),
)
def test_an_error_never_shows_the_text_around_it(secret: str, bad: str, after: str) -> None:
    # The value may be a password written inline: name positions, never its text.
    with pytest.raises(SubstitutionError) as info:
        substitute(secret + bad + after, {})
    message: Any = str(info.value)
    assert secret not in message and secret[:8] not in message
