"""The logic behind check, create-streams and preview, against fakes: type fit, implied streams, findings, tables."""

from __future__ import annotations

import io
import itertools
import logging

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector import preflight
from connector.config import Config, parse_config
from connector.errors import FatalError, RetriableError
from connector.findings import Finding, Level, findings_table, render_table
from connector.logs import JsonFormatter
from connector.offsets import TopicPartition as TP
from connector.preview import preview, preview_tables
from connector.records import MessageLike, Record
from connector.stream_schema import StreamColumn, StreamSchema, fit, implied_streams
from connector.types.grammar import INT_BITS


def config(mappings: str, **extra: str) -> Config:
    lines = "\n".join(f"{k}: {v}" for k, v in extra.items())
    text = f"kafka: {{bootstrap.servers: 'k:9092', group.id: g}}\ntimeplus: {{url: 'http://tp:3218'}}\n{lines}\n"
    return parse_config(text + "mappings:\n" + mappings, env={})


ORDERS = """
  - topic: orders
    stream: orders
    columns:
      id: {from: value.id, type: int32}
      name: value.name
      ts: {from: value.ts, type: "datetime64(3, 'UTC')", unit: ms}
      key: key
      p: partition
      src: {value: kafka}
"""


def verdict(stream_type: str, mapping_type: str) -> Level:
    column = config(f'  - topic: t\n    stream: s\n    columns:\n      c: {{from: value.c, type: "{mapping_type}"}}\n')
    return fit(stream_type, column.mappings[0].columns[0])[0]


# --- type fit ----------------------------------------------------------------------------------------


def _range(name: str) -> tuple[int, int]:
    bits = INT_BITS[name]
    return (0, 2**bits - 1) if name.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


@pytest.mark.parametrize(("stream", "sent"), list(itertools.product(sorted(INT_BITS), repeat=2)))  # the whole space
def test_an_integer_column_fits_exactly_when_its_range_holds_every_value_sent(stream: str, sent: str) -> None:
    holds = _range(stream)[0] <= _range(sent)[0] and _range(sent)[1] <= _range(stream)[1]
    assert verdict(stream, sent) is (Level.OK if holds else Level.PROBLEM)


def test_type_fit_rules() -> None:
    assert verdict("string", "string") is Level.OK
    assert verdict("low_cardinality(string)", "string") is Level.OK
    assert verdict("nullable(int64)", "int64") is Level.OK
    assert verdict("int64", "nullable(int64)") is Level.WARNING  # null would become 0
    assert verdict("string", "float64") is Level.PROBLEM
    assert verdict("float64", "float32") is Level.OK
    assert verdict("decimal(12, 2)", "decimal(10, 2)") is Level.OK
    assert verdict("decimal(10, 3)", "decimal(10, 2)") is Level.PROBLEM
    assert verdict("datetime64(3, 'UTC')", "datetime64(3)") is Level.OK
    assert verdict("datetime64(3)", "datetime64(3)") is Level.WARNING  # read in the server's zone
    assert verdict("datetime64(3, 'Europe/Berlin')", "datetime64(3, 'UTC')") is Level.PROBLEM
    assert verdict("datetime64(0, 'UTC')", "datetime64(6, 'UTC')") is Level.WARNING
    assert verdict("array(int64)", "array(int32)") is Level.OK
    assert verdict("array(int8)", "array(int32)") is Level.PROBLEM
    assert verdict("fixed_string(4)", "string") is Level.WARNING
    assert verdict("no_such_type", "string") is Level.WARNING


def test_untyped_columns_fit_by_their_source() -> None:
    columns = {c.name: c for c in config(ORDERS).mappings[0].columns}
    assert fit("string", columns["key"])[0] is Level.OK
    assert fit("int64", columns["key"]) == (
        Level.PROBLEM,
        "stream has int64, the mapping sends string: incompatible types",
    )
    assert fit("int32", columns["p"])[0] is Level.OK
    assert fit("int64", columns["name"]) == (Level.OK, "int64; untyped: values go as they come")
    assert fit("string", columns["src"])[0] is Level.OK


# --- implied streams --------------------------------------------------------------------------------


def test_implied_stream_sql_takes_types_from_the_config() -> None:
    typed = ORDERS.replace("name: value.name", "name: {from: value.name, type: string}")
    (stream,) = implied_streams(config(typed).mappings)
    assert stream.create_sql() == (
        "CREATE STREAM IF NOT EXISTS orders "
        "(id int32, name string, ts datetime64(3, 'UTC'), key string, p int32, src string)"
    )


def test_a_column_without_a_type_and_conflicting_mappings_are_named() -> None:
    (stream,) = implied_streams(config(ORDERS).mappings)
    try:
        stream.create_sql()
    except ValueError as exc:
        assert str(exc) == "stream orders: give column(s) name a type in the config"
    else:
        raise AssertionError("an untyped value column got a type")
    two = "".join(
        f"  - topic: {topic}\n    stream: s\n    columns:\n      id: {{from: value.id, type: {type_name}}}\n"
        for topic, type_name in (("a", "int32"), ("b", "string"))
    )
    (merged,) = implied_streams(config(two).mappings)
    assert merged.conflicts == ("mappings[1].columns.id: type string, another mapping says int32",)


# --- the checks, against fake catalogs ----------------------------------------------------------------------


class Topics:
    bootstrap = "k:9092"

    def __init__(self, topics: dict[str, int] | Exception) -> None:
        self._topics = topics

    def topics(self) -> dict[str, int]:
        if isinstance(self._topics, Exception):
            raise self._topics
        return self._topics


class Streams:
    url = "http://tp:3218"

    def __init__(self, schemas: dict[str, StreamSchema] | Exception) -> None:
        self._schemas = schemas

    def describe(self, stream: str) -> StreamSchema | None:
        if isinstance(self._schemas, Exception):
            raise self._schemas
        return self._schemas.get(stream)


def schema(stream: str, /, **columns: str) -> StreamSchema:
    return StreamSchema(stream, tuple(StreamColumn(n, t) for n, t in columns.items()))


def by_subject(findings: list[Finding]) -> dict[str, tuple[Level, str]]:
    return {f"{f.check} {f.subject}": (f.level, f.detail) for f in findings}


def test_checks_name_each_problem_and_keep_going() -> None:
    cfg = config(ORDERS + "  - topic_pattern: '^clicks\\.'\n    stream: clicks\n    dlq_topic: dead\n"
                 "    columns:\n      n: {from: value.n, type: int64}\n")  # fmt: skip
    orders = schema("orders", id="int64", name="string", ts="datetime64(3, 'UTC')", key="int64", p="int32")
    found = by_subject(preflight.check(cfg, Topics({"orders": 3}), Streams({"orders": orders})))
    assert found["topic orders"] == (Level.OK, "3 partition(s)")
    assert found["topic ^clicks\\."] == (Level.WARNING, "no topic matches the pattern yet")
    assert found["dlq topic dead"][0] is Level.WARNING
    assert found["column orders.key"][0] is Level.PROBLEM
    assert found["column orders.src"] == (Level.PROBLEM, "the stream has no such column")
    assert found["stream clicks"] == (Level.PROBLEM, "does not exist (kafka-timeplus create-streams makes it)")
    assert found["timeplus http://tp:3218"] == (Level.OK, "reachable, credentials accepted")


def test_unreachable_services_and_refused_credentials_are_one_problem_each() -> None:
    cfg = config(ORDERS)
    found = preflight.check(cfg, Topics(RetriableError("no route")), Streams(FatalError("credentials refused")))
    assert [(f.level, f.check, f.detail) for f in found] == [
        (Level.PROBLEM, "kafka", "unreachable: no route"),
        (Level.PROBLEM, "timeplus", "credentials refused"),
    ]


def test_run_gets_refused_credentials_as_the_fatal_error_they_are() -> None:
    refused = FatalError("kafka: authentication failed")
    with pytest.raises(FatalError, match="authentication failed"):
        preflight.check(config(ORDERS), Topics(refused), Streams({}), raise_fatal=True)
    with pytest.raises(FatalError, match="credentials refused"):
        preflight.check(config(ORDERS), Topics({}), Streams(FatalError("credentials refused")), raise_fatal=True)
    found = preflight.check(config(ORDERS), Topics(refused), Streams({}))
    assert (found[0].level, found[0].detail) == (Level.PROBLEM, "kafka: authentication failed")


# --- tables and preview ------------------------------------------------------------------------------


def test_tables_align_columns_and_keep_each_row_on_one_line() -> None:
    table = render_table(("a", "long header"), [("x\ny", "1"), ("abcdef", "z" * 80)], max_width=12)
    assert table.splitlines() == ["a       long header", "------  ------------", "x y     1", "abcdef  zzzzzzzzzzz…"]
    summary = findings_table([Finding(Level.PROBLEM, "stream", "s", "missing")]).splitlines()
    assert summary[-1] == "1 problem(s), 0 warning(s)"


@given(
    st.lists(st.lists(st.text(max_size=30), min_size=3, max_size=3), max_size=8),
    st.integers(min_value=2, max_value=20),
)
def test_every_row_is_one_line_and_every_column_starts_at_one_offset(rows: list[list[str]], width: int) -> None:
    lines = render_table(("a", "b", "c"), rows, max_width=width).split("\n")
    assert len(lines) == len(rows) + 2
    starts = [0, *itertools.accumulate(len(cell) + 2 for cell in lines[1].split("  ")[:-1])]
    for line, row in zip(lines[2:], rows, strict=True):
        shown = [line[start:end].rstrip() for start, end in itertools.pairwise([*starts, len(line)])]
        one_line = [" ".join(cell.split()) for cell in row]
        assert shown == [c if len(c) <= width else c[: width - 1] + "…" for c in one_line]


class Tail:
    def __init__(self, messages: list[Record]) -> None:
        self.messages = messages
        self.asked: list[TP] = []

    def topics(self) -> dict[str, int]:
        return {"orders": 2, "other": 1}

    def latest(self, partitions: list[TP], per_partition: int) -> list[MessageLike]:
        self.asked = partitions
        return list(self.messages)


def test_preview_maps_messages_and_lists_data_errors_with_reasons() -> None:
    cfg = config(ORDERS + "  - topic: gone\n    stream: g\n    columns:\n      v: value\n", max_message_bytes="100")
    tail = Tail([
        Record("orders", 0, 7, orjson.dumps({"id": 1, "name": "a", "ts": 0}), b"k", None, 5),
        Record("orders", 1, 3, b"[1]", None, None, 5),
        Record("orders", 1, 4, b'{"id": "' + b"x" * 200 + b'"}', None, None, 5),
    ])  # fmt: skip
    result = preview(cfg, tail, 5)
    assert tail.asked == [("orders", 0), ("orders", 1)]
    assert result.missing_topics == ("gone",)
    assert [r.values for r in result.rows] == [(1, "a", "1970-01-01 00:00:00.000Z", "k", 0, "kafka")]
    assert [(e.offset, e.reason) for e in result.errors] == [
        (3, "value is a JSON array, but the mapping reads fields of a JSON object"),
        (4, "value of 210 bytes is over max_message_bytes (100)"),
    ]
    lines = preview_tables(result).splitlines()
    assert lines[0] == "stream orders: 1 row(s)"
    assert lines[1].split() == ["topic", "partition", "offset", "id", "name", "ts", "key", "p", "src"]
    assert "data errors: 2" in lines


def test_json_log_lines_have_time_level_logger_and_message() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("connector.test_json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("stream %s: %d rows", "orders", 3)
    finally:
        logger.removeHandler(handler)
    entry = orjson.loads(stream.getvalue())
    assert set(entry) == {"time", "level", "logger", "message"}
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "WARNING",
        "connector.test_json",
        "stream orders: 3 rows",
    )
    assert entry["time"].endswith("+00:00")
