"""Topic names and ``topic_pattern`` regexes that Python and librdkafka read alike.

A pattern is used twice: librdkafka subscribes to the topics it matches, and the
pipeline routes each message by matching its topic with Python's ``re``. The two
engines differ: librdkafka compiles patterns with the C library's POSIX extended
regex (glibc's in the Linux wheels; musl's, macOS's or its bundled one elsewhere),
where ``\\d`` is the letter ``d``, ``(?:...)`` and lazy quantifiers do not exist and a
backslash inside ``[...]`` is a backslash. A topic matched by one engine and not the
other is either never read or read with no mapping.

So a pattern must keep to a small syntax on which every such engine agrees over the
characters a Kafka topic name can hold (``[A-Za-z0-9._-]``): those characters,
``\\.``, ``.``, bracket expressions of them with ranges inside one of ``a-z``,
``A-Z``, ``0-9``, groups ``( )``, alternation ``|``, the quantifiers ``* + ?``
and ``{n}``, ``{n,}``, ``{n,m}``, ``^`` opening and ``$`` closing an alternative.
Everything else is refused with a hint at the portable spelling. A group that holds a
repeat or an alternative takes no repeat but ``?``: Python's backtracking engine needs
exponential time for ``(a+)*`` or ``(a|ab)*`` on a topic that almost matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Protocol

#: The characters of a legal Kafka topic name (Kafka's ``Topic.validate``).
TOPIC_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_TOPIC_LENGTH: Final = 249
_MAX_REPEAT: Final = 255
_HINTS: Final = {
    "d": "write [0-9]",
    "w": "write [A-Za-z0-9_]",
    "-": "write - without the backslash",
    "_": "write _ without the backslash",
}
_NAMED_CLASS: Final = re.compile(r"\[:[a-z]+:\]")
_REPEAT: Final = re.compile(r"\{(\d{1,3})(,(\d{1,3})?)?\}")
_RANGES: Final = ("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789")


def topic_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Kafka topic, or None when it can."""
    if name in (".", ".."):
        return f"{name!r} is not a valid topic name"
    if len(name) > MAX_TOPIC_LENGTH:
        return f"a topic name has at most {MAX_TOPIC_LENGTH} characters, got {len(name)}"
    bad = sorted({c for c in name if c not in TOPIC_CHARS})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        return f"a topic name holds only letters, digits, '.', '_' and '-', not {shown}"
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why Python and librdkafka might read ``pattern`` differently, or None when they agree."""
    try:
        _Checker(pattern).check()
    except _Refused as exc:
        return str(exc)
    return None


def subscription_entry(pattern: str) -> str:
    """The form librdkafka subscribes with: a leading ``^`` marks a regex, so one is added when absent.

    ``^.*`` in front keeps Python's unanchored ``re.search`` meaning.
    """
    return pattern if pattern.startswith("^") else "^.*" + pattern


class Routed(Protocol):
    """What dead_letter_loops needs of a mapping (MappingConfig has it)."""

    @property
    def where(self) -> str: ...
    @property
    def on_error(self) -> str: ...
    @property
    def dlq_topic(self) -> str | None: ...
    def matches(self, topic: str) -> bool: ...


def dead_letter_loops(mappings: Sequence[Routed]) -> list[tuple[str, str]]:
    """``(path, problem)`` for each way a dead letter can come back to the mapping that sent it.

    A mapping that reads its own ``dlq_topic`` (``topic_pattern: '^orders\\..*'`` with
    ``dlq_topic: orders.dlq``) would take one bad message round forever, gaining headers
    on each pass; so would two mappings that dead-letter into each other's topics. A
    mapping that reads another's dead letters and does not dead-letter itself (a stream
    of dead letters) is fine. Each loop is reported once, at its first mapping.
    """
    sends = [i for i, m in enumerate(mappings) if m.on_error == "dlq" and m.dlq_topic is not None]
    edges = {i: [j for j in sends if mappings[j].matches(mappings[i].dlq_topic or "")] for i in sends}
    problems = []
    for start in sends:
        path = _path_back(start, edges)
        if path is None or min(path) != start:
            continue
        steps = [mappings[start].where]
        for i, j in zip(path, [*path[1:], start], strict=True):
            steps.append(f"{mappings[i].dlq_topic!r}, read by {mappings[j].where}")
        problems.append(
            (
                f"{mappings[start].where}.dlq_topic",
                "dead letters would loop forever: "
                + " -> ".join(steps)
                + "; choose a dead-letter topic that no dead-lettering mapping reads (e.g. dlq.<topic>)",
            )
        )
    return problems


def _path_back(start: int, edges: dict[int, list[int]]) -> list[int] | None:
    """Mappings start, a, b, ... whose dead letters lead back to ``start`` (breadth first: the shortest)."""
    parents: dict[int, int] = {}
    frontier = [start]
    while frontier:
        following = []
        for i in frontier:
            for j in edges[i]:
                if j == start:
                    path = [i]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                if j not in parents:
                    parents[j] = i
                    following.append(j)
        frontier = following
    return None


class _Refused(Exception):
    pass


class _Checker:
    """A recursive-descent reader of the portable syntax; raises _Refused at the first departure."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0
        #: Repeats and alternatives read so far: a group that holds either is not repeated.
        self.branchings = 0

    def check(self) -> None:
        if not self.text:
            self.refuse("an empty pattern matches every topic; write .* if that is meant")
        self.alternation()
        if self.at < len(self.text):
            # Only an unbalanced ')' stops an alternation early.
            self.refuse("')' closes no group")

    def refuse(self, message: str) -> None:
        raise _Refused(f"{message} (position {self.at}); {_PORTABLE}")

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def alternation(self) -> None:
        self.branch()
        while self.peek() == "|":
            self.at += 1
            self.branchings += 1
            self.branch()

    def branch(self) -> None:
        if self.peek() in ("|", ")", ""):
            self.refuse("an empty alternative")
        if self.peek() == "^":
            self.at += 1
        pieces = 0
        while self.peek() not in ("|", ")", ""):
            if self.peek() == "$":
                self.at += 1
                if self.peek() not in ("|", ")", ""):
                    self.refuse("'$' must end an alternative")
                return
            if self.peek() == "^":
                self.refuse("'^' must open an alternative")
            branching_group = self.atom()
            self.quantifier(branching_group)
            pieces += 1
        if pieces == 0 and self.text[self.at - 1 : self.at] == "^":
            return  # "^" alone (as in "^|x") matches everywhere, alike in both engines

    def atom(self) -> bool:
        """Read one atom; True when it is a group holding a repeat or an alternative."""
        char = self.peek()
        if char in TOPIC_CHARS or char == ".":
            self.at += 1
        elif char == "\\":
            self.escape()
        elif char == "[":
            self.bracket()
        elif char == "(":
            self.at += 1
            if self.peek() == "?":
                self.refuse("(?...) groups are Python's only; write a plain group ( )")
            before = self.branchings
            self.alternation()
            if self.peek() != ")":
                self.refuse("'(' is not closed")
            self.at += 1
            return self.branchings > before
        elif char in "*+?{":
            self.refuse(f"{char!r} repeats nothing")
        else:
            self.refuse(f"{char!r} cannot appear in a Kafka topic name")
        return False

    def escape(self) -> None:
        following = self.text[self.at + 1 : self.at + 2]
        if following == ".":
            self.at += 2
            return
        hint = _HINTS.get(following, "only \\. is read alike by both engines")
        self.refuse(f"\\{following} is not portable: {hint}")

    def bracket(self) -> None:
        start = self.at
        if _NAMED_CLASS.match(self.text, self.at + 1):
            self.refuse("[:class:] is POSIX only; list the characters or ranges")
        self.at += 1
        if self.peek() == "^":
            self.at += 1
        items = 0
        while self.peek() != "]" or items == 0:
            char = self.peek()
            if char == "":
                self.at = start
                self.refuse("'[' is not closed")
            if char == "\\":
                self.refuse("a backslash inside [...] is a backslash to POSIX and an escape to Python")
            if char not in TOPIC_CHARS:
                self.refuse(f"{char!r} inside [...] cannot appear in a Kafka topic name")
            self.at += 1
            if char == "-" and items > 0 and self.peek() != "]":
                self.refuse("'-' inside [...] must be first, last, or between the ends of a range")
            if self.peek() == "-" and self.text[self.at + 1 : self.at + 2] not in ("]", ""):
                low, high = char, self.text[self.at + 1]
                if not _same_class(low, high) or low > high:
                    self.refuse(f"range {low}-{high} is not within one of a-z, A-Z, 0-9")
                self.at += 2
            items += 1
        self.at += 1

    def quantifier(self, branching_group: bool = False) -> None:
        char = self.peek()
        if branching_group and char in ("*", "+", "{"):
            # Python's backtracking engine takes exponential time on (a+)* or (a|ab)* against a
            # topic that almost matches: routing would hang on it.
            self.refuse("a group holding a repeat or '|' may only be followed by '?' (nested repeats backtrack)")
        if char in ("*", "+", "?"):
            self.branchings += 1
            self.at += 1
        elif char == "{":
            match = _REPEAT.match(self.text, self.at)
            if match is None:
                self.refuse("'{' must start {n}, {n,} or {n,m}")
                return
            low = int(match.group(1))
            high = int(match.group(3)) if match.group(3) else None
            if low > _MAX_REPEAT or (high is not None and (high > _MAX_REPEAT or high < low)):
                self.refuse(f"repeat counts are 0 to {_MAX_REPEAT}, the first not above the second")
            self.branchings += 1
            self.at = match.end()
        else:
            return
        if self.peek() in ("*", "+", "?", "{"):
            self.refuse("a repeat cannot be repeated (lazy and possessive forms are Python's only)")


def _same_class(low: str, high: str) -> bool:
    return any(low in chars and high in chars for chars in _RANGES)


_PORTABLE: Final = "Python and librdkafka agree only on: letters digits _ - \\. . [...] ( | ) * + ? {n,m} ^ $"
