"""topic_pattern: what the validator accepts, Python's ``re`` and librdkafka's regex engine read alike.

librdkafka compiles subscription patterns with the C library's ``regcomp(REG_EXTENDED)``
(``rdregex.c``; the confluent-kafka Linux wheel imports glibc's ``regcomp``/``regexec``).
These tests call that same glibc function through ctypes, so every accepted pattern is
checked against the engine that really subscribes; tests/integration/test_topic_routing.py
checks a few through the real broker.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config.topics import dead_letter_loops, pattern_problem, subscription_entry, topic_name_problem

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_REG_EXTENDED, _REG_NOSUB = 1, 8


class _Regex(ctypes.Structure):
    _fields_ = [("opaque", ctypes.c_byte * 256)]  # larger than any libc's regex_t


def posix_search(pattern: str, topic: str) -> bool:
    """librdkafka's rd_regex_match: regcomp(REG_EXTENDED | REG_NOSUB), then regexec."""
    regex = _Regex()
    code = _LIBC.regcomp(ctypes.byref(regex), pattern.encode(), _REG_EXTENDED | _REG_NOSUB)
    assert code == 0, f"libc refused {pattern!r} (regcomp error {code})"
    try:
        return bool(_LIBC.regexec(ctypes.byref(regex), topic.encode(), 0, None, 0) == 0)
    finally:
        _LIBC.regfree(ctypes.byref(regex))


def python_search(pattern: str, topic: str) -> bool:
    """How the pipeline routes: MappingConfig.matches."""
    return re.search(pattern, topic) is not None


TOPIC_ALPHABET = "abAB019._-"
topics = st.text(alphabet=TOPIC_ALPHABET, min_size=1, max_size=12)
SAMPLE_TOPICS = [
    "a",
    "b",
    "ab",
    "ba",
    "aab",
    "a.b",
    "a-b",
    "a_b",
    "A",
    "AB",
    "0",
    "9",
    "a1",
    "ad",
    "-",
    ".",
    "_",
    "bbb",
]


def test_the_engines_do_disagree_where_the_validator_refuses() -> None:
    # The reason for the rule: glibc reads \d as the letter d.
    assert python_search(r"^a\d", "a1") and not posix_search(r"^a\d", "a1")
    assert posix_search(r"^a\d", "ad") and not python_search(r"^a\d", "ad")
    assert pattern_problem(r"^a\d") is not None


@pytest.mark.parametrize(
    "pattern",
    [r"^orders\..*", "^orders-(eu|us)-[0-9]+$", "logs", "x{2,3}", "^[^a-z]", "^a|b$", "(^a|b)c?", "^[-a_.]+$", "^"],
)
def test_common_patterns_are_accepted(pattern: str) -> None:
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        (r"^t\d+", "write [0-9]"),
        (r"^\w+$", "write [A-Za-z0-9_]"),
        (r"^a\-b", "without the backslash"),
        ("^(?:a|b)", "(?...) groups are Python's only"),
        ("^a.*?b", "lazy"),
        (r"^[\.]", "backslash inside [...]"),
        ("^a{,3}", "{n}, {n,} or {n,m}"),
        ("^(a|)", "empty alternative"),
        ("a^b", "'^' must open"),
        ("[[:digit:]]", "POSIX only"),
        ("^[A-z]", "not within one of"),
        ("^a b", "cannot appear in a Kafka topic name"),
        ("^(a", "not closed"),
        ("^a)", "closes no group"),
        ("*a", "repeats nothing"),
        ("^(a+)*$", "nested repeats"),
        ("^(a|ab)+$", "nested repeats"),
        ("^(a*){3}", "nested repeats"),
    ],
)
def test_non_portable_patterns_are_refused_with_a_hint(pattern: str, hint: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None and hint in problem, problem


def portable_patterns() -> st.SearchStrategy[str]:
    """Patterns built from the portable syntax (the validator must accept every one)."""
    char = st.sampled_from([*"abAB01_-", r"\.", "."])
    bracket = st.builds(
        lambda negate, items: "[" + ("^" if negate else "") + "".join(items) + "]",
        st.booleans(),
        st.lists(st.sampled_from(["a", "b", "a-b", "0-9", "A-Z", "_", "."]), min_size=1, max_size=3),
    )
    quantifier = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,}", "{0,2}"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        group = st.builds(lambda alts: "(" + "|".join(alts) + ")", st.lists(inner, min_size=1, max_size=3))
        # A group holding a repeat or '|' takes only '?' (the validator refuses nested repeats).
        piece = st.one_of(
            st.builds(lambda atom, q: atom + q, st.one_of(char, bracket), quantifier),
            st.builds(lambda atom, q: atom + q, group, st.sampled_from(["", "?"])),
        )
        return st.builds(lambda pieces: "".join(pieces), st.lists(piece, min_size=1, max_size=4))

    branch = st.recursive(st.builds(lambda a, q: a + q, st.one_of(char, bracket), quantifier), extend, max_leaves=8)
    anchored = st.builds(lambda hat, b, dollar: ("^" if hat else "") + b + ("$" if dollar else ""),
                         st.booleans(), branch, st.booleans())  # fmt: skip
    return st.builds(lambda alts: "|".join(alts), st.lists(anchored, min_size=1, max_size=3))


@settings(max_examples=200, deadline=None)
@given(pattern=portable_patterns(), names=st.lists(topics, max_size=20))
def test_portable_patterns_are_accepted_and_read_alike_by_python_and_libc(pattern: str, names: list[str]) -> None:
    assert pattern_problem(pattern) is None, pattern
    entry = subscription_entry(pattern)
    for topic in SAMPLE_TOPICS + names:
        assert python_search(pattern, topic) == posix_search(entry, topic), (pattern, entry, topic)


@settings(max_examples=1000, deadline=None)
@given(pattern=st.text(alphabet="abA01._-^$*+?|()[]{},\\dw:", min_size=1, max_size=14), names=st.lists(topics))
def test_whatever_the_validator_accepts_is_read_alike(pattern: str, names: list[str]) -> None:
    if pattern_problem(pattern) is not None:
        return
    entry = subscription_entry(pattern)
    for topic in SAMPLE_TOPICS + names:
        assert python_search(pattern, topic) == posix_search(entry, topic), (pattern, entry, topic)


@pytest.mark.parametrize("name", ["orders", "orders.dlq", "a_b-C.9", "x" * 249])
def test_legal_topic_names(name: str) -> None:
    assert topic_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("^orders", "not '^'"),
        ("a b", "not ' '"),
        ("x" * 250, "at most 249"),
        (".", "not a valid topic"),
        ("é", "not 'é'"),
    ],
)
def test_illegal_topic_names(name: str, problem: str) -> None:
    found = topic_name_problem(name)
    assert found is not None and problem in found, found


@dataclass(frozen=True)
class FakeMapping:
    where: str
    on_error: str
    dlq_topic: str | None
    topics: tuple[str, ...] = ()
    pattern: str | None = None

    def matches(self, topic: str) -> bool:
        return topic in self.topics or (self.pattern is not None and re.search(self.pattern, topic) is not None)


def test_a_mapping_reading_its_own_dead_letters_loops() -> None:
    loops = dead_letter_loops([FakeMapping("mappings[0]", "dlq", "orders.dlq", pattern=r"^orders\..*")])
    assert loops == [
        (
            "mappings[0].dlq_topic",
            "dead letters would loop forever: mappings[0] -> 'orders.dlq', read by mappings[0]; "
            "choose a dead-letter topic that no dead-lettering mapping reads (e.g. dlq.<topic>)",
        )
    ]


def test_a_loop_through_several_mappings_is_reported_once_at_its_first() -> None:
    mappings = [
        FakeMapping("mappings[0]", "dlq", "x", ("unrelated",)),
        FakeMapping("mappings[1]", "dlq", "b", ("a",)),
        FakeMapping("mappings[2]", "dlq", "c", ("b",)),
        FakeMapping("mappings[3]", "dlq", "a", ("c",)),
    ]
    loops = dead_letter_loops(mappings)
    assert [path for path, _ in loops] == ["mappings[1].dlq_topic"]
    assert (
        "mappings[1] -> 'b', read by mappings[2] -> 'c', read by mappings[3] -> 'a', read by mappings[1]" in loops[0][1]
    )


@pytest.mark.parametrize("on_error", ["skip", "fail"])
def test_reading_dead_letters_without_dead_lettering_again_is_no_loop(on_error: str) -> None:
    mappings = [
        FakeMapping("mappings[0]", "dlq", "a.dlq", ("a",)),
        FakeMapping("mappings[1]", on_error, "a.dlq" if on_error == "skip" else None, ("a.dlq",)),
    ]
    assert dead_letter_loops(mappings) == []
