"""The repository's import graph, read from the source: what may import what, and no loops.

``connector`` is what ships, so it imports nothing of the rest; ``sandbox`` (broker harness,
emulator, demo) may use the connector but never its tests or the benchmark. Imports under
``TYPE_CHECKING`` and inside functions count too: a loop is a loop even when Python tolerates it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("connector", "sandbox", "tests", "bench")


def modules() -> dict[str, Path]:
    """Every module of the repository's packages by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the repository modules it imports anywhere in its source."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:  # relative: from the package, one level up per extra dot
                    base = package
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    source = ".".join(filter(None, (base, node.module)))
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    targets.add(full if full in known else resolve(source))
        graph[name] = {target for target in targets if target is not None and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def imports_between(graph: dict[str, set[str]], importer: str, imported: tuple[str, ...]) -> list[str]:
    top = {name: name.partition(".")[0] for name in graph}
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if top[name] == importer
        for target in targets
        if top[target] in imported
    )


def test_the_graph_sees_the_imports_it_checks() -> None:
    graph = import_graph()
    assert "connector.config" in graph["connector.cli"]
    assert "sandbox.timeplus_emulator.server" in graph["sandbox.timeplus_emulator.listener"]  # a relative import
    assert "sandbox.kafka_broker" in graph["tests.conftest"]


def test_the_connector_imports_nothing_outside_itself() -> None:
    assert imports_between(import_graph(), "connector", ("sandbox", "tests", "bench")) == []


def test_the_sandbox_imports_neither_tests_nor_the_benchmark() -> None:
    assert imports_between(import_graph(), "sandbox", ("tests", "bench")) == []


def test_no_import_loops_anywhere() -> None:
    assert cycles(import_graph()) == []


def test_the_loop_finder_finds_a_loop() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
