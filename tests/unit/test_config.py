import textwrap
from pathlib import Path

import pytest

from connector.config import (
    FORCED_CONSUMER_PROPS,
    NO_DEFAULT,
    BatchConfig,
    Secret,
    SourceKind,
    TimeplusConfig,
    load_config,
    parse_config,
)
from connector.errors import ConfigError
from connector.types import column_type

GOOD = """
kafka:
  bootstrap.servers: ${KAFKA_BOOTSTRAP:-localhost:9092}
  group.id: timeplus-connector
  session.timeout.ms: 45000
timeplus:
  url: http://localhost:3218/
  api_key: ${TIMEPLUS_API_KEY:-}
batch: {max_rows: 5000, max_bytes: 4MiB, linger_ms: 250}
mappings:
  - topic: orders
    stream: orders
    format: json
    columns:
      order_id: value.id
      amount:   {from: value.total, type: float64}
      customer: value.customer.name
      first_sku: value.items.0.sku
      ts:       {from: timestamp, type: 'datetime64(3)'}
      key:      key
      region:   {from: headers.region, default: unknown}
      source:   {value: kafka}
  - topics: [orders, refunds]
    stream: audit
    columns:
      raw: value
  - topic_pattern: '^logs\\..*'
    stream: logs
    format: string
    columns:
      line: value
"""


def parse(text: str, **env: str) -> object:
    return parse_config(textwrap.dedent(text), env=env)


def problems(text: str, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), env=env)
    return info.value.problems


def test_good_file_with_defaults_and_interpolation() -> None:
    config = parse_config(GOOD, env={"TIMEPLUS_API_KEY": "s3cret-key"})
    assert config.kafka["bootstrap.servers"] == "localhost:9092"
    assert config.kafka["session.timeout.ms"] == "45000"
    assert config.timeplus.url == "http://localhost:3218"
    assert config.timeplus.api_key == Secret("s3cret-key")
    assert (config.batch.max_rows, config.batch.max_bytes, config.batch.linger_ms) == (5000, 4 * 1024 * 1024, 250)
    orders, audit, logs = config.mappings
    assert orders.topics == ("orders",) and orders.stream == "orders"
    by_name = {c.name: c for c in orders.columns}
    assert [c.name for c in orders.columns] == [
        "order_id", "amount", "customer", "first_sku", "ts", "key", "region", "source"
    ]  # fmt: skip
    assert by_name["customer"].kind is SourceKind.VALUE and by_name["customer"].path == ("customer", "name")
    assert by_name["first_sku"].path == ("items", "0", "sku")
    assert by_name["amount"].type == column_type("float64") and by_name["amount"].default is NO_DEFAULT
    assert str(by_name["amount"].type) == "float64"
    assert by_name["ts"].kind is SourceKind.TIMESTAMP
    assert by_name["ts"].type == column_type("datetime64(3)", unit="ms"), "the type is parsed once, here"
    assert by_name["order_id"].type is None
    assert by_name["region"].kind is SourceKind.HEADER and by_name["region"].path == ("region",)
    assert by_name["region"].default == "unknown"
    assert by_name["source"].kind is SourceKind.CONSTANT and by_name["source"].constant == "kafka"
    assert audit.topics == ("orders", "refunds") and audit.matches("refunds")
    assert logs.topic_pattern == r"^logs\..*" and logs.matches("logs.app") and not logs.matches("xlogs.app")
    assert config.subscription() == ["orders", "refunds", r"^logs\..*"]


def test_environment_overrides_default_and_empty_default_means_no_secret() -> None:
    config = parse_config(GOOD, env={"KAFKA_BOOTSTRAP": "broker:29092"})
    assert config.kafka["bootstrap.servers"] == "broker:29092"
    assert config.timeplus.api_key is None
    assert config.kafka["group.id"] == "timeplus-connector"


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        """
        kafka: {group.id: g, enable.auto.commit: true}
        timeplus: {url: 'localhost:3218', timeout_s: -1, colour: blue}
        batch: {max_rows: 0, max_bytes: lots}
        mappings:
          - topic: orders
            format: xml
            columns:
              amount: {from: value.total, type: flaot64}
              when: {from: value.ts, type: 'datetime64(3)', unit: minutes}
              who: {from: nowhere.name}
              both: {from: key, value: 1}
          - stream: s
            columns: {}
        """
    )
    expected = [
        "kafka.enable.auto.commit: managed by the connector",
        "kafka.bootstrap.servers: missing (required)",
        "timeplus.colour: unknown key",
        "timeplus.url: expected http(s)://host[:port][/path]; this one has no scheme",
        "timeplus.timeout_s: must be at least 0.1, got -1",
        "batch.max_rows: must be at least 1, got 0",
        "batch.max_bytes: expected a positive size such as 4MiB or 1048576, got 'lots'",
        "mappings[0].stream: missing (required)",
        "mappings[0].format: expected one of json, string, bytes, avro, protobuf, json_schema, got 'xml'",
        "mappings[0].columns.amount.type: unknown type 'flaot64'",
        "mappings[0].columns.when.unit: expected one of s, ms, us, ns, got 'minutes'",
        "mappings[0].columns.who.from: unknown source 'nowhere.name'",
        "mappings[0].columns.both: needs exactly one of 'from' (a source) or 'value' (a constant)",
        "mappings[1]: needs one of topic, topics or topic_pattern",
        "mappings[1].columns: expected a mapping of column name to source",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in found), f"{line!r} not in {found}"
    assert len(found) == len(expected), found


def test_missing_environment_variable_is_named() -> None:
    found = problems(
        """
        kafka: {bootstrap.servers: '${BROKERS}'}
        timeplus: {url: 'http://tp:3218'}
        mappings: [{topic: a, stream: a, columns: {v: value}}]
        """
    )
    assert found == ["kafka.bootstrap.servers: environment variable BROKERS is not set"]


def test_secrets_never_appear_in_errors_or_reprs() -> None:
    text = """
        kafka: {bootstrap.servers: 'k:9092', sasl.password: '${PW}'}
        timeplus: {url: 'http://tp:3218', username: alice, password: '${PW}', timeout_s: nope}
        mappings: [{topic: a, stream: a, columns: {v: value}}]
    """
    with pytest.raises(ConfigError) as info:
        parse(text, PW="hunter2-secret")
    assert "hunter2" not in str(info.value)
    config = parse_config(textwrap.dedent(text.replace("timeout_s: nope", "timeout_s: 5")), env={"PW": "hunter2"})
    assert "hunter2" not in repr(config.timeplus)
    assert "hunter2" not in repr(config), "kafka's sasl.password must not show in the config's repr"
    assert "hunter2" not in str(config.timeplus.password)
    assert config.timeplus.password is not None and config.timeplus.password.reveal() == "hunter2"


def test_credentials_in_the_url_are_rejected() -> None:
    found = problems(
        """
        kafka: {bootstrap.servers: 'k:9092'}
        timeplus: {url: 'http://bob:pw@tp:3218'}
        mappings: [{topic: a, stream: a, columns: {v: value}}]
        """
    )
    assert found == ["timeplus.url: credentials do not belong in the URL: use username/password"]


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka:\n  bootstrap.servers: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith(f"{path}:3:")
    assert "not valid YAML" in info.value.problems[0]


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_path_into_a_non_json_value_is_rejected() -> None:
    found = problems(
        """
        kafka: {bootstrap.servers: 'k:9092'}
        timeplus: {url: 'http://tp:3218'}
        mappings: [{topic: a, stream: a, format: string, columns: {v: value.x}}]
        """
    )
    assert found == [
        "mappings[0].columns.v: a path into the value needs format json, avro, protobuf, json_schema, not string"
    ]


def test_registry_formats_read_paths_and_need_a_schema_registry() -> None:
    found = problems(
        """
        kafka: {bootstrap.servers: 'k:9092'}
        timeplus: {url: 'http://tp:3218'}
        mappings:
          - {topic: a, stream: a, format: avro, columns: {v: value.x.y}}
          - {topic: b, stream: b, format: protobuf, columns: {v: value.x.0}}
          - {topic: c, stream: c, format: json_schema, columns: {v: value.x}}
        """
    )
    assert found == [f"mappings[{i}].format: format {f} needs a schema_registry section"
                     for i, f in enumerate(("avro", "protobuf", "json_schema"))]  # fmt: skip


def test_schema_registry_section_is_validated_and_its_password_never_shown() -> None:
    found = problems(
        """
        kafka: {bootstrap.servers: 'k:9092'}
        timeplus: {url: 'http://tp:3218'}
        schema_registry: {url: 'registry:8081', password: hunter2, timeout_s: 0, colour: red}
        mappings: [{topic: a, stream: a, format: avro, columns: {v: value.x}}]
        """
    )
    assert found == [
        "schema_registry.colour: unknown key (expected one of: password, retry_backoff_max_s, retry_backoff_s, "
        "timeout_s, url, username)",
        "schema_registry.url: expected http(s)://host[:port][/path]; this one has no scheme",
        "schema_registry.timeout_s: must be at least 0.1, got 0",
        "schema_registry.password: set without schema_registry.username",
    ]
    config = parse_config(
        """
        kafka: {bootstrap.servers: 'k:9092'}
        timeplus: {url: 'http://tp:3218'}
        schema_registry: {url: 'https://sr.example:8081/', username: key, password: '${SR_SECRET}'}
        mappings: [{topic: a, stream: a, format: avro, columns: {v: value.x}}]
        """,
        env={"SR_SECRET": "hunter2"},
    )
    assert config.schema_registry is not None
    assert config.schema_registry.url == "https://sr.example:8081"
    assert config.schema_registry.password is not None
    assert config.schema_registry.password.reveal() == "hunter2"
    assert "hunter2" not in repr(config)


def test_example_config_in_the_repository_is_valid() -> None:
    # The demo needs no environment; every example in config/ is checked, with the variables
    # a deployment sets, in test_config_schema.py.
    load_config(Path(__file__).parents[2] / "config" / "demo.yaml", env={})


def test_max_in_flight_defaults_to_eight_and_is_bounded() -> None:
    timeplus = "timeplus: {{url: 'http://localhost:3218', max_in_flight: {}}}"
    rest = "kafka: {bootstrap.servers: 'b:9092'}\nmappings: [{topic: t, stream: s, columns: {v: value}}]\n"
    assert parse_config(GOOD, env={}).timeplus.max_in_flight == 8
    assert parse_config(timeplus.format(16) + "\n" + rest, env={}).timeplus.max_in_flight == 16
    assert problems(timeplus.format(0) + "\n" + rest) == ["timeplus.max_in_flight: must be at least 1, got 0"]
    assert problems(timeplus.format(65) + "\n" + rest) == ["timeplus.max_in_flight: must be at most 64, got 65"]


REST = """
kafka: {bootstrap.servers: 'k:9092'}
timeplus: {url: 'http://tp:3218'}
"""


def test_one_error_of_each_kind_all_in_one_report() -> None:
    found = problems(
        """
        kafka: {bootstrap.servers: 'k:9092', enable.auto.commit: true}
        timeplus: {url: 'tp:3218', colour: blue}
        mappings:
          - topic: orders
            stream: orders
            columns:
              amount: {from: value.total, type: flaot64}
              qty: {from: value.qty, type: uint8, default: 300}
              when: {from: value.at, type: 'datetime64(3)', unit: minutes}
              ok: {from: value.ok, type: bool, default: maybe}
          - topic: refunds
            stream: refunds
            columns:
              version: {value: seven, type: int32}
              region: {value: eu}
        """
    )
    assert found == [
        "kafka.enable.auto.commit: managed by the connector, which sets it to false "
        "(the connector commits only after Timeplus accepted the rows); remove it",
        "timeplus.colour: unknown key (expected one of: api_key, api_version, auth_header, body_format, "
        "connect_timeout_s, gzip, max_in_flight, max_retries, password, retry_backoff_max_s, retry_backoff_s, "
        "timeout_s, url, username, workspace)",
        "timeplus.url: expected http(s)://host[:port][/path]; this one has no scheme",
        "mappings[0].columns.amount.type: unknown type 'flaot64' (did you mean float64?)",
        "mappings[0].columns.qty.default: 300 is out of range for uint8",
        "mappings[0].columns.when.unit: expected one of s, ms, us, ns, got 'minutes'",
        "mappings[0].columns.ok.default: 'maybe' is not a valid bool (expected true, false, 1 or 0)",
        "mappings[1].columns.version.value: 'seven' is not a valid int32",
    ]


def test_constants_and_defaults_are_converted_while_validating() -> None:
    config = parse_config(
        REST
        + """
mappings:
  - topic: t
    stream: s
    columns:
      version: {value: "7", type: int32}
      since: {value: 2024-01-02, type: date}
      n: {from: value.n, type: 'decimal(10, 2)', default: 1.5}
      raw: {from: value.raw, default: keep}
""",
        env={},
    )
    version, since, n, raw = config.mappings[0].columns
    assert (version.constant, since.constant, n.default, raw.default) == (7, "2024-01-02", "1.50", "keep")


def test_a_bad_default_with_a_bad_type_or_unit_reports_only_the_cause() -> None:
    found = problems(
        REST
        + """
mappings:
  - topic: t
    stream: s
    columns:
      a: {from: value.a, type: flaot64, default: x}
      b: {from: value.b, type: datetime64(3), unit: minutes, default: 0}
      c: {from: nowhere, type: int8, default: x}
"""
    )
    assert [p.split(":")[0] for p in found] == ["mappings[0].columns.a.type", "mappings[0].columns.b.unit",
                                                "mappings[0].columns.c.from"]  # fmt: skip


def test_kafka_timestamps_are_milliseconds() -> None:
    found = problems(REST + "mappings: [{topic: t, stream: s, columns: {ts: {from: timestamp, unit: s}}}]")
    assert found == ["mappings[0].columns.ts.unit: Kafka timestamps are epoch milliseconds: leave unit out or set ms"]


def test_untyped_value_of_bytes_format_is_read_as_string() -> None:
    config = parse_config(REST + "mappings: [{topic: t, stream: s, format: bytes, columns: {v: value}}]", env={})
    assert config.mappings[0].columns[0].type == column_type("string")


def test_defaults_are_the_models() -> None:
    config = parse_config(REST + "mappings: [{topic: t, stream: s, columns: {v: value}}]", env={})
    assert config.timeplus == TimeplusConfig(url="http://tp:3218")
    assert config.batch == BatchConfig()
    assert config.kafka["group.id"] == "kafka-timeplus"
    assert (config.mappings[0].format, config.mappings[0].on_error) == ("json", "fail")


def test_owned_consumer_settings_may_only_be_repeated() -> None:
    assert FORCED_CONSUMER_PROPS == {"enable.auto.commit": "false", "enable.auto.offset.store": "false"}
    ok = "kafka: {bootstrap.servers: 'k:9092', enable.auto.commit: 'false', enable.auto.offset.store: 'false'}"
    rest = "\ntimeplus: {url: 'http://tp:3218'}\nmappings: [{topic: t, stream: s, columns: {v: value}}]"
    parse_config(ok + rest, env={})
    found = problems(ok.replace("store: 'false'", "store: true") + rest)
    assert found == [
        "kafka.enable.auto.offset.store: managed by the connector, which sets it to false "
        "(the connector stores offsets itself); remove it"
    ]
