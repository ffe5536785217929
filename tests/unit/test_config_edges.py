"""Config that surprised a new user (issue 11): each case names its field and never echoes a secret."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import Config, parse_config
from connector.errors import ConfigError

KAFKA = "kafka: {bootstrap.servers: 'k:9092'}\n"
TIMEPLUS = "timeplus: {url: 'http://tp:3218'}\n"
ONE_MAPPING = "mappings: [{topic: a, stream: a, columns: {v: value}}]\n"


def parse(text: str, **env: str) -> Config:
    return parse_config(textwrap.dedent(text), env=env)


def problems(text: str, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), env=env)
    return info.value.problems


def timeplus(fields: str, **env: str) -> Config:
    return parse(KAFKA + f"timeplus: {{url: 'http://tp:3218', {fields}}}\n" + ONE_MAPPING, **env)


# -- 1. secrets with surrounding whitespace ---------------------------------------------------------------------------


@pytest.mark.parametrize("padded", ["abc-key\n", "abc-key\r\n", " abc-key", "\tabc-key \n"])
def test_an_api_key_loses_surrounding_whitespace(padded: str) -> None:
    # A header value never carries surrounding whitespace (RFC 9110 §5.5): no key can hold it,
    # and a mounted secret file often ends in a newline.
    key = timeplus("api_key: '${K}'", K=padded).timeplus.api_key
    assert key is not None and key.reveal() == "abc-key"


def test_a_password_loses_surrounding_whitespace() -> None:
    password = timeplus("username: alice, password: '${P}'", P="s3cret-pw\n").timeplus.password
    assert password is not None and password.reveal() == "s3cret-pw"


@pytest.mark.parametrize("key", ["abc\ndef-key", "abc\x00def-key", "ключ-abcdef", "abc\x7fdef-key"])
def test_an_api_key_no_header_can_carry_is_refused_without_showing_it(key: str) -> None:
    found = problems(KAFKA + "timeplus: {url: 'http://tp:3218', api_key: '${K}'}\n" + ONE_MAPPING, K=key)
    assert len(found) == 1 and found[0].startswith("timeplus.api_key: "), found
    assert "def-key" not in found[0] and "abcdef" not in found[0]


MARK_A, MARK_B = "ZQXJ", "JXQZ"  # never part of a message unless a value is echoed
padding = st.sampled_from(["", " ", "\n", "\r\n", "\t", " \n", "\n\n"])


@settings(max_examples=300, deadline=None)
@given(before=padding, middle=st.text(max_size=20), after=padding, field=st.sampled_from(["api_key", "password"]))
def test_a_secret_is_never_shown_by_a_config_error_or_repr(before: str, middle: str, after: str, field: str) -> None:
    secret = before + MARK_A + middle + MARK_B + after
    auth = "api_key: '${S}'" if field == "api_key" else "username: alice, password: '${S}'"
    text = textwrap.dedent(
        f"""
        kafka: {{bootstrap.servers: 'k:9092', sasl.password: '${{S}}'}}
        timeplus: {{url: 'http://tp:3218', {auth}}}
        mappings: [{{topic: a, stream: a, columns: {{v: value}}}}]
        """
    )
    try:
        config = parse_config(text, env={"S": secret})
    except ConfigError as exc:
        shown = str(exc) + repr(exc)
    else:
        stored = config.timeplus.api_key if field == "api_key" else config.timeplus.password
        assert stored is not None and stored.reveal() == secret.strip()
        shown = repr(config) + str(config.timeplus) + repr(config.mappings)
    assert MARK_A not in shown and MARK_B not in shown
    # With another field wrong, the error lists that field, and still not the secret.
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace("url: 'http://tp:3218'", "url: 'http://tp:3218', timeout_s: nope"), env={"S": secret})
    assert any(p.startswith("timeplus.timeout_s") for p in info.value.problems)
    assert MARK_A not in str(info.value) and MARK_B not in str(info.value)


# -- 2. a mapping that would read its own dead letters ----------------------------------------------------------------


def test_a_pattern_that_reads_its_own_dead_letter_topic_is_refused() -> None:
    found = problems(
        KAFKA + TIMEPLUS + "mappings: [{topic_pattern: '^orders\\..*', stream: o, dlq_topic: orders.dlq, "
        "columns: {v: value}}]\n"
    )
    assert len(found) == 1 and found[0].startswith("mappings[0].dlq_topic: "), found
    assert "orders.dlq" in found[0] and "mappings[0]" in found[0] and "loop" in found[0]


def test_a_listed_topic_that_is_the_dead_letter_topic_is_refused() -> None:
    found = problems(
        KAFKA + TIMEPLUS + "mappings: [{topics: [a, a.dlq], stream: a, dlq_topic: a.dlq, columns: {v: value}}]\n"
    )
    assert len(found) == 1 and found[0].startswith("mappings[0].dlq_topic: "), found


def test_dead_letters_that_come_back_through_another_mapping_are_refused() -> None:
    mappings = """
        mappings:
          - {topic: a, stream: s1, dlq_topic: b, columns: {v: value}}
          - {topic: b, stream: s2, dlq_topic: a, columns: {v: value}}
    """
    found = problems(KAFKA + TIMEPLUS + textwrap.dedent(mappings))
    assert found and all("loop" in p for p in found), found
    assert found[0].startswith("mappings[0].dlq_topic: ") and "mappings[1]" in found[0]


def test_a_mapping_may_read_another_mappings_dead_letters() -> None:
    # A stream of dead letters is legitimate, as long as its own failures go elsewhere.
    mappings = """
        mappings:
          - {topic: a, stream: s1, dlq_topic: a.dlq, columns: {v: value}}
          - {topic: a.dlq, stream: letters, format: bytes, on_error: fail, columns: {raw: value}}
    """
    config = parse(KAFKA + TIMEPLUS + textwrap.dedent(mappings))
    assert [m.stream for m in config.mappings] == ["s1", "letters"]


def readme_example() -> str:
    readme = Path(__file__).parents[2].joinpath("README.md").read_text()
    block = readme.split("## Configuration", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    return block


def test_the_readme_example_with_its_topic_pattern_does_not_loop() -> None:
    block = readme_example()
    pattern = re.search(r"topic_pattern: ('[^']*')", block)
    assert pattern is not None, "the README names a topic_pattern alternative"
    with_pattern = re.sub(r"- topic: \S+", f"- topic_pattern: {pattern.group(1)}", block, count=1)
    assert with_pattern != block
    for text in (block, with_pattern):
        config = parse_config(text, env={})
        mapping = config.mappings[0]
        assert mapping.dlq_topic is not None and not mapping.matches(mapping.dlq_topic), text


# -- 3. topic names and patterns both engines read alike --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [("^t\\d+", "write [0-9]"), ("^(?:a|b)", "(?...)"), ("^a.*?b", "lazy"), ("^[\\.]x", "backslash inside")],
)
def test_a_pattern_librdkafka_reads_otherwise_is_refused(pattern: str, hint: str) -> None:
    found = problems(
        KAFKA + TIMEPLUS + f"mappings: [{{topic_pattern: '{pattern}', stream: a, columns: {{v: value}}}}]\n"
    )
    assert len(found) == 1 and found[0].startswith("mappings[0].topic_pattern: ") and hint in found[0], found


@pytest.mark.parametrize(
    ("mapping", "path"),
    [
        ("{topic: '^orders', stream: a, columns: {v: value}}", "mappings[0].topic"),
        ("{topics: [a, 'b c'], stream: a, columns: {v: value}}", "mappings[0].topics[1]"),
        ("{topic: a, dlq_topic: 'dead letters', stream: a, columns: {v: value}}", "mappings[0].dlq_topic"),
    ],
)
def test_a_topic_name_kafka_cannot_hold_is_refused(mapping: str, path: str) -> None:
    # A listed name starting with ^ would be subscribed as a regex by librdkafka, and matched literally here.
    found = problems(KAFKA + TIMEPLUS + f"mappings: [{mapping}]\n")
    assert len(found) == 1 and found[0].startswith(f"{path}: ") and "topic name" in found[0], found


def test_portable_patterns_keep_their_subscription_form() -> None:
    config = parse(
        KAFKA + TIMEPLUS + "mappings: [{topic_pattern: '^orders-(eu|us)-[0-9]+$', stream: a, columns: {v: value}},"
        " {topic_pattern: 'logs', stream: b, columns: {v: value}}]\n"
    )
    assert config.subscription() == ["^orders-(eu|us)-[0-9]+$", "^.*logs"]


# -- 4. unquoted booleans in kafka: ------------------------------------------------------------------------------------


def test_unquoted_kafka_booleans_become_librdkafka_strings() -> None:
    config = parse(
        "kafka: {bootstrap.servers: 'k:9092', enable.ssl.certificate.verification: false, "
        "socket.keepalive.enable: true, enable.partition.eof: no, session.timeout.ms: 45000, linger.ms: 0.5}\n"
        + TIMEPLUS
        + ONE_MAPPING
    )
    assert config.kafka["enable.ssl.certificate.verification"] == "false"
    assert config.kafka["socket.keepalive.enable"] == "true"
    assert config.kafka["enable.partition.eof"] == "false"
    assert config.kafka["session.timeout.ms"] == "45000" and config.kafka["linger.ms"] == "0.5"


@pytest.mark.parametrize("prop", ["enable.auto.commit", "enable.auto.offset.store"])
@pytest.mark.parametrize("value", ["true", "'true'", "'1'"])
def test_a_property_the_connector_owns_says_so(prop: str, value: str) -> None:
    found = problems(f"kafka: {{bootstrap.servers: 'k:9092', {prop}: {value}}}\n" + TIMEPLUS + ONE_MAPPING)
    assert len(found) == 1 and found[0].startswith(f"kafka.{prop}: ") and "managed by the connector" in found[0], found


@pytest.mark.parametrize("value", ["false", "'false'"])
def test_the_owned_property_set_as_the_connector_sets_it_is_accepted(value: str) -> None:
    parse(f"kafka: {{bootstrap.servers: 'k:9092', enable.auto.commit: {value}}}\n" + TIMEPLUS + ONE_MAPPING)


# -- 5. YAML keys stay strings; a repeated key is an error ------------------------------------------------------------


def test_column_names_yaml_1_1_would_turn_into_booleans() -> None:
    config = parse(KAFKA + TIMEPLUS + "mappings: [{topic: a, stream: a, columns: {on: value.on, off: value.off, "
                   "yes: value.yes, no: value.no, 1: value.one}}]\n")  # fmt: skip
    assert [c.name for c in config.mappings[0].columns] == ["on", "off", "yes", "no", "1"]
    assert [c.path for c in config.mappings[0].columns] == [("on",), ("off",), ("yes",), ("no",), ("one",)]


def test_a_repeated_key_is_an_error_with_path_and_lines() -> None:
    found = problems(
        KAFKA
        + TIMEPLUS
        + """\
mappings:
  - topic: a
    stream: a
    columns:
      id: value.id
      id: value.other
"""
    )
    assert found == ["<config>:8: mappings[0].columns.id: key given twice (first at line 7)"]


# -- 6. ${VAR} forms ---------------------------------------------------------------------------------------------------


def test_posix_default_forms_are_substituted() -> None:
    config = parse(
        "kafka: {bootstrap.servers: 'k:9092', group.id: '${G-fallback-group}', client.id: '${A:-${B}}'}\n"
        + TIMEPLUS
        + ONE_MAPPING,
        B="from-b",
    )
    assert config.kafka["group.id"] == "fallback-group"
    assert config.kafka["client.id"] == "from-b"


@pytest.mark.parametrize("form", ["${G:=x}", "${#G}", "${G", "${G%x}"])
def test_an_unsupported_form_is_an_error_naming_the_field(form: str) -> None:
    found = problems(f"kafka: {{bootstrap.servers: 'k:9092', group.id: '{form}'}}\n" + TIMEPLUS + ONE_MAPPING, G="g")
    assert len(found) == 1 and found[0].startswith("kafka.group.id: "), found


def test_the_plain_forms_still_work() -> None:
    config = parse("kafka: {bootstrap.servers: '${B:-k:9092}', group.id: '${G}'}\n" + TIMEPLUS + ONE_MAPPING, G="g1")
    assert (config.kafka["bootstrap.servers"], config.kafka["group.id"]) == ("k:9092", "g1")


# -- 7. timeplus.url ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"), [("HTTPS://tp.example:443", "https://tp.example:443"), ("Http://tp:3218/", "http://tp:3218")]
)
def test_an_uppercase_scheme_is_accepted(url: str, expected: str) -> None:
    assert parse(KAFKA + f"timeplus: {{url: '{url}'}}\n" + ONE_MAPPING).timeplus.url == expected


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://admin:s3cretpw@tp",
        "ftp://admin:s3cretpw@tp",
        "https://admin:s3cr/etpw@tp",
        "https://admin:s3cretpw@",
        "https:// admin:s3cretpw@tp",
        "https://tp:3218/?api_key=s3cretpw",
        "https://tp:3218/#s3cretpw",
        "s3cretpw",
    ],
)
def test_a_url_error_never_echoes_a_password(url: str) -> None:
    found = problems(KAFKA + f"timeplus: {{url: '{url}'}}\n" + ONE_MAPPING)
    assert len(found) == 1 and found[0].startswith("timeplus.url: "), found
    assert "s3cr" not in found[0] and "etpw" not in found[0], found


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "HTTPS", "ftp", "", "hTtP"]),
    user=st.text(alphabet="abc", max_size=4),
    password=st.text(min_size=1, max_size=12).map(lambda p: MARK_A + p + MARK_B),
    rest=st.sampled_from(["@tp", "@tp:3218", "@", "@tp/path", "@tp:99999", "@[::1"]),
)
def test_no_url_error_shows_the_password_in_it(scheme: str, user: str, password: str, rest: str) -> None:
    url = f"{scheme}://{user}:{password}{rest}" if scheme else f"{user}:{password}{rest}"
    with pytest.raises(ConfigError) as info:
        parse_config(KAFKA + "timeplus: {url: '${U}'}\n" + ONE_MAPPING, env={"U": url})
    assert MARK_A not in str(info.value) and MARK_B not in str(info.value)
    assert [p.split(":", 1)[0] for p in info.value.problems] == ["timeplus.url"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://tp:99999", "port"),
        ("http://tp:abc", "port"),
        ("http://", "host"),
    ],
)
def test_a_url_requests_could_not_use_is_refused_at_start(url: str, problem: str) -> None:
    found = problems(KAFKA + f"timeplus: {{url: '{url}'}}\n" + ONE_MAPPING)
    assert len(found) == 1 and found[0].startswith("timeplus.url: ") and problem in found[0], found
