"""YAML text to a plain tree whose mapping keys are the strings written in the file.

PyYAML's ``safe_load`` reads keys with YAML 1.1's rules: a column named ``on``,
``off``, ``yes`` or ``no`` becomes ``True``/``False`` and ``1`` becomes an int, and a
key given twice silently keeps its last value. Here every key is its text as written
and a repeated key is an error naming its path and both lines. Values keep YAML's
types (``true``, ``42``, ``null``), which the validator checks field by field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connector.errors import ConfigError
from connector.types.values import NUMBER_TEXT

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class _ExactLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a float with more digits than a float holds is a Decimal.

    A constant ``0.12345678901234567891`` for a ``decimal(38, 20)`` column keeps its digits.
    """


def _exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float | Decimal:
    number = loader.construct_yaml_float(node)
    text = str(node.value).replace("_", "")
    if not NUMBER_TEXT.fullmatch(text):  # .inf, .nan, 1:30 (base 60): no more digits to keep
        return number
    exact = Decimal(text)
    return number if number - number == 0.0 and Decimal(repr(number)) == exact else exact


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def load_yaml(text: str, source: str = "<config>") -> Any:
    """The tree of one YAML document; raise ConfigError listing every problem found."""
    loader = _ExactLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        reader = _Reader(loader, source)
        tree = reader.node(root, "<top>")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    finally:
        loader.dispose()
    if reader.problems:
        raise ConfigError(reader.problems)
    return tree


class _Reader:
    """Turns composed nodes into dicts, lists and scalars, noting problems with their paths."""

    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.problems: list[str] = []
        # An alias refers to a node already read: share its value (as PyYAML does),
        # so that nested aliases cannot expand exponentially.
        self.done: dict[int, Any] = {}

    def node(self, node: Node, path: str) -> Any:
        if id(node) in self.done:
            return self.done[id(node)]
        if isinstance(node, ScalarNode):
            value = self.loader.construct_object(node, deep=True)
            self.done[id(node)] = value
            return value
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            items: list[Any] = []
            self.done[id(node)] = items
            items.extend(self.node(item, f"{_at(path)}[{i}]") for i, item in enumerate(node.value))
            return items
        if isinstance(node, MappingNode) and node.tag == _MAP:
            table: dict[str, Any] = {}
            self.done[id(node)] = table
            self.mapping(node, path, table)
            return table
        self.fail(node, path, f"unsupported YAML tag {node.tag}")
        return None

    def mapping(self, node: MappingNode, path: str, table: dict[str, Any]) -> None:
        lines: dict[str, int] = {}
        merged: dict[str, Any] = {}
        written: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged |= self.merge(value_node, path)
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "a key must be plain text, not a list or mapping")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in lines:
                self.fail(key_node, _join(path, key), f"key given twice (first at line {lines[key]})")
                continue
            lines[key] = line
            written[key] = self.node(value_node, _join(path, key))
        # As in PyYAML: merged keys come first, and keys written in the mapping win over them.
        table.update(merged)
        table.update(written)

    def merge(self, node: Node, path: str) -> dict[str, Any]:
        """The keys a ``<<: *anchor`` (or ``<<: [*a, *b]``, the earlier winning) brings in."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            value = self.node(source, path)
            if not isinstance(value, dict):
                self.fail(source, path, "'<<' merges mappings only")
                continue
            merged |= value
        return merged

    def fail(self, node: Node, path: str, message: str) -> None:
        where = f"{self.source}:{node.start_mark.line + 1}"
        self.problems.append(f"{where}: {message}" if path == "<top>" else f"{where}: {path}: {message}")


def _join(path: str, key: str) -> str:
    return key if path == "<top>" else f"{path}.{key}"


def _at(path: str) -> str:
    return "" if path == "<top>" else path
