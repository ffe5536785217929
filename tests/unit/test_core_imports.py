"""The core and the pipeline's roles import no I/O library: Kafka, HTTP, metrics and progress
come in through ports (connector/ports.py), from the adapters listed here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The modules that may import an I/O library, and the libraries only they import.
ADAPTERS = {
    "kafka_source.py",
    "kafka_admin.py",
    "kafka_dead_letters.py",
    "timeplus.py",
    "schema_registry.py",
    "metrics.py",
    "status_server.py",
    "progress.py",
    "cli.py",
}
IO_LIBRARIES = {"confluent_kafka", "requests", "prometheus_client", "tqdm", "http", "socket", "urllib3"}
#: Core modules that use an I/O library's pure functions only.
PURE_USES = {
    # socket.inet_pton / inet_ntop: IP address text to bytes and back (C, ~10x ipaddress); no network.
    "connector/types/scalars.py": {"socket"},
}


def imported(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, anywhere in its source."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_adapters_import_io_libraries() -> None:
    offenders = {}
    for path in sorted((ROOT / "connector").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        io = imported(path) & IO_LIBRARIES - PURE_USES.get(name, set())
        if path.name not in ADAPTERS and io:
            offenders[name] = sorted(io)
    assert offenders == {}


def test_the_check_sees_an_io_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from prometheus_client import Counter\n")
    assert imported(module) & IO_LIBRARIES == {"prometheus_client"}
