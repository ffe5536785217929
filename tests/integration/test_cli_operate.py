"""The operator's commands as users run them: the CLI as a subprocess, a real broker, the emulator as Timeplus.

``validate`` (offline), ``check`` (online, a table of findings), ``create-streams``,
``preview`` (reads without joining the group) and ``run``'s start-up check.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import Auth, TimeplusEmulator
from tests.support.services import committed_offsets, json_value, produce, write_config

PASSWORD = "s3cret-pw-4711"
COORDINATOR_MOVING = (
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``kafka-timeplus ARGS`` as a subprocess; its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def mappings(unique: str) -> str:
    return f"""
    - topic: orders-{unique}
      stream: orders_{unique}
      on_error: skip
      columns:
        id: {{from: value.id, type: int64}}
        total: {{from: value.total, type: float64}}
        ts: {{from: value.ts, type: "datetime64(3, 'UTC')", unit: ms}}
        key: key
        p: partition
    """


def config(tmp_path: Path, kafka: str, url: str, unique: str, *, timeplus: str = "", maps: str = "") -> Path:
    """A config file; ``timeplus`` adds lines (``key: value``) to its timeplus section."""
    path = write_config(
        tmp_path / "c.yaml", bootstrap=kafka, group=f"g-{unique}", url=url, mappings=maps or mappings(unique)
    )
    if timeplus:
        path.write_text(path.read_text().replace("  timeout_s: 5\n", f"  timeout_s: 5\n  {timeplus}\n", 1))
    return path


GOOD_COLUMNS = [
    ("id", "int64"),
    ("total", "float64"),
    ("ts", "datetime64(3, 'UTC')"),
    ("key", "string"),
    ("p", "int32"),
]


def rows_of(stdout: str) -> dict[str, tuple[str, str]]:
    """The check table as subject → (status, detail)."""
    found = {}
    for line in stdout.splitlines()[2:]:
        parts = line.split(None, 3)
        if len(parts) == 4:
            found[parts[2]] = (parts[0], parts[3])
    return found


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets, retried while the broker's group coordinator is still loading."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return committed_offsets(bootstrap, group, topic, partitions)
        except KafkaException as exc:
            transient = exc.args[0].retriable() or exc.args[0].code() in COORDINATOR_MOVING
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def groups(bootstrap: str) -> set[str]:
    """The consumer groups the broker knows."""
    listed = AdminClient({"bootstrap.servers": bootstrap}).list_consumer_groups(request_timeout=30).result()
    return {g.group_id for g in listed.valid}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- validate ---------------------------------------------------------------------------


def test_validate_accepts_a_good_file_and_lists_every_problem_of_a_bad_one(tmp_path: Path) -> None:
    good = config(tmp_path, "127.0.0.1:1", "http://127.0.0.1:1", "x")
    result = cli("validate", "-c", str(good))
    assert (result.returncode, result.stdout.strip()) == (0, f"{good}: OK (1 mapping(s))")

    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("type: int64", "type: flaot64").replace("timeout_s: 5", "timeout_s: -1"))
    result = cli("validate", "-c", str(bad))
    assert result.returncode == 2
    assert "mappings[0].columns.id.type: unknown type 'flaot64' (did you mean float64?)" in result.stderr
    assert "timeplus.timeout_s" in result.stderr


# --- check ------------------------------------------------------------------------------


def test_check_passes_when_topics_streams_and_columns_fit(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    kafka.create_topic(f"orders-{unique}", 2)
    emulator.create_stream(f"orders_{unique}", GOOD_COLUMNS)
    result = cli("check", "-c", str(config(tmp_path, kafka.bootstrap, emulator.url, unique)))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = rows_of(result.stdout)
    assert rows[kafka.bootstrap][0] == "ok"
    assert rows[f"orders-{unique}"] == ("ok", "2 partition(s)")
    assert rows[emulator.url] == ("ok", "reachable, credentials accepted")
    assert rows[f"orders_{unique}.ts"] == ("ok", "datetime64(3, 'UTC')")
    assert result.stdout.rstrip().endswith("0 problem(s), 0 warning(s)")


def test_check_reports_missing_stream_missing_column_and_wrong_type_in_one_table(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    kafka.create_topic(f"orders-{unique}", 1)
    # total is a string and key is missing; the second mapping's stream does not exist.
    emulator.create_stream(f"orders_{unique}", [("id", "int64"), ("total", "string"), ("ts", "datetime64(3, 'UTC')"),
                                                ("p", "int32")])  # fmt: skip
    maps = (
        mappings(unique)
        + f"""
    - topic: orders-{unique}
      stream: totals_{unique}
      columns:
        id: {{from: value.id, type: int64}}
    """
    )
    result = cli("check", "-c", str(config(tmp_path, kafka.bootstrap, emulator.url, unique, maps=maps)))
    assert result.returncode == 1
    rows = rows_of(result.stdout)
    assert rows[f"orders_{unique}.total"] == (
        "PROBLEM",
        "stream has string, the mapping sends float64: incompatible types",
    )
    assert rows[f"orders_{unique}.key"] == ("PROBLEM", "the stream has no such column")
    assert rows[f"totals_{unique}"] == ("PROBLEM", "does not exist (kafka-timeplus create-streams makes it)")
    assert rows[f"orders_{unique}.id"][0] == "ok"
    assert result.stdout.rstrip().endswith("3 problem(s), 0 warning(s)")


def test_check_reports_refused_credentials_without_showing_them(
    kafka: KafkaBroker, unique: str, tmp_path: Path
) -> None:
    kafka.create_topic(f"orders-{unique}", 1)
    with TimeplusEmulator(auth=Auth.basic("ingest", "right-password")) as emulator:
        emulator.create_stream(f"orders_{unique}", GOOD_COLUMNS)
        path = config(
            tmp_path, kafka.bootstrap, emulator.url, unique, timeplus=f"username: ingest\n  password: {PASSWORD}"
        )
        result = cli("--log-format", "json", "check", "-c", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    status, detail = rows_of(result.stdout)[emulator.url]
    assert status == "PROBLEM"
    assert "credentials refused" in detail and "code 516" in detail
    assert PASSWORD not in result.stdout + result.stderr
    # The Kafka half still ran: one problem does not hide the rest.
    assert rows_of(result.stdout)[f"orders-{unique}"][0] == "ok"


def test_check_reports_an_unreachable_kafka_and_still_checks_timeplus(
    emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    emulator.create_stream(f"orders_{unique}", GOOD_COLUMNS)
    dead = f"127.0.0.1:{free_port()}"
    result = cli("check", "-c", str(config(tmp_path, dead, emulator.url, unique)))
    assert result.returncode == 1
    status, detail = rows_of(result.stdout)[dead]
    assert status == "PROBLEM" and detail.startswith(f"unreachable: cannot reach {dead} within 10 s")
    assert rows_of(result.stdout)[f"orders_{unique}"][0] == "ok"
    assert "Connection refused" not in result.stderr  # librdkafka's retries are not printed


def test_check_warns_when_a_topic_pattern_matches_nothing_yet(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    emulator.create_stream(f"orders_{unique}", GOOD_COLUMNS)
    maps = mappings(unique).replace(f"topic: orders-{unique}", f"topic_pattern: '^nothing-{unique}-.*'")
    result = cli("check", "-c", str(config(tmp_path, kafka.bootstrap, emulator.url, unique, maps=maps)))
    assert result.returncode == 0, result.stdout
    assert rows_of(result.stdout)[f"^nothing-{unique}-.*"] == ("warning", "no topic matches the pattern yet")


# --- create-streams -----------------------------------------------------------------------


def test_create_streams_dry_run_prints_the_statements_and_creates_nothing(
    emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    result = cli("create-streams", "--dry-run", "-c", str(config(tmp_path, "127.0.0.1:1", emulator.url, unique)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"CREATE STREAM IF NOT EXISTS orders_{unique} "
        "(id int64, total float64, ts datetime64(3, 'UTC'), key string, p int32);"
    )
    assert emulator.streams() == []


@pytest.mark.parametrize("workspace", [None, "default"])
def test_create_streams_then_check_passes(
    kafka: KafkaBroker, unique: str, tmp_path: Path, workspace: str | None
) -> None:
    kafka.create_topic(f"orders-{unique}", 1)
    with TimeplusEmulator(workspace="default") as emulator:
        emulator.faults.set_ddl_delay(1.0)  # Timeplus creates streams asynchronously
        path = config(
            tmp_path, kafka.bootstrap, emulator.url, unique, timeplus=f"workspace: {workspace}" if workspace else ""
        )
        created = cli("create-streams", "-c", str(path))
        assert created.returncode == 0, created.stdout + created.stderr
        assert f"-- orders_{unique}: created" in created.stdout
        checked = cli("check", "-c", str(path))
        assert checked.returncode == 0, checked.stdout
        again = cli("create-streams", "-c", str(path))
        assert f"-- orders_{unique}: exists" in again.stdout
        assert emulator.streams() == [f"orders_{unique}"]


def test_create_streams_refuses_a_column_without_a_type(emulator: TimeplusEmulator, tmp_path: Path) -> None:
    maps = "- topic: t\n  stream: s\n  columns:\n    id: {from: value.id, type: int64}\n    name: value.name\n"
    result = cli("create-streams", "-c", str(config(tmp_path, "127.0.0.1:1", emulator.url, "x", maps=maps)))
    assert result.returncode == 1
    assert "stream s: give column(s) name a type in the config" in result.stderr
    assert emulator.streams() == []


# --- preview ----------------------------------------------------------------------------


def test_preview_shows_rows_and_data_errors_and_commits_nothing(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic = f"orders-{unique}"
    kafka.create_topic(topic, 2)
    good = [(p, f"k{i}".encode(), json_value({"id": i, "total": i / 2, "ts": 1_700_000_000_000 + i}))
            for p in (0, 1) for i in range(10 * p, 10 * p + 5)]  # fmt: skip
    bad = [(0, b"kb", b"{not json"), (1, b"kc", json_value({"id": "x", "total": 1, "ts": 0}))]
    produce(kafka.bootstrap, topic, good + bad)
    path = config(tmp_path, kafka.bootstrap, emulator.url, unique)
    result = cli("preview", "--messages", "3", "-c", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "6 message(s) read, the newest 3 of each partition; nothing sent or committed"
    assert f"stream orders_{unique}: 4 row(s)" in lines
    assert any(line.split()[:5] == [topic, "0", "3", "3", "1.5"] and "k3" in line for line in lines)
    assert any(line.split()[:4] == [topic, "1", "3", "13"] for line in lines)
    assert "data errors: 2" in lines
    assert any(line.split()[:4] == [topic, "0", "5", f"orders_{unique}"] and "not valid JSON" in line for line in lines)
    assert any(line.split()[:5] == [topic, "1", "5", f"orders_{unique}", "id"] for line in lines)
    assert f"g-{unique}" not in groups(kafka.bootstrap)  # never joined: the broker knows no such group
    assert committed(kafka.bootstrap, f"g-{unique}", topic, 2) == {}
    assert emulator.requests() == []


# --- run's start-up check and the log format -------------------------------------------------------------


def test_run_refuses_to_start_on_a_mismatch_and_logs_json(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    kafka.create_topic(f"orders-{unique}", 1)
    path = config(tmp_path, kafka.bootstrap, emulator.url, unique)
    result = cli("--log-format", "json", "run", "--until-caught-up", "-c", str(path))
    assert result.returncode == 1
    assert "not starting: the config does not fit Kafka or Timeplus" in result.stderr
    assert f"orders_{unique}" in result.stderr and "does not exist" in result.stderr
    assert committed(kafka.bootstrap, f"g-{unique}", f"orders-{unique}", 1) == {}

    emulator.create_stream(f"orders_{unique}", GOOD_COLUMNS)
    produce(kafka.bootstrap, f"orders-{unique}", [(0, b"k", json_value({"id": 1, "total": 2.5, "ts": 0}))])
    result = cli("run", "--until-caught-up", "--log-format", "json", "-c", str(path))  # also after the command
    assert result.returncode == 0, result.stderr
    entries = [orjson.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert entries and all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    assert all(line.startswith("{") for line in result.stderr.splitlines() if line.strip())
    assert emulator.count(f"orders_{unique}") == 1
