"""``python -m sandbox.timeplus_emulator`` as a real process, and the streams file."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.timeplus_emulator import StreamsFileError
from sandbox.timeplus_emulator.streams_file import parse_streams, read_streams_file
from tests.support.emulator_http import compact

MODULE = "sandbox.timeplus_emulator"
ROOT = Path(__file__).resolve().parents[2]  # where ``python -m sandbox...`` finds the package


@pytest.fixture
def streams_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "streams.yaml"
    path.write_text(
        "streams:\n"
        "  - name: orders\n"
        "    columns:\n"
        "      - {name: id, type: int64}\n"
        "      - {name: total, type: 'decimal(10, 2)'}\n"
        "  - name: logs\n"
        "    columns: {raw: string}\n"
    )
    return path


def start(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"no URL in {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        yield process, match[1]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_the_cli_serves_streams_from_a_file_with_auth(streams_yaml: Path) -> None:
    for process, url in start("--streams", str(streams_yaml), "--auth", "basic:u:p"):
        with requests.Session() as session:
            ok = session.post(
                f"{url}/proton/v1/ingest/streams/orders", data=compact(["id", "total"], [[1, "9.99"]]), auth=("u", "p")
            )
            assert ok.status_code == 200
            refused = session.post(f"{url}/proton/v1/ingest/streams/orders", data=compact(["id"], [[1]]))
            assert refused.status_code == 500
            rows = session.get(f"{url}/_emulator/streams/orders/rows").json()["rows"]
            assert [(r["id"], r["total"]) for r in rows] == [(1, "9.99")]
            assert session.get(f"{url}/_emulator/streams/logs/count").json()["count"] == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_the_cli_bounded_with_a_json_simple_form(tmp_path: Path) -> None:
    path = tmp_path / "streams.json"
    path.write_text(json.dumps({"clicks": {"n": "int64", "page": "string"}}))
    for process, url in start("--streams", str(path), "--bounded", "--workspace", "ws1", "--auth", "apikey:KEY"):
        with requests.Session() as session:
            response = session.post(
                f"{url}/ws1/api/v1beta2/streams/clicks/ingest",
                data=b'{"n": 1, "page": "/"}',
                headers={"X-Api-Key": "KEY", "Content-Type": "application/x-ndjson"},
            )
            assert response.status_code == 200
            assert session.get(f"{url}/_emulator/streams/clicks/count").json()["count"] == 1
            assert session.get(f"{url}/_emulator/streams/clicks/rows").status_code == 409
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--auth", "token:x"], "--auth"),
        (["--streams", "/nonexistent/streams.yaml"], "streams.yaml"),
    ],
)
def test_the_cli_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--port", "0", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_the_cli_reports_every_streams_file_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "streams:\n  - name: a\n    columns: {x: int63, y: string}\n"
        "  - name: b\n  - name: c\n    columns: [{name: z}]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--port", "0", "--streams", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        "streams[0].x" in result.stderr and "streams[1]" in result.stderr and "streams[2].columns[0]" in result.stderr
    )


def test_streams_file_shapes(streams_yaml: Path) -> None:
    streams = read_streams_file(streams_yaml)
    assert [(name, [(c.name, c.type.name) for c in columns]) for name, columns in streams] == [
        ("orders", [("id", "int64"), ("total", "decimal(10, 2)")]),
        ("logs", [("raw", "string")]),
    ]
    assert [name for name, _ in parse_streams({"streams": {"a": {"x": "int8"}}})] == ["a"]
    assert [name for name, _ in parse_streams({"a": [{"name": "x", "type": "int8"}]})] == ["a"]


@pytest.mark.parametrize("document", [[1, 2], {"streams": 5}, {"a": 5}, {"a": {}}, {"streams": [{"name": "x"}]}])
def test_streams_file_errors(document: object) -> None:
    with pytest.raises(StreamsFileError):
        parse_streams(document)


def test_unreadable_streams_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("streams: [unclosed")
    with pytest.raises(StreamsFileError):
        read_streams_file(path)
